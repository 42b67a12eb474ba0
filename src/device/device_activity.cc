#include "device/device_activity.h"

namespace tandem {

void DeviceActivity::Begin() {
  std::lock_guard lock(mu_);
  if (running_++ == 0) since_ = Clock::now();
}

void DeviceActivity::End() {
  std::lock_guard lock(mu_);
  if (--running_ == 0) busy_ += Clock::now() - since_;
}

std::chrono::nanoseconds DeviceActivity::busy_time() const {
  std::lock_guard lock(mu_);
  return running_ > 0 ? busy_ + (Clock::now() - since_) : busy_;
}

}  // namespace tandem
