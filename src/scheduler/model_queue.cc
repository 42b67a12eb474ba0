#include "scheduler/model_queue.h"

namespace tandem {

ModelQueue::ModelQueue(std::string name, BatchingOptions batching, size_t max_size)
    : name_(std::move(name)), batcher_(std::move(batching)), max_size_(max_size) {}

Status ModelQueue::Enqueue(std::unique_ptr<InferJob> job) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Unavailable("model '" + name_ + "' is shutting down");
    if (max_size_ > 0 && jobs_.size() >= max_size_) {
      return Unavailable("the queue of model '" + name_ + "' is full (" +
                         std::to_string(max_size_) + " requests, max_queue_size); retry later");
    }
    jobs_.push_back(std::move(job));
  }
  changed_.notify_one();
  return Status::Ok();
}

void ModelQueue::TakeExpired(SteadyClock::time_point now,
                             std::vector<std::unique_ptr<InferJob>>& expired) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if ((*it)->deadline && *(*it)->deadline <= now) {
      expired.push_back(std::move(*it));
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<std::unique_ptr<InferJob>> ModelQueue::PopBatch() {
  while (true) {
    std::vector<std::unique_ptr<InferJob>> expired;
    std::vector<std::unique_ptr<InferJob>> batch;
    {
      std::unique_lock lock(mu_);
      while (true) {
        const SteadyClock::time_point now = SteadyClock::now();
        TakeExpired(now, expired);
        if (!expired.empty()) break;  // answered below, outside the lock
        if (jobs_.empty()) {
          if (closed_) return batch;  // closed and drained
          changed_.wait(lock);
          continue;
        }
        // Once closed nothing more will arrive, so waiting for a fuller batch is pointless.
        DynamicBatcher::Decision decision =
            batcher_.Decide(jobs_, closed_ ? SteadyClock::time_point::max() : now);
        if (decision.take > 0) {
          for (size_t i = 0; i < decision.take; ++i) {
            batch.push_back(std::move(jobs_.front()));
            jobs_.pop_front();
          }
          break;
        }
        changed_.wait_until(lock, decision.wake_at);
      }
      // More work may be waiting for another idle worker.
      if (!jobs_.empty()) changed_.notify_one();
    }
    for (auto& job : expired) {
      job->done(Status(StatusCode::kDeadlineExceeded,
                       "the request waited in the queue of model '" + name_ +
                           "' past its deadline (parameters.timeout or default_timeout_us)"));
    }
    if (!batch.empty()) return batch;
  }
}

void ModelQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  changed_.notify_all();
}

size_t ModelQueue::size() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace tandem
