// Pillow-exact image resampling with ATen, so that pre-processing on any device computes what
// `PIL.Image.resize` (and so `torchvision.transforms.Resize` on a PIL image) computes. Internal
// to backend/ops/.
//
// Note [Pillow-exact resampling]
// Pillow resizes in two separable passes, horizontal first, each skipped when that side keeps
// its size. For output pixel i of a pass from `in` to `out` samples, with scale = in / out:
//   - the filter is widened by max(scale, 1) (antialiasing when shrinking), so its support is
//     filter.support × max(scale, 1) and a pixel reads taps [xmin, xmin + count) around
//     center = (i + 0.5) × scale, with weights filter((x - center + 0.5) / max(scale, 1))
//     normalised to sum 1;
//   - on 8-bit images the weights become integers with 22 fractional bits (rounded half away
//     from zero), the sum starts at half a unit, and the result is shifted back and clipped to
//     0..255, so every pass rounds to uint8;
//   - on other images (Pillow's modes I and F) weights stay doubles, the sum is a double taken
//     in tap order, and the pass rounds to the image's type (integers half away from zero).
// `nearest` is a different path in Pillow (a scaling affine transform): source index
// floor(x) of x = scale / 2, scale × 1.5, ... accumulated by repeated addition, as Pillow does.
// Every sum here is computed in that same order with the same integer or double arithmetic, so
// results are bit-identical to Pillow's on any device. (8-bit images on the CPU take a plain loop
// over the same taps instead of ATen's gathers, for speed; integer sums make the two equal.) Taps
// and weights depend only on (in, out, filter), so they are computed once on the host and kept per
// device.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/status.h"

namespace tandem {

enum class ResampleFilter { kNearest, kBox, kBilinear, kHamming, kBicubic, kLanczos };

// "nearest", "box", "bilinear", "hamming", "bicubic" or "lanczos" (Pillow's names), or
// INVALID_ARGUMENT naming `param` and the choices.
StatusOr<ResampleFilter> ParseResampleFilter(const std::string& name, const std::string& param);

// One filter's resampling, shared by the instances of an op on every device.
// Thread-safe: Resize may run on several workers at once; the tap cache is guarded by mu_.
class Resampler {
 public:
  // `force_aten`: 8-bit CPU images too take the ATen path (which CUDA images take), so a test
  // can hold the two paths to the same bits on a machine without a GPU.
  explicit Resampler(ResampleFilter filter, bool force_aten = false)
      : filter_(filter), force_aten_(force_aten) {}

  // `image` with dims `height_dim` and `height_dim + 1` resized to `height` × `width`, on the
  // image's device, in the image's dtype. REQUIRES: both sizes ≥ 1.
  at::Tensor Resize(const at::Tensor& image, int64_t height_dim, int64_t height,
                    int64_t width) const;

 private:
  // One pass from `in` to `out` samples: taps × out source indices (INT64) and weights
  // (INT32 fixed point for uint8 images, FP64 otherwise; undefined for nearest). On the CPU,
  // filters also keep the loop's form: per output its first source index, its tap count and
  // its fixed-point weights ([out, taps] row-major).
  struct Taps {
    at::Tensor index;
    at::Tensor fixed_weights;
    at::Tensor weights;
    std::vector<int64_t> first, count;
    std::vector<int32_t> fixed_by_output;
  };

  std::shared_ptr<const Taps> TapsFor(int64_t in, int64_t out, c10::Device device) const;
  at::Tensor Pass(const at::Tensor& image, int64_t dim, int64_t out) const;
  static at::Tensor Cpu8Pass(const at::Tensor& image, int64_t dim, int64_t out, const Taps& taps);

  // Distinct (in, out, device) triples kept at most; beyond it taps are computed per call, so
  // a stream of odd sizes cannot grow memory, and a cached tensor is never freed while a
  // worker on another stream may still read it.
  static constexpr size_t kMaxCachedTaps = 256;
  // Gathered tap values (taps × output values) an 8-bit pass holds at once, at most.
  static constexpr int64_t kMaxGathered = int64_t{1} << 24;

  const ResampleFilter filter_;
  const bool force_aten_;
  mutable std::mutex mu_;
  // (in, out, device type, device index) -> taps; guarded by mu_.
  mutable std::map<std::tuple<int64_t, int64_t, int, int>, std::shared_ptr<const Taps>> cache_;
};

}  // namespace tandem
