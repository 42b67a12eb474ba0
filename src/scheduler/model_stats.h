// ModelStats: what a model version (or a pipeline, or one step of a pipeline) has done: the v2
// statistics extension's counts and times (docs/protocols.md), and what /metrics adds to them:
// failures by reason, latency and batch-size histograms, requests in flight.
//
// Thread contract: thread-safe. Workers record batches, the engine and pipeline executors record
// request outcomes, I/O threads take snapshots.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "core/status.h"
#include "metrics/histogram.h"

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

  std::map<StatusCode, uint64_t> failures;  // failed requests by reason
  int64_t in_flight = 0;                    // requests admitted and not yet answered
  HistogramSnapshot queue_seconds;          // per request: time queued
  HistogramSnapshot compute_seconds;        // per request: its batch's merge + run + split
  HistogramSnapshot request_seconds;        // per admitted request: admission to answer
  HistogramSnapshot batch_size;             // per execution: items in the batch
};

class ModelStats {
 public:
  // A request ended with `outcome`. `total`: its time from admission to answer, or nullopt for a
  // request refused before admission (bad input, full queue), which no latency includes.
  void RecordRequest(const Status& outcome, std::optional<std::chrono::nanoseconds> total);

  // Requests admitted and not yet answered: +1 at admission, -1 at the answer.
  void AddInFlight(int64_t delta) { in_flight_ += delta; }

  // One batch: the time each of its requests queued, its batch size (items), and its phases.
  void RecordBatch(const std::vector<std::chrono::nanoseconds>& queued, int64_t items,
                   std::chrono::nanoseconds input, std::chrono::nanoseconds infer,
                   std::chrono::nanoseconds output);

  // One request a pipeline answered. A pipeline has no queue or batches of its own (its steps'
  // are in their models' statistics): the request counts as one execution of one item, queued
  // for no time, its run (from its first step submitted to its last step done) as its
  // compute_infer, so v2 readers find a pipeline's counts consistent, as a model's are.
  void RecordRun(std::chrono::nanoseconds run);

  ModelStatsSnapshot Snapshot() const;

 private:
  mutable std::mutex mu_;
  ModelStatsSnapshot stats_;  // guarded by mu_; its histograms and in_flight stay empty
  std::atomic<int64_t> in_flight_{0};
  Histogram queue_seconds_{Histogram::LatencyBuckets()};
  Histogram compute_seconds_{Histogram::LatencyBuckets()};
  Histogram request_seconds_{Histogram::LatencyBuckets()};
  Histogram batch_size_{Histogram::SizeBuckets()};
};

}  // namespace tandem
