// SimDevice: a simulated GPU (docs/design/architecture.md §6), so scheduling, batching and
// placement can be tested and benchmarked at 8 "GPUs" on a machine with none.
//
// It runs one kernel at a time: Run(d) waits until the device is free, then holds it for d of
// wall time on a timer. The calling thread sleeps; no CPU is burnt, so eight sim devices on a
// 2-core machine behave like eight devices. Copy(bytes) holds the device for bytes / copy_gbps.
//
// Thread contract: every method is thread-safe; kernels from any number of instances on this
// device serialise on mu_.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>

namespace tandem {

class SimDevice {
 public:
  SimDevice(int index, double copy_gbps) : index_(index), copy_gbps_(copy_gbps) {}
  SimDevice(const SimDevice&) = delete;
  SimDevice& operator=(const SimDevice&) = delete;

  int index() const { return index_; }
  double copy_gbps() const { return copy_gbps_; }

  // Occupies the device for `duration` once it is free.
  void Run(std::chrono::nanoseconds duration);

  // Occupies the device for the time `bytes` take at copy_gbps (a tensor crossing devices).
  void Copy(size_t bytes);

  // Wall time this device has spent occupied since start-up.
  std::chrono::nanoseconds busy_time() const { return std::chrono::nanoseconds(busy_ns_.load()); }

 private:
  const int index_;
  const double copy_gbps_;
  std::mutex mu_;  // held for the whole of a kernel or copy: one at a time
  std::atomic<int64_t> busy_ns_{0};
};

}  // namespace tandem
