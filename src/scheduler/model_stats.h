// ModelStats: what a model version has done, in the shape of the v2 statistics extension
// (PROTOCOLS.md): request outcomes, time queued and computing, and executions per batch size.
//
// Thread contract: thread-safe. Workers record batches, the engine records request outcomes,
// I/O threads take snapshots.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace tandem {

struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
  void Add(std::chrono::nanoseconds d) {
    ++count;
    ns += static_cast<uint64_t>(d.count());
  }
};

struct ModelStatsSnapshot {
  uint64_t last_inference_ms = 0;  // Unix time of the last completed batch, in milliseconds
  uint64_t inference_count = 0;    // batch items computed
  uint64_t execution_count = 0;    // batches executed
  DurationStat success;            // requests answered, and their time from queue to answer
  DurationStat fail;               // requests failed (including expired and refused batches)
  DurationStat queue;              // per request: time waiting in the queue
  DurationStat compute_input;      // per request: merging its batch's inputs
  DurationStat compute_infer;      // per request: running its batch
  DurationStat compute_output;     // per request: splitting its batch's outputs
  std::map<int64_t, DurationStat> batch_compute_infer;  // per batch size: runs and their time
};

class ModelStats {
 public:
  void RecordRequest(bool ok, std::chrono::nanoseconds total);

  // One batch: the time each of its requests queued, its batch size (items), and its phases.
  void RecordBatch(const std::vector<std::chrono::nanoseconds>& queued, int64_t items,
                   std::chrono::nanoseconds input, std::chrono::nanoseconds infer,
                   std::chrono::nanoseconds output);

  ModelStatsSnapshot Snapshot() const;

 private:
  mutable std::mutex mu_;
  ModelStatsSnapshot stats_;  // guarded by mu_
};

}  // namespace tandem
