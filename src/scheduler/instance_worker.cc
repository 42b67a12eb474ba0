#include "scheduler/instance_worker.h"

#include "device/device_tensors.h"
#include "scheduler/batch_tensors.h"

namespace tandem {

InstanceWorker::InstanceWorker(std::string name, std::unique_ptr<Instance> instance, bool batched,
                               ModelQueue& queue, ModelStats& stats, const DeviceSet& devices)
    : name_(std::move(name)),
      instance_(std::move(instance)),
      device_(instance_->device()),
      batched_(batched),
      queue_(queue),
      stats_(stats),
      devices_(devices),
      stream_(device_) {
  thread_ = std::thread([this] { Run(); });
}

InstanceWorker::~InstanceWorker() { Join(); }

void InstanceWorker::Join() {
  if (thread_.joinable()) thread_.join();
}

void InstanceWorker::Run() {
  while (true) {
    std::vector<std::unique_ptr<InferJob>> jobs = queue_.PopBatch(device_);
    if (jobs.empty()) return;  // closed and drained
    RunBatch(std::move(jobs));
  }
}

void InstanceWorker::RunBatch(std::vector<std::unique_ptr<InferJob>> jobs) {
  auto fail_all = [&](const Status& status) {
    for (auto& job : jobs) job->done(status);
  };
  const SteadyClock::time_point start = SteadyClock::now();
  std::vector<std::chrono::nanoseconds> queued;
  std::vector<int64_t> sizes;
  int64_t items = 0;
  for (const auto& job : jobs) {
    queued.push_back(start - job->enqueued);
    sizes.push_back(job->batch_size);
    items += job->batch_size;
  }

  // On this instance's stream: bring every input to this device (an intermediate may come from
  // another one), merge (input k of the batch is input k of every job, one after another along
  // dim 0) and execute; then wait for that stream only. The outputs are complete afterwards, so
  // the next step may read them from any stream.
  SteadyClock::time_point merged = start;
  DeviceActivity& activity = devices_.activity(device_);
  bool executing = false;
  std::vector<Tensor> outputs;
  const Status run = stream_.Run([&]() -> Status {
    for (auto& job : jobs) {
      for (Tensor& input : job->inputs) {
        ASSIGN_OR_RETURN(input, BringTo(input, device_, devices_));
      }
    }
    std::vector<Tensor> inputs;
    const size_t input_count = jobs.front()->inputs.size();
    for (size_t k = 0; k < input_count; ++k) {
      std::vector<const Tensor*> parts;
      for (const auto& job : jobs) parts.push_back(&job->inputs[k]);
      ASSIGN_OR_RETURN(Tensor batch, ConcatBatch(parts));
      inputs.push_back(std::move(batch));
    }
    merged = SteadyClock::now();
    activity.Begin();
    executing = true;
    ASSIGN_OR_RETURN(outputs, instance_->Execute(inputs));
    return Status::Ok();
  });
  if (executing) activity.End();
  const SteadyClock::time_point executed = SteadyClock::now();
  if (!run.ok()) return fail_all(run);

  // Split: each job gets its own rows of every output.
  std::vector<std::vector<Tensor>> per_job(jobs.size());
  if (!batched_) {
    per_job[0] = std::move(outputs);
  } else {
    for (const Tensor& output : outputs) {
      auto pieces = SplitBatch(output, sizes);
      if (!pieces.ok()) return fail_all(pieces.status().WithContext("model instance " + name_));
      for (size_t j = 0; j < jobs.size(); ++j) per_job[j].push_back(std::move((*pieces)[j]));
    }
  }
  stats_.RecordBatch(queued, items, merged - start, executed - merged,
                     SteadyClock::now() - executed);
  inference_count_ += static_cast<uint64_t>(items);
  execution_count_ += 1;
  for (size_t j = 0; j < jobs.size(); ++j) jobs[j]->done(std::move(per_job[j]));
}

}  // namespace tandem
