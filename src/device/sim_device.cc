#include "device/sim_device.h"

#include <thread>

namespace tandem {

void SimDevice::Run(std::chrono::nanoseconds duration) {
  std::lock_guard lock(mu_);
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_until(start + duration);
  busy_ns_ += (std::chrono::steady_clock::now() - start).count();
}

void SimDevice::Copy(size_t bytes) {
  // GB/s = bytes per nanosecond.
  Run(std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(bytes) / copy_gbps_)));
}

}  // namespace tandem
