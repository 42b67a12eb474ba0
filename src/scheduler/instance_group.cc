#include "scheduler/instance_group.h"

#include <algorithm>

namespace tandem {
namespace {

BatchingOptions BatchingOf(const ModelConfig& config) {
  BatchingOptions b;
  b.max_batch_size = config.max_batch_size;
  if (config.dynamic_batching) {
    b.enabled = true;
    b.preferred_batch_sizes = config.dynamic_batching->preferred_batch_sizes;
    b.max_queue_delay = std::chrono::microseconds(config.dynamic_batching->max_queue_delay_us);
  }
  return b;
}

size_t QueueLimitOf(const ModelConfig& config) {
  return config.dynamic_batching ? config.dynamic_batching->max_queue_size : 0;
}

}  // namespace

InstanceGroup::InstanceGroup(std::shared_ptr<const ModelConfig> config, int64_t version,
                             std::vector<std::unique_ptr<Instance>> instances,
                             const DeviceSet& devices)
    : Servable(std::move(config), version),
      queue_(this->config().name, BatchingOf(this->config()), QueueLimitOf(this->config())) {
  const ModelConfig& c = this->config();
  for (size_t i = 0; i < instances.size(); ++i) {
    weight_bytes_[instances[i]->device()] += instances[i]->weight_bytes();
    const std::string device = instances[i]->device().ToString();
    std::string name = version > 0 ? c.name + "/" + std::to_string(version) + "/" + device + "#" +
                                         std::to_string(i)
                                   : c.name + "/" + device;
    workers_.push_back(std::make_unique<InstanceWorker>(std::move(name), std::move(instances[i]),
                                                        c.batched(), queue_, stats(), devices));
  }
}

InstanceGroup::~InstanceGroup() { Stop(); }

std::vector<Device> InstanceGroup::devices() const {
  std::vector<Device> out;
  for (const auto& worker : workers_) {
    if (std::find(out.begin(), out.end(), worker->device()) == out.end()) {
      out.push_back(worker->device());
    }
  }
  return out;
}

Status InstanceGroup::Start(std::vector<Tensor> inputs, const Options& options,
                            std::function<void(StatusOr<std::vector<Tensor>>)> done) {
  auto job = std::make_unique<InferJob>();
  job->inputs = std::move(inputs);
  job->batch_size = config().batched() ? job->inputs.front().shape()[0] : 1;
  job->deadline = options.deadline;
  job->device = options.device;
  job->done = std::move(done);
  // A refused job is dropped unrun, its callback uncalled.
  return queue_.Enqueue(std::move(job));
}

void InstanceGroup::Stop() {
  queue_.Close();
  for (auto& worker : workers_) worker->Join();
}

}  // namespace tandem
