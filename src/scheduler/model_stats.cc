#include "scheduler/model_stats.h"

namespace tandem {

namespace {

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

uint64_t UnixMillisNow() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

void ModelStats::RecordRequest(const Status& outcome,
                               std::optional<std::chrono::nanoseconds> total) {
  if (total) request_seconds_.Observe(Seconds(*total));
  std::lock_guard lock(mu_);
  const std::chrono::nanoseconds time = total.value_or(std::chrono::nanoseconds(0));
  if (outcome.ok()) {
    stats_.success.Add(time);
  } else {
    stats_.fail.Add(time);
    ++stats_.failures[outcome.code()];
  }
}

void ModelStats::RecordBatch(const std::vector<std::chrono::nanoseconds>& queued, int64_t items,
                             std::chrono::nanoseconds input, std::chrono::nanoseconds infer,
                             std::chrono::nanoseconds output) {
  const uint64_t now_ms = UnixMillisNow();
  batch_size_.Observe(static_cast<double>(items));
  for (std::chrono::nanoseconds q : queued) {
    queue_seconds_.Observe(Seconds(q));
    compute_seconds_.Observe(Seconds(input + infer + output));
  }
  std::lock_guard lock(mu_);
  stats_.last_inference_ms = now_ms;
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

void ModelStats::RecordRun(std::chrono::nanoseconds run) {
  const uint64_t now_ms = UnixMillisNow();
  std::lock_guard lock(mu_);
  stats_.last_inference_ms = now_ms;
  stats_.inference_count += 1;
  stats_.execution_count += 1;
  stats_.queue.Add(std::chrono::nanoseconds(0));
  stats_.compute_input.Add(std::chrono::nanoseconds(0));
  stats_.compute_infer.Add(run);
  stats_.compute_output.Add(std::chrono::nanoseconds(0));
}

ModelStatsSnapshot ModelStats::Snapshot() const {
  ModelStatsSnapshot snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = stats_;
  }
  snapshot.in_flight = in_flight_.load();
  snapshot.queue_seconds = queue_seconds_.Read();
  snapshot.compute_seconds = compute_seconds_.Read();
  snapshot.request_seconds = request_seconds_.Read();
  snapshot.batch_size = batch_size_.Read();
  return snapshot;
}

}  // namespace tandem
