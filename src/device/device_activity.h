// DeviceActivity: how long a device has had at least one batch running on it, for the busy
// fraction /metrics reports. Workers bracket each batch with Begin/End; overlapping batches of
// several instances on one device count once.
//
// On a CUDA device this is the host's view: a batch counts from its launch until its worker has
// its outputs, so work still queued on the device after that is not counted. Simulated GPUs
// report their exact occupancy instead (SimDevice::busy_time).
//
// Thread contract: thread-safe.
#pragma once

#include <chrono>
#include <mutex>

namespace tandem {

class DeviceActivity {
 public:
  void Begin();
  void End();  // REQUIRES: a Begin before it
  // Busy time so far, including the running interval.
  std::chrono::nanoseconds busy_time() const;

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mu_;
  int running_ = 0;                   // guarded by mu_
  Clock::time_point since_;           // guarded by mu_; when running_ left 0
  std::chrono::nanoseconds busy_{0};  // guarded by mu_; finished intervals
};

}  // namespace tandem
