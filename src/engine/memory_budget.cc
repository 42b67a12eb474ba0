#include "engine/memory_budget.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace tandem {

StatusOr<MemoryLimit> ParseMemoryLimit(std::string_view text) {
  const std::string item(text);
  auto invalid = [&](const std::string& why) {
    return InvalidArgument("--model-load-memory-limit '" + item + "': " + why +
                           " (expected DEVICE=BYTES or DEVICE=FRACTION, e.g. cpu=8000000000 or "
                           "cuda:0=0.9)");
  };
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos) return invalid("no '='");
  auto device = Device::Parse(text.substr(0, equals));
  if (!device.ok()) return invalid(device.status().message());
  const std::string_view value = text.substr(equals + 1);
  MemoryLimit limit;
  limit.device = *device;
  if (value.find('.') != std::string_view::npos) {
    const std::string number(value);
    char* end = nullptr;
    limit.fraction = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !(limit.fraction > 0 && limit.fraction <= 1)) {
      return invalid("a fraction of the device's memory is a number in (0, 1]");
    }
    return limit;
  }
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), limit.bytes);
  if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
    return invalid("'" + std::string(value) + "' is not a number of bytes");
  }
  return limit;
}

StatusOr<DeviceBytes> ResolveMemoryLimits(const std::vector<MemoryLimit>& limits,
                                          const DeviceSet& devices) {
  DeviceBytes bytes;
  for (const MemoryLimit& limit : limits) {
    const std::string name = limit.device.ToString();
    if (!devices.Contains(limit.device)) {
      return InvalidArgument("--model-load-memory-limit names " + name +
                             ", which this server does not use");
    }
    if (bytes.count(limit.device) > 0) {
      return InvalidArgument("--model-load-memory-limit names " + name + " twice");
    }
    if (limit.fraction == 0) {
      bytes[limit.device] = limit.bytes;
      continue;
    }
    const std::optional<uint64_t> total = DeviceSet::TotalMemoryOf(limit.device);
    if (!total) {
      return InvalidArgument("--model-load-memory-limit: the memory of " + name +
                             " is not known, so give it in bytes, not as a fraction");
    }
    bytes[limit.device] =
        static_cast<uint64_t>(std::floor(limit.fraction * static_cast<double>(*total)));
  }
  return bytes;
}

Status MemoryBudget::Take(const DeviceBytes& need, const std::string& what) {
  for (const auto& [device, bytes] : need) {
    const auto limit = limits_.find(device);
    if (limit == limits_.end()) continue;
    const uint64_t held = in_use_[device];
    if (held + bytes > limit->second) {
      return ResourceExhausted(what + " needs " + std::to_string(bytes) + " bytes on " +
                               device.ToString() + ", and loaded models hold " +
                               std::to_string(held) + " of its " + std::to_string(limit->second) +
                               "-byte limit (--model-load-memory-limit)");
    }
  }
  for (const auto& [device, bytes] : need) in_use_[device] += bytes;
  return Status::Ok();
}

}  // namespace tandem
