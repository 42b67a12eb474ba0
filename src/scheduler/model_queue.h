// ModelQueue: the queue of one model version. Instances pull batches from it, so an idle
// instance takes the next batch and load spreads over devices by itself
// (docs/design/architecture.md §1). The DynamicBatcher decides what a batch is; the queue enforces
// its size limit and deadlines.
//
// Thread contract: every method is thread-safe. Enqueue runs on I/O threads, PopBatch on
// instance workers, Close on the control thread. Job callbacks are never called under mu_.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/dynamic_batcher.h"
#include "scheduler/infer_job.h"

namespace tandem {

class ModelQueue {
 public:
  // `name` is used in messages; `max_size` 0 means unbounded.
  ModelQueue(std::string name, BatchingOptions batching, size_t max_size);

  // Adds a job. Fails, leaving the job unrun and its callback uncalled, with UNAVAILABLE when
  // the queue is full (the client should retry) or closed.
  Status Enqueue(std::unique_ptr<InferJob> job);

  // Blocks until a batch that an instance on `device` may run is ready and returns its jobs
  // (never empty), or returns an empty vector once the queue is closed and holds nothing for
  // `device`. Jobs whose deadline passed are failed with DEADLINE_EXCEEDED here and never
  // returned. REQUIRES (of whoever enqueues): a job's `device`, if set, has an instance.
  std::vector<std::unique_ptr<InferJob>> PopBatch(Device device);

  // Refuses new jobs. Queued jobs still run, without waiting for batching delays.
  void Close();

  size_t size() const;

 private:
  // Moves jobs whose deadline has passed out of jobs_. REQUIRES: mu_ held.
  void TakeExpired(SteadyClock::time_point now, std::vector<std::unique_ptr<InferJob>>& expired);
  // True when `job`, arriving now, finds no job queued and a worker that may run it idle.
  // REQUIRES: mu_ held.
  bool ArrivesAlone(const InferJob& job) const;

  const std::string name_;
  const DynamicBatcher batcher_;
  const size_t max_size_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<InferJob>> jobs_;  // guarded by mu_
  bool closed_ = false;                         // guarded by mu_
  // Workers inside PopBatch, by device: idle, or waiting for a batch to fill.
  std::map<Device, int> idle_workers_;  // guarded by mu_
  // The latest arrivals in a row that ArrivesAlone; DynamicBatcher::Decide reads it.
  int lone_arrivals_ = 0;  // guarded by mu_
};

}  // namespace tandem
