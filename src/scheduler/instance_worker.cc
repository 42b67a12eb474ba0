#include "scheduler/instance_worker.h"

namespace tandem {

InstanceWorker::InstanceWorker(std::string name, std::unique_ptr<Instance> instance,
                               ModelQueue& queue)
    : name_(std::move(name)), instance_(std::move(instance)), queue_(queue) {
  thread_ = std::thread([this] { Run(); });
}

InstanceWorker::~InstanceWorker() {
  if (thread_.joinable()) thread_.join();
}

void InstanceWorker::Run() {
  while (std::unique_ptr<InferJob> job = queue_.Pop()) {
    job->done(instance_->Execute(job->inputs));
  }
}

}  // namespace tandem
