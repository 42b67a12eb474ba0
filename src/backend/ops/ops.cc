// The built-in ops, computed with ATen on the instance's device.
#include <ATen/ATen.h>

#include <charconv>
#include <optional>

#include "backend/ops/byte_table.h"
#include "backend/ops/op.h"
#include "backend/ops/op_support.h"

namespace tandem {
namespace {

// argmax over `dim` (default 1: the class dimension of [N, C, H, W] logits) -> INT64, that
// dimension removed, or kept with size 1 (`keepdim: true`). Ties go to the first index.
class Argmax final : public OpKernel {
 public:
  Argmax(int64_t dim, bool keepdim) : dim_(dim), keepdim_(keepdim) {}
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
    if (keepdim_) {
      dims[dim] = 1;
    } else {
      dims.erase(dims.begin() + dim);
    }
    return std::vector<TensorConfig>{{"indices", DataType::kInt64, Shape(std::move(dims))}};
  }

  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      // ATen reduces a strided inner dimension slowly (14 ms for [1, 3, 320, 320] logits on a
      // CPU core, 1 ms this way): move the dimension last and reduce over contiguous memory.
      const int64_t dim = dim_ < 0 ? dim_ + in[0].dim() : dim_;
      at::Tensor indices = in[0].movedim(dim, -1).contiguous().argmax(-1);
      return std::vector<at::Tensor>{keepdim_ ? indices.unsqueeze(dim) : indices};
    });
  }

 private:
  const int64_t dim_;
  const bool keepdim_;
};

// input × scale + offset, computed in double precision and rounded once to `dtype`: to floats
// by IEEE rounding (so UINT8 × 1/255 is exactly ToTensor's x / 255 in FP32), to integers to the
// nearest (ties to even) and saturated to the type's range, to BOOL as "not zero". UINT8 inputs
// read the result from a table of all 256 (backend/ops/byte_table.h): the same bits, one pass.
class Cast final : public OpKernel {
 public:
  Cast(DataType dtype, at::ScalarType type, double scale, double offset)
      : dtype_(dtype),
        type_(type),
        scale_(scale),
        offset_(offset),
        byte_table_(ByteTable([this](const at::Tensor& x) { return Convert(x); })) {}
  std::vector<std::string> input_names() const override { return {"input"}; }
  std::vector<std::string> output_names() const override { return {"output"}; }

  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    if (inputs[0].dtype == DataType::kBytes)
      return InvalidArgument("cast needs numbers, not BYTES");
    return std::vector<TensorConfig>{{"output", dtype_, inputs[0].shape}};
  }

  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      const at::Tensor& x = in[0];
      return std::vector<at::Tensor>{
          x.scalar_type() == at::kByte ? LookUp(byte_table_.On(x.device()), x) : Convert(x)};
    });
  }

 private:
  at::Tensor Convert(at::Tensor x) const {
    const bool affine = scale_ != 1.0 || offset_ != 0.0;
    const bool to_integer = at::isIntegralType(type_, /*includeBool=*/false);
    const auto [low, high] = IntegerRange(type_);
    if (!affine && !to_integer) return x.to(type_);
    if (!affine && at::isIntegralType(x.scalar_type(), /*includeBool=*/true)) {
      // Integers to integers stay integers (no trip through double), saturated.
      return x.to(at::kLong).clamp(static_cast<int64_t>(low), static_cast<int64_t>(high)).to(type_);
    }
    x = x.to(at::kDouble);
    if (affine) x = x.mul(scale_).add(offset_);
    if (type_ == at::kBool) return x.ne(0);
    if (to_integer) x = x.round().clamp(low, high);
    return x.to(type_);
  }

  // The range of an integer type as doubles that convert back exactly (the 64-bit types stop
  // at the largest double below 2^63).
  static std::pair<double, double> IntegerRange(at::ScalarType type) {
    constexpr double kBelow2To63 = 9223372036854774784.0;
    switch (type) {
      case at::kByte:
        return {0, 255};
      case at::kChar:
        return {-128, 127};
      case at::kShort:
        return {-32768, 32767};
      case at::kInt:
        return {-2147483648.0, 2147483647.0};
      case at::kUInt16:
        return {0, 65535};
      case at::kUInt32:
        return {0, 4294967295.0};
      case at::kUInt64:
        return {0, kBelow2To63};
      default:
        return {-9223372036854775808.0, kBelow2To63};
    }
  }

  const DataType dtype_;
  const at::ScalarType type_;
  const double scale_, offset_;
  const DeviceTable byte_table_;  // Convert of every UINT8 value
};

// input0, input1, ... joined along `dim` (default 1: channels of [N, C, H, W]), in that order.
// All inputs share one dtype (cast first) and agree on every other dimension.
class Concat final : public OpKernel {
 public:
  Concat(size_t count, int64_t dim) : count_(count), dim_(dim) {}
  std::vector<std::string> input_names() const override {
    std::vector<std::string> names;
    for (size_t i = 0; i < count_; ++i) names.push_back("input" + std::to_string(i));
    return names;
  }
  std::vector<std::string> output_names() const override { return {"output"}; }

  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const TensorConfig& first = inputs[0];
    const int64_t rank = static_cast<int64_t>(first.shape.rank());
    const int64_t dim = dim_ < 0 ? dim_ + rank : dim_;
    if (dim < 0 || dim >= rank) {
      return InvalidArgument("params.dim " + std::to_string(dim_) + " is outside input0's shape " +
                             first.shape.ToString());
    }
    if (first.dtype == DataType::kBytes) return InvalidArgument("concat needs numbers, not BYTES");
    std::vector<int64_t> dims = first.shape.dims();
    for (size_t i = 1; i < inputs.size(); ++i) {
      const TensorConfig& in = inputs[i];
      const std::string name = "input" + std::to_string(i);
      if (in.dtype != first.dtype) {
        return InvalidArgument(name + " is " + std::string(DataTypeName(in.dtype)) +
                               " but input0 is " + std::string(DataTypeName(first.dtype)) +
                               " (cast one of them first)");
      }
      bool fits = in.shape.rank() == first.shape.rank();
      for (int64_t d = 0; fits && d < rank; ++d) {
        if (d == dim) continue;
        fits = in.shape[d] == Shape::kAnyDim || dims[d] == Shape::kAnyDim || in.shape[d] == dims[d];
        if (dims[d] == Shape::kAnyDim) dims[d] = in.shape[d];
      }
      if (!fits) {
        return InvalidArgument(name + " " + in.shape.ToString() + " does not fit input0 " +
                               first.shape.ToString() + " along dims other than " +
                               std::to_string(dim));
      }
      dims[dim] = dims[dim] == Shape::kAnyDim || in.shape[dim] == Shape::kAnyDim
                      ? Shape::kAnyDim
                      : dims[dim] + in.shape[dim];
    }
    return std::vector<TensorConfig>{{"output", first.dtype, Shape(std::move(dims))}};
  }

  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    const Shape& a = inputs[0].shape();
    const int64_t dim = dim_ < 0 ? dim_ + static_cast<int64_t>(a.rank()) : dim_;
    for (size_t i = 1; i < inputs.size(); ++i) {
      const Shape& b = inputs[i].shape();
      bool fits = a.rank() == b.rank();
      for (int64_t d = 0; fits && d < static_cast<int64_t>(a.rank()); ++d) {
        fits = d == dim || a[d] == b[d];
      }
      if (!fits) {
        return InvalidArgument("concat: input" + std::to_string(i) + " " + b.ToString() +
                               " does not fit input0 " + a.ToString());
      }
    }
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      return std::vector<at::Tensor>{at::cat(in, dim_)};
    });
  }

 private:
  const size_t count_;
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
  OpInstance(std::shared_ptr<const OpKernel> kernel, Device device)
      : kernel_(std::move(kernel)), device_(device) {}
  Device device() const override { return device_; }
  StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) override {
    return kernel_->Run(inputs, device_);
  }

 private:
  const std::shared_ptr<const OpKernel> kernel_;
  const Device device_;
};

StatusOr<std::unique_ptr<OpKernel>> MakeCast(const std::map<std::string, StepParam>& params) {
  RETURN_IF_ERROR(OnlyParams(params, {"dtype", "scale", "offset"}));
  auto it = params.find("dtype");
  if (it == params.end()) return InvalidArgument("params.dtype is required (e.g. FP32)");
  std::optional<DataType> dtype = ParseDataType(it->second.scalar);
  if (!dtype || *dtype == DataType::kBytes) {
    return InvalidArgument(
        "params.dtype must be a numeric v2 type (BOOL, UINT8, ..., FP32, FP64), "
        "not '" +
        it->second.scalar + "'");
  }
  ASSIGN_OR_RETURN(double scale, NumberParam(params, "scale", 1.0));
  ASSIGN_OR_RETURN(double offset, NumberParam(params, "offset", 0.0));
  ASSIGN_OR_RETURN(at::ScalarType type, ToTorchType(*dtype));
  return std::unique_ptr<OpKernel>(new Cast(*dtype, type, scale, offset));
}

// concat's inputs are input0 .. input{n-1}, n the number the step binds.
StatusOr<std::unique_ptr<OpKernel>> MakeConcat(const StepConfig& step) {
  RETURN_IF_ERROR(OnlyParams(step.params, {"dim"}));
  ASSIGN_OR_RETURN(int64_t dim, IntParam(step.params, "dim", 1));
  if (step.inputs.size() < 2) {
    return InvalidArgument("concat takes two or more inputs (input0, input1, ...)");
  }
  return std::unique_ptr<OpKernel>(new Concat(step.inputs.size(), dim));
}

}  // namespace

StatusOr<std::unique_ptr<OpKernel>> MakeOp(const StepConfig& step) {
  const std::string& name = step.op;
  const std::map<std::string, StepParam>& params = step.params;
  if (name == "argmax") {
    RETURN_IF_ERROR(OnlyParams(params, {"dim", "keepdim"}));
    ASSIGN_OR_RETURN(int64_t dim, IntParam(params, "dim", 1));
    ASSIGN_OR_RETURN(bool keepdim, BoolParam(params, "keepdim", false));
    return std::unique_ptr<OpKernel>(new Argmax(dim, keepdim));
  }
  if (name == "map_values") return MakeMapValues(params);
  if (name == "cast") return MakeCast(params);
  if (name == "concat") return MakeConcat(step);
  if (name.rfind("image.", 0) == 0) {
    auto op = MakeImageOp(name, params);
    if (op.ok() || op.status().code() != StatusCode::kNotFound) return op;
  }
  return InvalidArgument("unknown op '" + name +
                         "' (built-in ops: argmax, map_values, cast, concat, image.decode, "
                         "image.preprocess, image.resize_to, image.encode_png)");
}

std::unique_ptr<Instance> MakeOpInstance(std::shared_ptr<const OpKernel> kernel, Device device) {
  return std::make_unique<OpInstance>(std::move(kernel), device);
}

}  // namespace tandem
