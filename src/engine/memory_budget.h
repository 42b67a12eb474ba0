// MemoryBudget: the most bytes of model weights each device may hold
// (--model-load-memory-limit), and the check a load passes before it creates any instance, so
// that a model that does not fit is refused with a reason instead of running the device out of
// memory halfway through loading.
//
// What counts is weights: each instance's Instance::weight_bytes once loaded, and before that
// the estimate its backend gives (BackendDescription::expected_bytes). Activations, CUDA
// contexts and allocator caches are not counted: a limit leaves room for them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/device.h"
#include "core/status.h"
#include "device/device_set.h"

namespace tandem {

// One --model-load-memory-limit item: "DEVICE=BYTES" ("cpu=8000000000"), or "DEVICE=FRACTION",
// a number with a decimal point in (0, 1], of the device's memory ("cuda:0=0.9").
struct MemoryLimit {
  Device device = Device::Cpu();
  uint64_t bytes = 0;   // when fraction is 0
  double fraction = 0;  // of the device's memory (DeviceSet::TotalMemoryOf)
};
StatusOr<MemoryLimit> ParseMemoryLimit(std::string_view text);

// The limits in bytes. Fails naming the item for a device `devices` lacks, a device named
// twice, or a fraction of a device whose memory is not known (a simulated GPU).
StatusOr<DeviceBytes> ResolveMemoryLimits(const std::vector<MemoryLimit>& limits,
                                          const DeviceSet& devices);

class MemoryBudget {
 public:
  // `limits`: the devices that have one; `in_use`: what loaded servables hold now.
  MemoryBudget(const DeviceBytes& limits, DeviceBytes in_use)
      : limits_(limits), in_use_(std::move(in_use)) {}

  // Counts `need` as held, or fails with RESOURCE_EXHAUSTED naming `what`, the device, what it
  // needs, what is held and the limit; then nothing is counted.
  Status Take(const DeviceBytes& need, const std::string& what);

 private:
  const DeviceBytes& limits_;
  DeviceBytes in_use_;
};

}  // namespace tandem
