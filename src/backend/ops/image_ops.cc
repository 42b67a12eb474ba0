// The image ops: decode (JPEG/PNG → UINT8 HWC), preprocess (resize, scale, normalise, CHW,
// batch), resize_to (to another image's size) and encode_png. Pixel math runs with ATen on the
// instance's device, resizes as Pillow computes them (Note [Pillow-exact resampling]);
// decoding and encoding run on the host.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <optional>

#include "backend/ops/byte_table.h"
#include "backend/ops/image_codecs.h"
#include "backend/ops/op_support.h"
#include "backend/ops/resample.h"

namespace tandem {
namespace {

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

// UINT8 [H, W, 3] -> FP32 [1, 3, h, w], what torchvision's Resize, ToTensor and Normalize do to
// a PIL image: resize the uint8 image to `size` with Pillow's arithmetic (none without a size),
// reorder channels if asked, scale to [0, 1] (÷255 in FP32), subtract `mean`, divide by `std`
// (per output channel, in FP32).
class Preprocess final : public OpKernel {
 public:
  Preprocess(std::optional<std::pair<int64_t, int64_t>> size, ResampleFilter filter, bool bgr,
             const std::vector<double>& mean, const std::vector<double>& std)
      : size_(size), resampler_(filter), bgr_(bgr), tables_(NormaliseTables(mean, std)) {}
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
    const int64_t height = size_ ? size_->first : in.shape[0];
    const int64_t width = size_ ? size_->second : in.shape[1];
    return std::vector<TensorConfig>{{"tensor", DataType::kFp32, Shape({1, 3, height, width})}};
  }
  StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                    Device device) const override {
    const Shape& shape = inputs[0].shape();
    if (shape[0] < 1 || shape[1] < 1 || shape[2] != 3) {
      return InvalidArgument("image.preprocess takes a non-empty [H, W, 3] image, not " +
                             shape.ToString());
    }
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      at::Tensor x = in[0];
      if (size_) x = resampler_.Resize(x, /*height_dim=*/0, size_->first, size_->second);
      if (bgr_) x = x.flip({2});
      return std::vector<at::Tensor>{LookUpPlanes(tables_.On(x.device()), x).unsqueeze(0)};
    });
  }

 private:
  // [3, 256] FP32: channel c's value for every byte, ToTensor's x / 255 then Normalize's
  // (x - mean) / std, in FP32 as torchvision computes them.
  static at::Tensor NormaliseTables(const std::vector<double>& mean,
                                    const std::vector<double>& std) {
    const at::Tensor m = at::tensor(std::vector<float>(mean.begin(), mean.end())).view({3, 1});
    const at::Tensor s = at::tensor(std::vector<float>(std.begin(), std.end())).view({3, 1});
    return ByteTable([&](const at::Tensor& bytes) {
      return bytes.to(at::kFloat).div(255).view({1, 256}).sub(m).div(s);
    });
  }

  const std::optional<std::pair<int64_t, int64_t>> size_;  // height, width
  const Resampler resampler_;
  const bool bgr_;
  const DeviceTable tables_;  // NormaliseTables
};

// Resizes `image` ([H, W], [N, H, W] or [N, C, H, W]) to the height and width of `like`, an
// [H', W', C] image (the decoded original, say), each channel as Pillow resizes an image of
// that type (mode L for UINT8, I for other integers, F for floats).
class ResizeTo final : public OpKernel {
 public:
  explicit ResizeTo(ResampleFilter filter) : resampler_(filter) {}
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
    const Shape& shape = inputs[0].shape();
    if (height < 1 || width < 1 || shape[shape.rank() - 2] < 1 || shape[shape.rank() - 1] < 1) {
      return InvalidArgument("image.resize_to: cannot resize " + shape.ToString() + " to " +
                             std::to_string(height) + " × " + std::to_string(width) +
                             " (every side must be at least 1)");
    }
    return WithTorch(inputs, device, [&](const std::vector<at::Tensor>& in) {
      const at::Tensor& image = in[0];
      return std::vector<at::Tensor>{
          resampler_.Resize(image, /*height_dim=*/image.dim() - 2, height, width)};
    });
  }

 private:
  const Resampler resampler_;
};

// UINT8 (or FP32 in [0, 1], scaled by 255) [H, W], [H, W, C] (C = 1, 3 or 4), [1, H, W] or
// [1, C, H, W] -> BYTES [1] PNG, compressed as `options` say.
class EncodePngOp final : public OpKernel {
 public:
  explicit EncodePngOp(PngOptions options) : options_(options) {}
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
                                                static_cast<int>(channels), options_));
    ASSIGN_OR_RETURN(Tensor out, Tensor::FromStrings(Shape({1}), {png}));
    return std::vector<Tensor>{OnDevice(std::move(out), device)};
  }

 private:
  const PngOptions options_;
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
    RETURN_IF_ERROR(OnlyParams(params, {"size", "resample", "channel_order", "mean", "std"}));
    std::optional<std::pair<int64_t, int64_t>> size;
    if (params.count("size")) {
      ASSIGN_OR_RETURN(std::vector<double> hw, NumbersParam(params, "size", 2, {}));
      if (hw[0] < 1 || hw[1] < 1 || hw[0] > 16384 || hw[1] > 16384 || hw[0] != std::floor(hw[0]) ||
          hw[1] != std::floor(hw[1])) {
        return InvalidArgument(
            "params.size must be [height, width], whole numbers from 1 to 16384");
      }
      size.emplace(static_cast<int64_t>(hw[0]), static_cast<int64_t>(hw[1]));
    }
    ASSIGN_OR_RETURN(std::string resample, TextParam(params, "resample", "bilinear"));
    ASSIGN_OR_RETURN(ResampleFilter filter, ParseResampleFilter(resample, "resample"));
    ASSIGN_OR_RETURN(std::string order, TextParam(params, "channel_order", "rgb"));
    if (order != "rgb" && order != "bgr") {
      return InvalidArgument("params.channel_order must be rgb or bgr, not '" + order + "'");
    }
    ASSIGN_OR_RETURN(std::vector<double> mean, NumbersParam(params, "mean", 3, {0, 0, 0}));
    ASSIGN_OR_RETURN(std::vector<double> std, NumbersParam(params, "std", 3, {1, 1, 1}));
    for (double s : std) {
      if (s == 0) return InvalidArgument("params.std must not hold 0");
    }
    return std::unique_ptr<OpKernel>(new Preprocess(size, filter, order == "bgr", mean, std));
  }
  if (name == "image.resize_to") {
    RETURN_IF_ERROR(OnlyParams(params, {"mode"}));
    ASSIGN_OR_RETURN(std::string mode, TextParam(params, "mode", "nearest"));
    ASSIGN_OR_RETURN(ResampleFilter filter, ParseResampleFilter(mode, "mode"));
    return std::unique_ptr<OpKernel>(new ResizeTo(filter));
  }
  if (name == "image.encode_png") {
    RETURN_IF_ERROR(OnlyParams(params, {"compress_level", "filter"}));
    PngOptions options;
    ASSIGN_OR_RETURN(int64_t level, IntParam(params, "compress_level", options.compress_level));
    if (level < 0 || level > 9) {
      return InvalidArgument("params.compress_level must be 0 (none) to 9 (smallest), not " +
                             std::to_string(level));
    }
    options.compress_level = static_cast<int>(level);
    ASSIGN_OR_RETURN(std::string filter, TextParam(params, "filter", "up"));
    ASSIGN_OR_RETURN(options.filter, ParsePngFilter(filter, "filter"));
    return std::unique_ptr<OpKernel>(new EncodePngOp(options));
  }
  return NotFound("no image op '" + name + "'");
}

}  // namespace tandem
