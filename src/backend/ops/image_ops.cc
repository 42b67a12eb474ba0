// The image ops: decode (JPEG/PNG → UINT8 HWC), preprocess (resize, scale, normalise, CHW,
// batch), resize_to (to another image's size) and encode_png. Pixel math runs with ATen on the
// instance's device; decoding and encoding run on the host.
#include <ATen/ATen.h>

#include <cstdlib>

#include "backend/ops/image_codecs.h"
#include "backend/ops/op_support.h"

namespace tandem {
namespace {

StatusOr<std::vector<double>> NumbersParam(const std::map<std::string, StepParam>& params,
                                           const std::string& key, size_t count,
                                           std::vector<double> fallback) {
  auto it = params.find(key);
  if (it == params.end()) {
    if (fallback.empty()) return InvalidArgument("params." + key + " is required");
    return fallback;
  }
  std::vector<double> out;
  for (const std::string& item : it->second.list) {
    char* end = nullptr;
    out.push_back(std::strtod(item.c_str(), &end));
    if (item.empty() || *end != '\0') return InvalidArgument("params." + key + ": not a number");
  }
  if (it->second.kind != StepParam::Kind::kList || out.size() != count) {
    return InvalidArgument("params." + key + " must be a list of " + std::to_string(count) +
                           " numbers");
  }
  return out;
}

Tensor OnDevice(Tensor host, Device device) {
  return device.kind() == Device::Kind::kSim ? host.WithDevice(device) : host;
}

// BYTES [1] holding a JPEG or PNG file -> UINT8 [H, W, 3].
class Decode final : public OpKernel {
 public:
  explicit Decode(int64_t max_pixels) : max_pixels_(max_pixels) {}
  std::vector<std::string> input_names() const override { return {"bytes"}; }
  std::vector<std::string> output_names() const override { return {"image"}; }
  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const TensorConfig& in = inputs[0];
    auto count = in.shape.NumElements();
    if (in.dtype != DataType::kBytes || !in.shape.IsFixed() || !count.ok() || *count != 1) {
      return InvalidArgument("image.decode takes one BYTES element (shape [1]), not " +
                             std::string(DataTypeName(in.dtype)) + " " + in.shape.ToString());
    }
    return std::vector<TensorConfig>{{"image", DataType::kUint8, Shape({-1, -1, 3})}};
  }
  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    std::vector<std::string_view> files = inputs[0].Strings();
    if (files.size() != 1) return InvalidArgument("image.decode takes one image");
    auto image = DecodeImage(files[0], max_pixels_);
    if (!image.ok()) return image.status().WithContext("image.decode");
    auto pixels = std::make_shared<std::vector<uint8_t>>(std::move(image->rgb));
    // Read the pointer and size before the owner moves into the call.
    const uint8_t* data = pixels->data();
    const size_t size = pixels->size();
    ASSIGN_OR_RETURN(Tensor out,
                     Tensor::View(DataType::kUint8, Shape({image->height, image->width, 3}), data,
                                  size, std::move(pixels)));
    return std::vector<Tensor>{OnDevice(std::move(out), device)};
  }

 private:
  const int64_t max_pixels_;
};

// UINT8 [H, W, 3] -> FP32 [1, 3, h, w]: bilinear resize to `size`, scale to [0, 1], subtract
// `mean`, divide by `std` (per channel).
class Preprocess final : public OpKernel {
 public:
  Preprocess(int64_t height, int64_t width, std::vector<double> mean, std::vector<double> std)
      : height_(height), width_(width), mean_(std::move(mean)), std_(std::move(std)) {}
  std::vector<std::string> input_names() const override { return {"image"}; }
  std::vector<std::string> output_names() const override { return {"tensor"}; }
  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const TensorConfig& in = inputs[0];
    if (in.dtype != DataType::kUint8 || in.shape.rank() != 3 ||
        (in.shape[2] != 3 && in.shape[2] != Shape::kAnyDim)) {
      return InvalidArgument("image.preprocess takes a UINT8 [H, W, 3] image, not " +
                             std::string(DataTypeName(in.dtype)) + " " + in.shape.ToString());
    }
    return std::vector<TensorConfig>{{"tensor", DataType::kFp32, Shape({1, 3, height_, width_})}};
  }
  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      at::Tensor x = in[0].permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div(255.0);
      x = at::upsample_bilinear2d(x, {height_, width_}, /*align_corners=*/false);
      auto options = x.options();
      at::Tensor mean = at::tensor(std::vector<float>(mean_.begin(), mean_.end()), options);
      at::Tensor std = at::tensor(std::vector<float>(std_.begin(), std_.end()), options);
      x = x.sub(mean.view({1, 3, 1, 1})).div(std.view({1, 3, 1, 1}));
      return std::vector<at::Tensor>{x.contiguous()};
    });
  }

 private:
  const int64_t height_, width_;
  const std::vector<double> mean_, std_;
};

// Resizes `image` ([H, W], [N, H, W] or [N, C, H, W]) to the height and width of `like`, an
// [H', W', C] image (the decoded original, say): nearest for masks, or bilinear.
class ResizeTo final : public OpKernel {
 public:
  explicit ResizeTo(bool bilinear) : bilinear_(bilinear) {}
  std::vector<std::string> input_names() const override { return {"image", "like"}; }
  std::vector<std::string> output_names() const override { return {"image"}; }
  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const TensorConfig& image = inputs[0];
    const TensorConfig& like = inputs[1];
    if (image.shape.rank() < 2 || image.shape.rank() > 4 || image.dtype == DataType::kBytes ||
        image.dtype == DataType::kBool) {
      return InvalidArgument(
          "image.resize_to takes a numeric [H, W], [N, H, W] or [N, C, H, W] "
          "image, not " +
          std::string(DataTypeName(image.dtype)) + " " + image.shape.ToString());
    }
    if (like.shape.rank() != 3) {
      return InvalidArgument("image.resize_to takes `like` as an [H, W, C] image, not " +
                             like.shape.ToString());
    }
    std::vector<int64_t> dims = image.shape.dims();
    dims[dims.size() - 2] = like.shape[0];
    dims[dims.size() - 1] = like.shape[1];
    return std::vector<TensorConfig>{{"image", image.dtype, Shape(std::move(dims))}};
  }
  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    const int64_t height = inputs[1].shape()[0];
    const int64_t width = inputs[1].shape()[1];
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      const at::Tensor& image = in[0];
      const auto sizes = image.sizes().vec();
      const int64_t h = sizes[sizes.size() - 2], w = sizes[sizes.size() - 1];
      at::Tensor x = image.reshape({-1, 1, h, w}).to(at::kFloat);
      x = bilinear_ ? at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false)
                    : at::upsample_nearest2d(x, {height, width});
      if (at::isIntegralType(image.scalar_type(), /*includeBool=*/false)) x = x.round();
      std::vector<int64_t> out = sizes;
      out[out.size() - 2] = height;
      out[out.size() - 1] = width;
      return std::vector<at::Tensor>{x.to(image.scalar_type()).reshape(out).contiguous()};
    });
  }

 private:
  const bool bilinear_;
};

// UINT8 (or FP32 in [0, 1], scaled by 255) [H, W], [H, W, C] (C = 1, 3 or 4), [1, H, W] or
// [1, C, H, W] -> BYTES [1] PNG.
class EncodePngOp final : public OpKernel {
 public:
  std::vector<std::string> input_names() const override { return {"image"}; }
  std::vector<std::string> output_names() const override { return {"png"}; }
  StatusOr<std::vector<TensorConfig>> Outputs(
      const std::vector<TensorConfig>& inputs) const override {
    const TensorConfig& in = inputs[0];
    const size_t rank = in.shape.rank();
    if ((in.dtype != DataType::kUint8 && in.dtype != DataType::kFp32) || rank < 2 || rank > 4) {
      return InvalidArgument(
          "image.encode_png takes UINT8 or FP32 [H, W], [H, W, C] or "
          "[1, C, H, W], not " +
          std::string(DataTypeName(in.dtype)) + " " + in.shape.ToString());
    }
    return std::vector<TensorConfig>{{"png", DataType::kBytes, Shape({1})}};
  }
  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    const Shape& shape = inputs[0].shape();
    if (shape.rank() == 4 && shape[0] != 1) {
      return InvalidArgument("image.encode_png encodes one image, not a batch of " +
                             std::to_string(shape[0]));
    }
    auto pixels = WithTorch(inputs, Device::Cpu(), [&](const std::vector<at::Tensor>& in) {
      at::Tensor x = in[0];
      if (x.scalar_type() == at::kFloat) x = x.clamp(0, 1).mul(255).round().to(at::kByte);
      // [1, H, W] (a batch of one mask) unless the last dim reads as channels.
      const bool hwc = x.dim() == 3 && (x.size(2) == 1 || x.size(2) == 3 || x.size(2) == 4);
      if (x.dim() == 3 && !hwc && x.size(0) == 1) x = x.squeeze(0);
      if (x.dim() == 2) x = x.unsqueeze(2);
      if (x.dim() == 4) x = x.squeeze(0).permute({1, 2, 0});
      return std::vector<at::Tensor>{x.contiguous()};
    });
    if (!pixels.ok()) return pixels.status();
    const Tensor& image = (*pixels)[0];
    const int64_t channels = image.shape()[2];
    if (channels != 1 && channels != 3 && channels != 4) {
      return InvalidArgument("image.encode_png needs 1, 3 or 4 channels, not " +
                             std::to_string(channels));
    }
    ASSIGN_OR_RETURN(std::string png, EncodePng(image.data(), image.shape()[0], image.shape()[1],
                                                static_cast<int>(channels)));
    ASSIGN_OR_RETURN(Tensor out, Tensor::FromStrings(Shape({1}), {png}));
    return std::vector<Tensor>{OnDevice(std::move(out), device)};
  }
};

}  // namespace

StatusOr<std::unique_ptr<OpKernel>> MakeImageOp(const std::string& name,
                                                const std::map<std::string, StepParam>& params) {
  if (name == "image.decode") {
    RETURN_IF_ERROR(OnlyParams(params, {"max_pixels"}));
    ASSIGN_OR_RETURN(int64_t max_pixels, IntParam(params, "max_pixels", 8192 * 8192));
    if (max_pixels < 1) return InvalidArgument("params.max_pixels must be positive");
    return std::unique_ptr<OpKernel>(new Decode(max_pixels));
  }
  if (name == "image.preprocess") {
    RETURN_IF_ERROR(OnlyParams(params, {"size", "mean", "std"}));
    ASSIGN_OR_RETURN(std::vector<double> size, NumbersParam(params, "size", 2, {}));
    ASSIGN_OR_RETURN(std::vector<double> mean, NumbersParam(params, "mean", 3, {0, 0, 0}));
    ASSIGN_OR_RETURN(std::vector<double> std, NumbersParam(params, "std", 3, {1, 1, 1}));
    if (size[0] < 1 || size[1] < 1 || size[0] > 16384 || size[1] > 16384) {
      return InvalidArgument("params.size must be two sizes from 1 to 16384");
    }
    for (double s : std) {
      if (s == 0) return InvalidArgument("params.std must not hold 0");
    }
    return std::unique_ptr<OpKernel>(
        new Preprocess(static_cast<int64_t>(size[0]), static_cast<int64_t>(size[1]), mean, std));
  }
  if (name == "image.resize_to") {
    RETURN_IF_ERROR(OnlyParams(params, {"mode"}));
    auto it = params.find("mode");
    const std::string mode = it == params.end() ? "nearest" : it->second.scalar;
    if (mode != "nearest" && mode != "bilinear") {
      return InvalidArgument("params.mode must be nearest or bilinear");
    }
    return std::unique_ptr<OpKernel>(new ResizeTo(mode == "bilinear"));
  }
  if (name == "image.encode_png") {
    RETURN_IF_ERROR(OnlyParams(params, {}));
    return std::unique_ptr<OpKernel>(new EncodePngOp());
  }
  return NotFound("no image op '" + name + "'");
}

}  // namespace tandem
