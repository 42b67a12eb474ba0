// DeviceSet: the devices this server may use, found once at start-up, and the mapping from a
// model's `instances:` entry to concrete devices.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "config/model_config.h"
#include "core/device.h"
#include "core/status.h"
#include "device/device_activity.h"
#include "device/sim_device.h"

namespace tandem {

struct DeviceOptions {
  std::vector<Device> allow;  // --devices: keep only these; empty: every device found
  int sim_gpus = 0;           // --sim-gpus: simulated GPUs sim:0..N-1
  double sim_copy_gbps = 25;  // --sim-copy-gbps: what a tensor crossing sim devices costs
};

class DeviceSet {
 public:
  // The CPU, `cuda_count` CUDA devices and the simulated GPUs of `options`, less those
  // `options.allow` leaves out. Naming a device that does not exist fails.
  static StatusOr<DeviceSet> Create(int cuda_count, const DeviceOptions& options);

  // The number of CUDA devices LibTorch sees on this host (0 without a GPU or driver).
  static int CountCudaDevices();

  const std::vector<Device>& all() const { return devices_; }
  // The devices of one kind (kCuda: the GPUs; kSim: the simulated GPUs).
  std::vector<Device> OfKind(Device::Kind kind) const;
  bool Contains(Device device) const;

  // The devices one `instances:` entry places instances on, for a backend whose accelerator is
  // `accelerator` (kCuda for LibTorch, kSim for the sim backend): auto = every such device,
  // else the CPU; gpu = every such device; cpu; sim; or an explicit list.
  StatusOr<std::vector<Device>> Resolve(const InstanceGroupConfig& group,
                                        Device::Kind accelerator) const;

  // The simulated GPU sim:index. REQUIRES: Contains(Device::Sim(index)). Sim devices are
  // thread-safe, so a const DeviceSet hands them out for use.
  SimDevice& sim(int index) const { return *sims_.at(index); }

  // The activity record of `device`, for workers to mark batches and /metrics to read.
  // REQUIRES: Contains(device). Thread-safe, like sim().
  DeviceActivity& activity(Device device) const;

  // Memory LibTorch's allocator holds on a CUDA device; nullopt where it is not known (CPU,
  // simulated GPUs).
  struct Memory {
    uint64_t allocated_bytes = 0;  // in tensors now
    uint64_t reserved_bytes = 0;   // held by the caching allocator, allocated or not
  };
  static std::optional<Memory> MemoryOf(Device device);
  // The memory `device` has: a GPU's, or the host's for the CPU (HostMemoryBytes); nullopt for
  // a simulated GPU.
  static std::optional<uint64_t> TotalMemoryOf(Device device);

 private:
  std::vector<Device> devices_;
  std::vector<std::unique_ptr<SimDevice>> sims_;           // index = sim device index
  std::vector<std::unique_ptr<DeviceActivity>> activity_;  // parallel to devices_
};

}  // namespace tandem
