#include "backend/sim/sim_backend.h"

#include <cstdlib>

#include "config/yaml_fields.h"

namespace tandem {
namespace {

struct SimParameters {
  std::chrono::nanoseconds latency{0};
  std::chrono::nanoseconds per_item{0};
  double scale = 2.0;
  double offset = 1.0;
  uint64_t weight_bytes = 0;  // what an instance reports holding on its device
};

// The parameters were checked by config validation (numbers, known names).
SimParameters ReadParameters(const ModelConfig& config) {
  SimParameters p;
  auto number = [&](const char* key, double fallback) {
    auto it = config.parameters.find(key);
    return it == config.parameters.end() ? fallback : std::strtod(it->second.c_str(), nullptr);
  };
  p.latency = std::chrono::nanoseconds(static_cast<int64_t>(number("latency_us", 0) * 1e3));
  p.per_item = std::chrono::nanoseconds(static_cast<int64_t>(number("per_item_us", 0) * 1e3));
  p.scale = number("scale", 2.0);
  p.offset = number("offset", 1.0);
  p.weight_bytes = static_cast<uint64_t>(number("weight_bytes", 0));
  return p;
}

template <typename T>
void Affine(const Tensor& in, Tensor& out, double scale, double offset) {
  auto x = in.Values<T>();
  T* y = reinterpret_cast<T*>(out.mutable_data());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = static_cast<T>(static_cast<double>(x[i]) * scale + offset);
  }
}

StatusOr<Tensor> Compute(const Tensor& in, double scale, double offset) {
  ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(in.dtype(), in.shape()));
  switch (in.dtype()) {
    case DataType::kUint8:
      Affine<uint8_t>(in, out, scale, offset);
      break;
    case DataType::kUint16:
      Affine<uint16_t>(in, out, scale, offset);
      break;
    case DataType::kUint32:
      Affine<uint32_t>(in, out, scale, offset);
      break;
    case DataType::kUint64:
      Affine<uint64_t>(in, out, scale, offset);
      break;
    case DataType::kInt8:
      Affine<int8_t>(in, out, scale, offset);
      break;
    case DataType::kInt16:
      Affine<int16_t>(in, out, scale, offset);
      break;
    case DataType::kInt32:
      Affine<int32_t>(in, out, scale, offset);
      break;
    case DataType::kInt64:
      Affine<int64_t>(in, out, scale, offset);
      break;
    case DataType::kFp32:
      Affine<float>(in, out, scale, offset);
      break;
    case DataType::kFp64:
      Affine<double>(in, out, scale, offset);
      break;
    default:
      return Unimplemented("sim models compute on integer, FP32 and FP64 tensors, not " +
                           std::string(DataTypeName(in.dtype())));
  }
  return out;
}

class SimInstance final : public Instance {
 public:
  SimInstance(const ModelConfig& config, SimDevice& sim, Device device)
      : batched_(config.batched()), params_(ReadParameters(config)), sim_(sim), device_(device) {}

  Device device() const override { return device_; }
  uint64_t weight_bytes() const override { return params_.weight_bytes; }

  StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    std::vector<Tensor> outputs;
    outputs.reserve(inputs.size());
    for (const Tensor& in : inputs) {
      ASSIGN_OR_RETURN(Tensor out, Compute(in, params_.scale, params_.offset));
      outputs.push_back(out.WithDevice(device_));
    }
    const int64_t batch = batched_ && !inputs.empty() ? inputs[0].shape()[0] : 1;
    sim_.Run(params_.latency + params_.per_item * batch);
    return outputs;
  }

 private:
  const bool batched_;
  const SimParameters params_;
  SimDevice& sim_;
  const Device device_;
};

class SimBackend final : public Backend {
 public:
  explicit SimBackend(const DeviceSet& devices) : devices_(devices) {}

  StatusOr<std::unique_ptr<Instance>> CreateInstance(const ModelConfig& config,
                                                     const std::filesystem::path&,
                                                     Device device) override {
    if (device.kind() != Device::Kind::kSim || !devices_.Contains(device)) {
      return InvalidArgument("sim models run on simulated GPUs (sim:N), not " + device.ToString());
    }
    return std::unique_ptr<Instance>(new SimInstance(config, devices_.sim(device.index()), device));
  }

 private:
  const DeviceSet& devices_;
};

// A sim model computes output i = input i × scale + offset (docs/design/architecture.md §6).
void CheckSimModel(const YamlFields& fields, const ModelConfig& config) {
  if (config.outputs.size() != config.inputs.size()) {
    fields.Problem("outputs",
                   "a sim model declares as many outputs as inputs (output i = input "
                   "i × scale + offset), got " +
                       std::to_string(config.outputs.size()) + " for " +
                       std::to_string(config.inputs.size()));
  }
  for (size_t i = 0; i < config.inputs.size(); ++i) {
    const TensorConfig& in = config.inputs[i];
    if (in.dtype == DataType::kBool || in.dtype == DataType::kFp16 || in.dtype == DataType::kBf16 ||
        in.dtype == DataType::kBytes) {
      fields.Problem("inputs[" + std::to_string(i) + "].datatype",
                     "sim models compute on integer, FP32 and FP64 tensors");
    }
    if (i < config.outputs.size() &&
        (config.outputs[i].dtype != in.dtype || !(config.outputs[i].shape == in.shape))) {
      fields.Problem("outputs[" + std::to_string(i) + "]",
                     "must have the datatype and shape of inputs[" + std::to_string(i) + "]");
    }
  }
  for (const auto& [key, value] : config.parameters) {
    const std::string at = "parameters." + key;
    if (key != "latency_us" && key != "per_item_us" && key != "scale" && key != "offset" &&
        key != "weight_bytes") {
      fields.Problem(at,
                     "unknown sim parameter (expected latency_us, per_item_us, scale, offset, "
                     "weight_bytes)");
      continue;
    }
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0') {
      fields.Problem(at, "'" + value + "' is not a number");
    } else if ((key == "latency_us" || key == "per_item_us" || key == "weight_bytes") &&
               number < 0) {
      fields.Problem(at, "must be 0 or more");
    }
  }
}

}  // namespace

BackendDescription SimBackendDescription() {
  BackendDescription d;
  d.rules = {"sim", /*artifact=*/"", /*cuda_graphs=*/false, CheckSimModel};
  d.platform = "sim";
  d.accelerator = Device::Kind::kSim;
  d.make = [](const DeviceSet& devices) { return std::make_unique<SimBackend>(devices); };
  d.expected_bytes = [](const ModelConfig& config, const std::filesystem::path&) {
    return ReadParameters(config).weight_bytes;
  };
  return d;
}

}  // namespace tandem
