#include "device/device_set.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>

#include <algorithm>

#include "device/host_memory.h"

namespace tandem {

int DeviceSet::CountCudaDevices() { return static_cast<int>(torch::cuda::device_count()); }

StatusOr<DeviceSet> DeviceSet::Create(int cuda_count, const DeviceOptions& options) {
  if (options.sim_gpus < 0) return InvalidArgument("--sim-gpus must be 0 or more");
  if (!(options.sim_copy_gbps > 0)) return InvalidArgument("--sim-copy-gbps must be positive");
  std::vector<Device> found = {Device::Cpu()};
  for (int i = 0; i < cuda_count; ++i) found.push_back(Device::Cuda(i));
  for (int i = 0; i < options.sim_gpus; ++i) found.push_back(Device::Sim(i));
  DeviceSet set;
  for (int i = 0; i < options.sim_gpus; ++i) {
    set.sims_.push_back(std::make_unique<SimDevice>(i, options.sim_copy_gbps));
  }
  if (options.allow.empty()) {
    set.devices_ = std::move(found);
  } else {
    for (const Device& d : options.allow) {
      if (std::find(found.begin(), found.end(), d) == found.end()) {
        return InvalidArgument("--devices names " + d.ToString() +
                               ", which this host does not have (" + std::to_string(cuda_count) +
                               " CUDA devices found, " + std::to_string(options.sim_gpus) +
                               " simulated)");
      }
      if (!set.Contains(d)) set.devices_.push_back(d);
    }
  }
  for (size_t i = 0; i < set.devices_.size(); ++i) {
    set.activity_.push_back(std::make_unique<DeviceActivity>());
  }
  return set;
}

DeviceActivity& DeviceSet::activity(Device device) const {
  const auto it = std::find(devices_.begin(), devices_.end(), device);
  return *activity_.at(static_cast<size_t>(it - devices_.begin()));
}

std::optional<DeviceSet::Memory> DeviceSet::MemoryOf(Device device) {
  if (device.kind() != Device::Kind::kCuda) return std::nullopt;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  return Memory{static_cast<uint64_t>(stats.allocated_bytes[all].current),
                static_cast<uint64_t>(stats.reserved_bytes[all].current)};
}

std::optional<uint64_t> DeviceSet::TotalMemoryOf(Device device) {
  switch (device.kind()) {
    case Device::Kind::kCpu:
      return HostMemoryBytes();
    case Device::Kind::kCuda:
      return static_cast<uint64_t>(at::cuda::getDeviceProperties(device.index())->totalGlobalMem);
    case Device::Kind::kSim:
      return std::nullopt;
  }
  return std::nullopt;
}

std::vector<Device> DeviceSet::OfKind(Device::Kind kind) const {
  std::vector<Device> out;
  for (const Device& d : devices_) {
    if (d.kind() == kind) out.push_back(d);
  }
  return out;
}

bool DeviceSet::Contains(Device device) const {
  return std::find(devices_.begin(), devices_.end(), device) != devices_.end();
}

StatusOr<std::vector<Device>> DeviceSet::Resolve(const InstanceGroupConfig& group,
                                                 Device::Kind accelerator) const {
  using S = InstanceGroupConfig::Selector;
  const std::vector<Device> accelerators = OfKind(accelerator);
  const char* none = accelerator == Device::Kind::kSim
                         ? "no simulated GPU is available (start the server with --sim-gpus N)"
                         : "no CUDA device is available";
  switch (group.selector) {
    case S::kAuto:
      if (!accelerators.empty()) return accelerators;
      if (accelerator == Device::Kind::kSim)
        return Unavailable(std::string("devices: auto: ") + none);
      if (Contains(Device::Cpu())) return std::vector<Device>{Device::Cpu()};
      return Unavailable("devices: auto found neither a GPU nor the CPU among the allowed devices");
    case S::kGpu:
      if (accelerators.empty()) return Unavailable(std::string("devices: gpu, but ") + none);
      return accelerators;
    case S::kCpu:
      if (!Contains(Device::Cpu())) return Unavailable("devices: cpu, but --devices excludes cpu");
      return std::vector<Device>{Device::Cpu()};
    case S::kSim: {
      std::vector<Device> sims = OfKind(Device::Kind::kSim);
      if (sims.empty()) {
        return Unavailable(
            "devices: sim, but no simulated GPU is available (start the server "
            "with --sim-gpus N)");
      }
      return sims;
    }
    case S::kList:
      for (const Device& d : group.devices) {
        if (!Contains(d)) return Unavailable("device " + d.ToString() + " is not available");
      }
      return group.devices;
  }
  return Internal("unknown device selector");
}

}  // namespace tandem
