// InstanceWorker: the one thread that owns a model instance. It pulls jobs from its model's
// queue, runs them on the instance and fires their completions.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "backend/backend.h"
#include "scheduler/model_queue.h"

namespace tandem {

class InstanceWorker {
 public:
  // Starts the worker thread. `queue` must outlive the worker.
  InstanceWorker(std::string name, std::unique_ptr<Instance> instance, ModelQueue& queue);
  // Joins the thread. REQUIRES: the queue was closed, else this waits for it to be.
  ~InstanceWorker();

  InstanceWorker(const InstanceWorker&) = delete;
  InstanceWorker& operator=(const InstanceWorker&) = delete;

  const std::string& name() const { return name_; }
  Device device() const { return instance_->device(); }

 private:
  void Run();

  const std::string name_;
  const std::unique_ptr<Instance> instance_;  // used only by thread_
  ModelQueue& queue_;
  std::thread thread_;  // started last, once the object is complete
};

}  // namespace tandem
