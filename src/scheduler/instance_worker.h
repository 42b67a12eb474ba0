// InstanceWorker: the one thread that owns a model instance and its device stream. It pulls
// batches from its model's queue, merges their inputs, runs them on the instance (all on the
// stream, waiting for it alone), splits the outputs back to each request and fires their
// completions. A failed batch fails only its own requests.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "backend/backend.h"
#include "device/device_set.h"
#include "device/device_stream.h"
#include "scheduler/model_queue.h"
#include "scheduler/model_stats.h"

namespace tandem {

class InstanceWorker {
 public:
  // Starts the worker thread. `queue`, `stats` and `devices` (which holds the instance's device)
  // must outlive the worker. `batched`: the model has a batch dimension, so jobs merge and
  // split along dim 0.
  InstanceWorker(std::string name, std::unique_ptr<Instance> instance, bool batched,
                 ModelQueue& queue, ModelStats& stats, const DeviceSet& devices);
  // Joins the thread. REQUIRES: the queue was closed, else this waits for it to be.
  ~InstanceWorker();
  // Waits until the worker has drained its closed queue and stopped. Idempotent; call from
  // the control thread only.
  void Join();

  InstanceWorker(const InstanceWorker&) = delete;
  InstanceWorker& operator=(const InstanceWorker&) = delete;

  const std::string& name() const { return name_; }
  Device device() const { return device_; }
  uint64_t inference_count() const { return inference_count_.load(); }
  uint64_t execution_count() const { return execution_count_.load(); }
  Instance::GraphCounts cuda_graphs() const { return instance_->cuda_graphs(); }

 private:
  void Run();
  void RunBatch(std::vector<std::unique_ptr<InferJob>> jobs);

  const std::string name_;
  const std::unique_ptr<Instance> instance_;  // used only by thread_, but for its counters
  const Device device_;
  const bool batched_;
  ModelQueue& queue_;
  ModelStats& stats_;
  const DeviceSet& devices_;
  DeviceStream stream_;  // used only by thread_
  std::atomic<uint64_t> inference_count_{0};
  std::atomic<uint64_t> execution_count_{0};
  std::thread thread_;  // started last, once the object is complete
};

}  // namespace tandem
