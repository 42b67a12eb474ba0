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
  // The inputs in the model config's order, already validated against it.
  std::vector<Tensor> inputs;
  // Called exactly once, on the worker thread that ran the job (or on the thread that
  // rejected it), with the outputs in config order or the reason for failure.
  std::function<void(StatusOr<std::vector<Tensor>>)> done;
  SteadyClock::time_point enqueued = SteadyClock::now();
};

}  // namespace tandem
