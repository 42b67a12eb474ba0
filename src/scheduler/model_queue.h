// ModelQueue: the queue of one model version. Instances pull from it, so an idle instance takes
// the next job and load spreads over devices by itself (DESIGN.md §1.2).
//
// Thread contract: every method is thread-safe. Enqueue runs on I/O threads, Pop on instance
// workers, Close on the control thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "scheduler/infer_job.h"

namespace tandem {

class ModelQueue {
 public:
  // Adds a job. Fails with UNAVAILABLE once the queue is closed; the job's `done` is not called
  // then, the caller still owns the failure.
  Status Enqueue(std::unique_ptr<InferJob> job);

  // Blocks until a job is available and returns it, or returns null once the queue is closed
  // and drained.
  std::unique_ptr<InferJob> Pop();

  // Refuses new jobs; jobs already queued are still handed out, then Pop returns null.
  void Close();

  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<InferJob>> jobs_;  // guarded by mu_
  bool closed_ = false;                         // guarded by mu_
};

}  // namespace tandem
