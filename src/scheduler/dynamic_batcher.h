// DynamicBatcher: the policy that decides when queued requests run, and which together.
// Pure: no threads, no clock of its own. ModelQueue asks it, under its lock, with the time
// "now", so the policy is unit-tested with any clock.
//
// A batch is a prefix of the queue (requests keep their order) whose requests merge (equal
// shapes after the batch dimension) and whose batch sizes sum to at most max_batch_size. It runs
//   - at once, when it reaches max_batch_size or the largest preferred batch size (trimmed to
//     the longest prefix that is exactly a preferred size, if there is one);
//   - at once, when the next queued request cannot join it (so waiting cannot grow it);
//   - at once, when one of its requests has a deadline before the batching delay ends;
//   - otherwise when its oldest request has waited max_queue_delay.
// Without dynamic batching every request runs alone, at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "scheduler/infer_job.h"

namespace tandem {

struct BatchingOptions {
  bool enabled = false;  // model.yaml has dynamic_batching
  int64_t max_batch_size = 0;
  std::vector<int64_t> preferred_batch_sizes;
  std::chrono::microseconds max_queue_delay{0};
};

class DynamicBatcher {
 public:
  explicit DynamicBatcher(BatchingOptions options);

  struct Decision {
    size_t take = 0;  // > 0: run the first `take` queued jobs now, as one batch
    // take == 0: decide again at this time, or sooner if a job arrives.
    SteadyClock::time_point wake_at;
  };

  // `queue`: the jobs the asking instance may run, oldest first. REQUIRES: not empty.
  // `now` is the current time.
  Decision Decide(const std::vector<const InferJob*>& queue, SteadyClock::time_point now) const;

  const BatchingOptions& options() const { return options_; }

 private:
  const BatchingOptions options_;
  const int64_t largest_preferred_;  // 0 when there are none
};

}  // namespace tandem
