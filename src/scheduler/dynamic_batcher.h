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
//   - at once, when the model's requests arrive alone: each of the latest kLoneArrivals found no
//     request queued and an instance idle (one client waiting for each answer, say), so nothing
//     suggests company will come and waiting would only add the delay. One arrival that finds
//     the queue or the instances busy brings the waiting back;
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
  // Lone arrivals in a row after which a batch no longer waits for company. Several, so that a
  // request that happens to find the model idle (the first of a burst) does not switch off the
  // waiting that batches the rest.
  static constexpr int kLoneArrivals = 8;

  explicit DynamicBatcher(BatchingOptions options);

  struct Decision {
    size_t take = 0;  // > 0: run the first `take` queued jobs now, as one batch
    // take == 0: decide again at this time, or sooner if a job arrives.
    SteadyClock::time_point wake_at;
  };

  // `queue`: the jobs the asking instance may run, oldest first. REQUIRES: not empty.
  // `now` is the current time. `lone_arrivals`: how many of the model's latest requests in a
  // row arrived alone, finding no request queued and an instance idle (ModelQueue counts them).
  Decision Decide(const std::vector<const InferJob*>& queue, SteadyClock::time_point now,
                  int lone_arrivals = 0) const;

  const BatchingOptions& options() const { return options_; }

 private:
  const BatchingOptions options_;
  const int64_t largest_preferred_;  // 0 when there are none
};

}  // namespace tandem
