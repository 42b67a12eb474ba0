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
    lone_arrivals_ =
        ArrivesAlone(*job) ? std::min(lone_arrivals_ + 1, DynamicBatcher::kLoneArrivals) : 0;
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

bool ModelQueue::ArrivesAlone(const InferJob& job) const {
  if (!jobs_.empty()) return false;
  for (const auto& [device, idle] : idle_workers_) {
    if (idle > 0 && (!job.device || *job.device == device)) return true;
  }
  return false;
}

std::vector<std::unique_ptr<InferJob>> ModelQueue::PopBatch(Device device) {
  std::unique_lock lock(mu_);
  ++idle_workers_[device];
  while (true) {
    const SteadyClock::time_point now = SteadyClock::now();
    std::vector<std::unique_ptr<InferJob>> expired;
    TakeExpired(now, expired);
    if (!expired.empty()) {
      // Answered outside the lock; then look again.
      lock.unlock();
      for (auto& job : expired) {
        job->done(Status(StatusCode::kDeadlineExceeded,
                         "the request waited in the queue of model '" + name_ +
                             "' past its deadline (parameters.timeout or default_timeout_us)"));
      }
      lock.lock();
      continue;
    }
    std::vector<const InferJob*> eligible;
    for (const auto& job : jobs_) {
      if (!job->device || *job->device == device) eligible.push_back(job.get());
    }
    if (eligible.empty()) {
      if (closed_) {  // closed, and nothing left for this device
        --idle_workers_[device];
        return {};
      }
      changed_.wait(lock);
      continue;
    }
    // Once closed nothing more will arrive, so waiting for a fuller batch is pointless.
    const DynamicBatcher::Decision decision =
        batcher_.Decide(eligible, closed_ ? SteadyClock::time_point::max() : now, lone_arrivals_);
    if (decision.take == 0) {
      changed_.wait_until(lock, decision.wake_at);
      continue;
    }
    // The chosen jobs keep their order; move them out of the queue.
    std::vector<std::unique_ptr<InferJob>> batch;
    eligible.resize(decision.take);
    for (auto it = jobs_.begin(); it != jobs_.end() && batch.size() < decision.take;) {
      if (std::find(eligible.begin(), eligible.end(), it->get()) != eligible.end()) {
        batch.push_back(std::move(*it));
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    --idle_workers_[device];
    // More work may be waiting for other idle workers.
    if (!jobs_.empty()) changed_.notify_all();
    return batch;
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
