// DeviceSet: the devices this server may use, found once at start-up, and the mapping from a
// model's `instances:` entry to concrete devices.
#pragma once

#include <vector>

#include "config/model_config.h"
#include "core/device.h"
#include "core/status.h"

namespace tandem {

class DeviceSet {
 public:
  // `cuda_count` CUDA devices plus the CPU. A non-empty `allow` keeps only those devices
  // (--devices); naming a device that does not exist fails.
  static StatusOr<DeviceSet> Create(int cuda_count, const std::vector<Device>& allow);

  // The number of CUDA devices LibTorch sees on this host (0 without a GPU or driver).
  static int CountCudaDevices();

  const std::vector<Device>& all() const { return devices_; }
  std::vector<Device> gpus() const;
  bool Contains(Device device) const;

  // The devices one `instances:` entry places instances on. auto = every GPU, else the CPU.
  StatusOr<std::vector<Device>> Resolve(const InstanceGroupConfig& group) const;

 private:
  std::vector<Device> devices_;
};

}  // namespace tandem
