#include "scheduler/model_queue.h"

namespace tandem {

Status ModelQueue::Enqueue(std::unique_ptr<InferJob> job) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Unavailable("the model is shutting down");
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return Status::Ok();
}

std::unique_ptr<InferJob> ModelQueue::Pop() {
  std::unique_lock lock(mu_);
  ready_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
  if (jobs_.empty()) return nullptr;
  std::unique_ptr<InferJob> job = std::move(jobs_.front());
  jobs_.pop_front();
  return job;
}

void ModelQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
}

size_t ModelQueue::size() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace tandem
