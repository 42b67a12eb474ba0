#include "scheduler/model_stats.h"

namespace tandem {

void ModelStats::RecordRequest(bool ok, std::chrono::nanoseconds total) {
  std::lock_guard lock(mu_);
  (ok ? stats_.success : stats_.fail).Add(total);
}

void ModelStats::RecordBatch(const std::vector<std::chrono::nanoseconds>& queued, int64_t items,
                             std::chrono::nanoseconds input, std::chrono::nanoseconds infer,
                             std::chrono::nanoseconds output) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::lock_guard lock(mu_);
  stats_.last_inference_ms = static_cast<uint64_t>(now_ms.count());
  stats_.inference_count += static_cast<uint64_t>(items);
  stats_.execution_count += 1;
  for (std::chrono::nanoseconds q : queued) {
    stats_.queue.Add(q);
    stats_.compute_input.Add(input);
    stats_.compute_infer.Add(infer);
    stats_.compute_output.Add(output);
  }
  stats_.batch_compute_infer[items].Add(infer);
}

ModelStatsSnapshot ModelStats::Snapshot() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace tandem
