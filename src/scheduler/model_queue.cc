#include "scheduler/model_queue.h"

#include <algorithm>

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
  // Every waiting worker looks: the job may be meant for one device only.
  changed_.notify_all();
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

std::vector<std::unique_ptr<InferJob>> ModelQueue::PopBatch(Device device) {
  while (true) {
    std::vector<std::unique_ptr<InferJob>> expired;
    std::vector<std::unique_ptr<InferJob>> batch;
    {
      std::unique_lock lock(mu_);
      while (true) {
        const SteadyClock::time_point now = SteadyClock::now();
        TakeExpired(now, expired);
        if (!expired.empty()) break;  // answered below, outside the lock
        std::vector<const InferJob*> eligible;
        for (const auto& job : jobs_) {
          if (!job->device || *job->device == device) eligible.push_back(job.get());
        }
        if (eligible.empty()) {
          if (closed_) return batch;  // closed, and nothing left for this device
          changed_.wait(lock);
          continue;
        }
        // Once closed nothing more will arrive, so waiting for a fuller batch is pointless.
        DynamicBatcher::Decision decision =
            batcher_.Decide(eligible, closed_ ? SteadyClock::time_point::max() : now);
        if (decision.take > 0) {
          // The chosen jobs keep their order; move them out of the queue.
          eligible.resize(decision.take);
          for (auto it = jobs_.begin(); it != jobs_.end() && batch.size() < decision.take;) {
            if (std::find(eligible.begin(), eligible.end(), it->get()) != eligible.end()) {
              batch.push_back(std::move(*it));
              it = jobs_.erase(it);
            } else {
              ++it;
            }
          }
          break;
        }
        changed_.wait_until(lock, decision.wake_at);
      }
      // More work may be waiting for other idle workers.
      if (!jobs_.empty()) changed_.notify_all();
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
