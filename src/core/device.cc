#include "core/device.h"

#include <charconv>

namespace tandem {

StatusOr<Device> Device::Parse(std::string_view text) {
  if (text == "cpu") return Cpu();
  auto parse_index = [&](std::string_view prefix) -> std::optional<int> {
    if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view digits = text.substr(prefix.size());
    int index = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || index < 0) {
      return std::nullopt;
    }
    return index;
  };
  if (auto i = parse_index("cuda:")) return Cuda(*i);
  if (auto i = parse_index("sim:")) return Sim(*i);
  return InvalidArgument("unknown device '" + std::string(text) +
                         "' (expected cpu, cuda:N or sim:N)");
}

std::string Device::ToString() const {
  switch (kind_) {
    case Kind::kCpu:
      return "cpu";
    case Kind::kCuda:
      return "cuda:" + std::to_string(index_);
    case Kind::kSim:
      return "sim:" + std::to_string(index_);
  }
  return "?";
}

}  // namespace tandem
