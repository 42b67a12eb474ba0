// Device: where a tensor lives or a model instance runs. A small self-checking value type;
// discovery of which devices exist is device/'s job.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tandem {

class Device {
 public:
  enum class Kind { kCpu, kCuda, kSim };

  static Device Cpu() { return Device(Kind::kCpu, 0); }
  static Device Cuda(int index) { return Device(Kind::kCuda, index); }
  static Device Sim(int index) { return Device(Kind::kSim, index); }

  // Parses "cpu", "cuda:N" or "sim:N".
  static StatusOr<Device> Parse(std::string_view text);

  Kind kind() const { return kind_; }
  int index() const { return index_; }
  bool is_cpu() const { return kind_ == Kind::kCpu; }
  bool operator==(const Device&) const = default;
  auto operator<=>(const Device&) const = default;  // cpu, then cuda:N, then sim:N

  // "cpu", "cuda:0", "sim:3".
  std::string ToString() const;

 private:
  Device(Kind kind, int index) : kind_(kind), index_(index) {}

  Kind kind_;
  int index_;
};

// A number of bytes on each of some devices (weights loaded, memory limits).
using DeviceBytes = std::map<Device, uint64_t>;

}  // namespace tandem
