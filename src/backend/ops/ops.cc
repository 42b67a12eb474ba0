// The built-in ops, computed with ATen on the instance's device.
#include <ATen/ATen.h>

#include <charconv>

#include "backend/ops/op.h"
#include "backend/ops/op_support.h"

namespace tandem {
namespace {

// argmax over `dim` (default 1: the class dimension of [N, C, H, W] logits) -> INT64, that
// dimension removed.
class Argmax final : public OpKernel {
 public:
  explicit Argmax(int64_t dim) : dim_(dim) {}
  std::vector<std::string> input_names() const override { return {"input"}; }
  std::vector<std::string> output_names() const override { return {"indices"}; }

  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const Shape& shape = inputs[0].shape;
    const int64_t rank = static_cast<int64_t>(shape.rank());
    const int64_t dim = dim_ < 0 ? dim_ + rank : dim_;
    if (dim < 0 || dim >= rank) {
      return InvalidArgument("params.dim " + std::to_string(dim_) + " is outside shape " +
                             shape.ToString());
    }
    if (inputs[0].dtype == DataType::kBytes) return InvalidArgument("argmax needs numbers");
    std::vector<int64_t> dims = shape.dims();
    dims.erase(dims.begin() + dim);
    return std::vector<TensorConfig>{{"indices", DataType::kInt64, Shape(std::move(dims))}};
  }

  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      return std::vector<at::Tensor>{in[0].argmax(dim_)};
    });
  }

 private:
  const int64_t dim_;
};

// Replaces values by a table, e.g. class ids by trimap levels: {1: 128, 2: 255}; values not in
// the table become `default` (0). Integers in, UINT8 out.
class MapValues final : public OpKernel {
 public:
  MapValues(std::vector<std::pair<int64_t, int64_t>> table, int64_t fallback)
      : table_(std::move(table)), fallback_(fallback) {}
  std::vector<std::string> input_names() const override { return {"input"}; }
  std::vector<std::string> output_names() const override { return {"output"}; }

  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    if (!IsInteger(inputs[0].dtype)) {
      return InvalidArgument("map_values takes integers, not " +
                             std::string(DataTypeName(inputs[0].dtype)));
    }
    return std::vector<TensorConfig>{{"output", DataType::kUint8, inputs[0].shape}};
  }

  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      at::Tensor out = at::full(in[0].sizes(), fallback_, in[0].options().dtype(at::kByte));
      for (const auto& [from, to] : table_) out.masked_fill_(in[0] == from, to);
      return std::vector<at::Tensor>{out};
    });
  }

 private:
  const std::vector<std::pair<int64_t, int64_t>> table_;
  const int64_t fallback_;
};

StatusOr<std::unique_ptr<OpKernel>> MakeMapValues(const std::map<std::string, StepParam>& params) {
  RETURN_IF_ERROR(OnlyParams(params, {"values", "default"}));
  auto it = params.find("values");
  if (it == params.end() || it->second.kind != StepParam::Kind::kMap || it->second.map.empty()) {
    return InvalidArgument("params.values must be a map of integers, e.g. {1: 128, 2: 255}");
  }
  std::vector<std::pair<int64_t, int64_t>> table;
  for (const auto& [from, to] : it->second.map) {
    int64_t a = 0, b = 0;
    auto r1 = std::from_chars(from.data(), from.data() + from.size(), a);
    auto r2 = std::from_chars(to.data(), to.data() + to.size(), b);
    if (r1.ec != std::errc() || r2.ec != std::errc() || r1.ptr != from.data() + from.size() ||
        r2.ptr != to.data() + to.size() || b < 0 || b > 255) {
      return InvalidArgument("params.values." + from + " must map an integer to 0..255");
    }
    table.emplace_back(a, b);
  }
  ASSIGN_OR_RETURN(int64_t fallback, IntParam(params, "default", 0));
  if (fallback < 0 || fallback > 255) return InvalidArgument("params.default must be 0..255");
  return std::unique_ptr<OpKernel>(new MapValues(std::move(table), fallback));
}

class OpInstance final : public Instance {
 public:
  OpInstance(const OpKernel& kernel, Device device) : kernel_(kernel), device_(device) {}
  Device device() const override { return device_; }
  StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    return kernel_.Run(inputs, device_);
  }

 private:
  const OpKernel& kernel_;
  const Device device_;
};

}  // namespace

StatusOr<std::unique_ptr<OpKernel>> MakeOp(const std::string& name,
                                           const std::map<std::string, StepParam>& params) {
  if (name == "argmax") {
    RETURN_IF_ERROR(OnlyParams(params, {"dim"}));
    ASSIGN_OR_RETURN(int64_t dim, IntParam(params, "dim", 1));
    return std::unique_ptr<OpKernel>(new Argmax(dim));
  }
  if (name == "map_values") return MakeMapValues(params);
  if (name.rfind("image.", 0) == 0) {
    auto op = MakeImageOp(name, params);
    if (op.ok() || op.status().code() != StatusCode::kNotFound) return op;
  }
  return InvalidArgument("unknown op '" + name +
                         "' (built-in ops: argmax, map_values, image.decode, image.preprocess, "
                         "image.resize_to, image.encode_png)");
}

std::unique_ptr<Instance> MakeOpInstance(const OpKernel& kernel, Device device) {
  return std::make_unique<OpInstance>(kernel, device);
}

}  // namespace tandem
