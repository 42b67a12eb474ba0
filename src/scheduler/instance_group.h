// InstanceGroup: one queue and the instance workers that pull from it — a model version's
// instances, or an op step's — served as a Servable: Start queues a job, Stop closes the queue
// (queued jobs still run) and joins the workers.
//
// Thread contract: as Servable's; the workers are the group's own threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "device/device_set.h"
#include "scheduler/instance_worker.h"
#include "scheduler/model_queue.h"
#include "scheduler/servable.h"

namespace tandem {

class InstanceGroup : public Servable {
 public:
  // One worker thread for each of `instances` (loaded and warmed up), named
  // "<model>/<version>/<device>#<i>", or "<name>/<device>" for an op step (version 0).
  // `devices` must outlive the group.
  InstanceGroup(std::shared_ptr<const ModelConfig> config, int64_t version,
                std::vector<std::unique_ptr<Instance>> instances, const DeviceSet& devices);
  ~InstanceGroup() override;

  // The devices its instances are on, each once, in instance order.
  std::vector<Device> devices() const;
  const std::vector<std::unique_ptr<InstanceWorker>>& workers() const { return workers_; }
  // The bytes of weights its instances hold, by device (Instance::weight_bytes).
  const DeviceBytes& weight_bytes() const { return weight_bytes_; }
  size_t queue_depth() const { return queue_.size(); }

 protected:
  Status Start(std::vector<Tensor> inputs, const Options& options,
               std::function<void(StatusOr<std::vector<Tensor>>)> done) override;
  void Stop() override;

 private:
  ModelQueue queue_;
  DeviceBytes weight_bytes_;
  std::vector<std::unique_ptr<InstanceWorker>> workers_;  // after queue_: they use it
};

}  // namespace tandem
