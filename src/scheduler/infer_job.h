// InferJob: one request's work for one model, as the scheduler sees it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace tandem {

using SteadyClock = std::chrono::steady_clock;

struct InferJob {
  // The inputs in the model config's order, already validated against it. For a batched model
  // every input has the same batch size (dim 0).
  std::vector<Tensor> inputs;
  // Batch items this request carries: dim 0 of its inputs for a batched model, else 1.
  int64_t batch_size = 1;
  SteadyClock::time_point enqueued = SteadyClock::now();
  // Set: only an instance on this device may run the job (a pipeline keeping a request on one
  // device). Unset: any instance.
  std::optional<Device> device;
  // The request is dropped unrun, with DEADLINE_EXCEEDED, if it is still queued at this time.
  std::optional<SteadyClock::time_point> deadline;
  // Called exactly once, with the outputs in config order or the reason for failure: on the
  // worker thread that ran the job, or on the thread that found it expired.
  std::function<void(StatusOr<std::vector<Tensor>>)> done;

  // True when this job can share a batch with `other`: every input has the same shape
  // after the batch dimension.
  bool MergesWith(const InferJob& other) const;
};

}  // namespace tandem
