// Helpers shared by the built-in ops' implementations. Internal to backend/ops/.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include "backend/ops/op.h"
#include "device/torch_status.h"
#include "device/torch_tensors.h"

namespace tandem {

inline StatusOr<int64_t> IntParam(const std::map<std::string, StepParam>& params,
                                  const std::string& key, int64_t fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  const std::string& text = it->second.scalar;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (it->second.kind != StepParam::Kind::kScalar || ec != std::errc() ||
      end != text.data() + text.size()) {
    return InvalidArgument("params." + key + " must be an integer");
  }
  return value;
}

// A number as YAML writes it, or a fraction "a/b" (so `scale: 1/255` is exactly 1.0 / 255).
inline std::optional<double> ParseNumber(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash != std::string::npos) {
    if (text.find('/', slash + 1) != std::string::npos) return std::nullopt;  // one fraction only
    auto numerator = ParseNumber(text.substr(0, slash));
    auto denominator = ParseNumber(text.substr(slash + 1));
    if (!numerator || !denominator || *denominator == 0) return std::nullopt;
    return *numerator / *denominator;
  }
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

inline StatusOr<double> NumberParam(const std::map<std::string, StepParam>& params,
                                    const std::string& key, double fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  auto value = ParseNumber(it->second.scalar);
  if (it->second.kind != StepParam::Kind::kScalar || !value) {
    return InvalidArgument("params." + key + " must be a number (or a fraction such as 1/255)");
  }
  return *value;
}

// `count` numbers; `fallback` when absent, or INVALID_ARGUMENT if `fallback` is empty.
inline StatusOr<std::vector<double>> NumbersParam(const std::map<std::string, StepParam>& params,
                                                  const std::string& key, size_t count,
                                                  std::vector<double> fallback) {
  auto it = params.find(key);
  if (it == params.end()) {
    if (fallback.empty()) return InvalidArgument("params." + key + " is required");
    return fallback;
  }
  std::vector<double> out;
  for (const std::string& item : it->second.list) {
    auto value = ParseNumber(item);
    if (!value) return InvalidArgument("params." + key + ": '" + item + "' is not a number");
    out.push_back(*value);
  }
  if (it->second.kind != StepParam::Kind::kList || out.size() != count) {
    return InvalidArgument("params." + key + " must be a list of " + std::to_string(count) +
                           " numbers");
  }
  return out;
}

inline StatusOr<bool> BoolParam(const std::map<std::string, StepParam>& params,
                                const std::string& key, bool fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  const std::string& text = it->second.scalar;
  if (it->second.kind == StepParam::Kind::kScalar && (text == "true" || text == "false")) {
    return text == "true";
  }
  return InvalidArgument("params." + key + " must be true or false");
}

inline StatusOr<std::string> TextParam(const std::map<std::string, StepParam>& params,
                                       const std::string& key, const std::string& fallback) {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  if (it->second.kind != StepParam::Kind::kScalar) {
    return InvalidArgument("params." + key + " must be a single value");
  }
  return it->second.scalar;
}

inline Status OnlyParams(const std::map<std::string, StepParam>& params,
                         std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : params) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return InvalidArgument("params." + key + " is not a parameter of this op");
    }
  }
  return Status::Ok();
}

inline bool IsInteger(DataType t) {
  return t == DataType::kUint8 || t == DataType::kUint16 || t == DataType::kUint32 ||
         t == DataType::kUint64 || t == DataType::kInt8 || t == DataType::kInt16 ||
         t == DataType::kInt32 || t == DataType::kInt64;
}

// Runs `fn` on LibTorch views of the inputs moved to `device`, and wraps its results.
template <typename Fn>
StatusOr<std::vector<Tensor>> WithTorch(const std::vector<Tensor>& inputs, Device device, Fn fn) {
  try {
    c10::InferenceMode inference_mode;
    const c10::Device where =
        device.kind() == Device::Kind::kCuda
            ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device.index()))
            : c10::Device(c10::kCPU);
    std::vector<at::Tensor> in;
    for (const Tensor& t : inputs) {
      ASSIGN_OR_RETURN(at::Tensor view, ToTorch(t));
      in.push_back(MoveTo(view, where));
    }
    std::vector<at::Tensor> out = fn(in);
    std::vector<Tensor> results;
    for (const at::Tensor& t : out) {
      // Results stay where they were computed (a CUDA device, or the host for the CPU and
      // simulated devices, whose tensors are labelled with their device).
      ASSIGN_OR_RETURN(Tensor result, FromTorch(t));
      results.push_back(device.kind() == Device::Kind::kSim ? result.WithDevice(device) : result);
    }
    return results;
  } catch (const std::exception& e) {
    return TorchErrorStatus(e, "");  // the pipeline names the step
  }
}

// The image ops, by name ("image.decode", ...), or NOT_FOUND.
StatusOr<std::unique_ptr<OpKernel>> MakeImageOp(const std::string& name,
                                                const std::map<std::string, StepParam>& params);

}  // namespace tandem
