#include "scheduler/dynamic_batcher.h"

#include <algorithm>

namespace tandem {

DynamicBatcher::DynamicBatcher(BatchingOptions options)
    : options_(std::move(options)),
      largest_preferred_(options_.preferred_batch_sizes.empty()
                             ? 0
                             : *std::max_element(options_.preferred_batch_sizes.begin(),
                                                 options_.preferred_batch_sizes.end())) {}

DynamicBatcher::Decision DynamicBatcher::Decide(const std::vector<const InferJob*>& queue,
                                                SteadyClock::time_point now,
                                                int lone_arrivals) const {
  if (!options_.enabled) return {1, now};

  const InferJob& head = *queue.front();
  const SteadyClock::time_point batch_deadline = head.enqueued + options_.max_queue_delay;
  int64_t total = head.batch_size;
  size_t count = 1;
  bool blocked = false;  // the next job cannot join this batch
  bool urgent = head.deadline && *head.deadline <= batch_deadline;
  // sizes[i]: the batch size of the first i + 1 jobs.
  std::vector<int64_t> sizes = {total};
  while (count < queue.size()) {
    const InferJob& next = *queue[count];
    if (!next.MergesWith(head) || total + next.batch_size > options_.max_batch_size) {
      blocked = true;
      break;
    }
    total += next.batch_size;
    urgent |= next.deadline && *next.deadline <= batch_deadline;
    sizes.push_back(total);
    ++count;
  }

  if (largest_preferred_ > 0 && total >= largest_preferred_) {
    // The longest prefix that is exactly a preferred size, else the whole candidate batch.
    for (size_t n = count; n > 0; --n) {
      const auto& preferred = options_.preferred_batch_sizes;
      if (std::find(preferred.begin(), preferred.end(), sizes[n - 1]) != preferred.end()) {
        return {n, now};
      }
    }
    return {count, now};
  }
  const bool alone = lone_arrivals >= kLoneArrivals;
  if (total >= options_.max_batch_size || blocked || urgent || alone || now >= batch_deadline) {
    return {count, now};
  }
  return {0, batch_deadline};
}

}  // namespace tandem
