#include "device/device_set.h"

#include <torch/cuda.h>

#include <algorithm>

namespace tandem {

int DeviceSet::CountCudaDevices() { return static_cast<int>(torch::cuda::device_count()); }

StatusOr<DeviceSet> DeviceSet::Create(int cuda_count, const std::vector<Device>& allow) {
  std::vector<Device> found = {Device::Cpu()};
  for (int i = 0; i < cuda_count; ++i) found.push_back(Device::Cuda(i));
  DeviceSet set;
  if (allow.empty()) {
    set.devices_ = std::move(found);
    return set;
  }
  for (const Device& d : allow) {
    if (std::find(found.begin(), found.end(), d) == found.end()) {
      return InvalidArgument("--devices names " + d.ToString() +
                             ", which this host does not have (" + std::to_string(cuda_count) +
                             " CUDA devices found)");
    }
    if (!set.Contains(d)) set.devices_.push_back(d);
  }
  return set;
}

std::vector<Device> DeviceSet::gpus() const {
  std::vector<Device> out;
  for (const Device& d : devices_) {
    if (d.kind() == Device::Kind::kCuda) out.push_back(d);
  }
  return out;
}

bool DeviceSet::Contains(Device device) const {
  return std::find(devices_.begin(), devices_.end(), device) != devices_.end();
}

StatusOr<std::vector<Device>> DeviceSet::Resolve(const InstanceGroupConfig& group) const {
  using S = InstanceGroupConfig::Selector;
  switch (group.selector) {
    case S::kAuto: {
      std::vector<Device> gpu = gpus();
      if (!gpu.empty()) return gpu;
      if (Contains(Device::Cpu())) return std::vector<Device>{Device::Cpu()};
      return Unavailable("devices: auto found neither a GPU nor the CPU among the allowed devices");
    }
    case S::kGpu: {
      std::vector<Device> gpu = gpus();
      if (gpu.empty()) return Unavailable("devices: gpu, but no CUDA device is available");
      return gpu;
    }
    case S::kCpu:
      if (!Contains(Device::Cpu())) return Unavailable("devices: cpu, but --devices excludes cpu");
      return std::vector<Device>{Device::Cpu()};
    case S::kSim:
      return Unimplemented("simulated devices (devices: sim) are not supported yet");
    case S::kList:
      for (const Device& d : group.devices) {
        if (!Contains(d)) return Unavailable("device " + d.ToString() + " is not available");
      }
      return group.devices;
  }
  return Internal("unknown device selector");
}

}  // namespace tandem
