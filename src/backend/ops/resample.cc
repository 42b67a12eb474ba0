#include "backend/ops/resample.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tandem {
namespace {

// Pillow's filters and their supports (src/libImaging/Resample.c), in double precision.
double BoxFilter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingFilter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  // Pillow's constants are floats; keep them so, for the same weights.
  return std::sin(x) / x * (0.54f + 0.46f * std::cos(x));
}

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double LanczosFilter(double x) { return -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0; }

struct Filter {
  double (*weight)(double);
  double support;
};

Filter FilterOf(ResampleFilter f) {
  switch (f) {
    case ResampleFilter::kBox:
      return {BoxFilter, 0.5};
    case ResampleFilter::kBilinear:
      return {BilinearFilter, 1.0};
    case ResampleFilter::kHamming:
      return {HammingFilter, 1.0};
    case ResampleFilter::kBicubic:
      return {BicubicFilter, 2.0};
    case ResampleFilter::kLanczos:
      return {LanczosFilter, 3.0};
    case ResampleFilter::kNearest:
      break;
  }
  return {nullptr, 0.0};
}

// Fractional bits of the 8-bit path's fixed-point weights (Pillow's PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;

// Host tables for one pass: `taps` rows of `out` entries, row-major [taps, out]; and per output,
// its first source index and how many taps it uses (filters only).
struct HostTaps {
  int64_t taps = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<int64_t> first, count;
};

// Pillow's precompute_coeffs for the whole axis (box [0, in)). Taps past a pixel's last one get
// weight 0 and repeat its last index, so every row can be gathered.
HostTaps FilterTaps(const Filter& filter, int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  HostTaps t;
  t.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.index.assign(t.taps * out, 0);
  t.weight.assign(t.taps * out, 0.0);
  std::vector<double> k(t.taps);
  t.first.resize(out);
  t.count.resize(out);
  for (int64_t xx = 0; xx < out; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // C casts truncate toward zero, as Pillow's do.
    int64_t xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in) xmax = in;
    xmax -= xmin;
    t.first[xx] = xmin;
    t.count[xx] = xmax;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int64_t x = 0; x < t.taps; ++x) {
      const bool used = x < xmax;
      t.index[x * out + xx] = used ? xmin + x : xmin + (xmax > 0 ? xmax - 1 : 0);
      t.weight[x * out + xx] = used ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
    }
  }
  return t;
}

// Pillow's nearest-neighbour scaling (ImagingScaleAffine): one tap, the position accumulated.
HostTaps NearestTaps(int64_t in, int64_t out) {
  const double step = static_cast<double>(in) / static_cast<double>(out);
  HostTaps t;
  t.taps = 1;
  double position = step * 0.5;
  for (int64_t x = 0; x < out; ++x) {
    const int64_t index = position < 0.0 ? -1 : static_cast<int>(position);
    t.index.push_back(std::clamp<int64_t>(index, 0, in - 1));
    position += step;
  }
  return t;
}

}  // namespace

StatusOr<ResampleFilter> ParseResampleFilter(const std::string& name, const std::string& param) {
  static const std::map<std::string, ResampleFilter> kNames = {
      {"nearest", ResampleFilter::kNearest},   {"box", ResampleFilter::kBox},
      {"bilinear", ResampleFilter::kBilinear}, {"hamming", ResampleFilter::kHamming},
      {"bicubic", ResampleFilter::kBicubic},   {"lanczos", ResampleFilter::kLanczos}};
  auto it = kNames.find(name);
  if (it == kNames.end()) {
    return InvalidArgument("params." + param + " must be one of nearest, box, bilinear, " +
                           "hamming, bicubic, lanczos (Pillow's filters), not '" + name + "'");
  }
  return it->second;
}

std::shared_ptr<const Resampler::Taps> Resampler::TapsFor(int64_t in, int64_t out,
                                                          c10::Device device) const {
  const auto key =
      std::make_tuple(in, out, static_cast<int>(device.type()), static_cast<int>(device.index()));
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  const HostTaps host = filter_ == ResampleFilter::kNearest
                            ? NearestTaps(in, out)
                            : FilterTaps(FilterOf(filter_), in, out);
  auto taps = std::make_shared<Taps>();
  // Blocking copies: the tables are complete on the device before any stream reads them.
  taps->index = at::tensor(host.index, at::kLong).view({host.taps, out}).to(device);
  if (filter_ != ResampleFilter::kNearest) {
    std::vector<int32_t> fixed(host.weight.size());
    for (size_t i = 0; i < fixed.size(); ++i) {
      const double w = host.weight[i] * (1 << kPrecisionBits);
      fixed[i] = static_cast<int32_t>(w < 0 ? -0.5 + w : 0.5 + w);
    }
    if (device.is_cpu()) {
      taps->first = host.first;
      taps->count = host.count;
      taps->fixed_by_output.resize(fixed.size());
      for (int64_t j = 0; j < host.taps; ++j) {
        for (int64_t xx = 0; xx < out; ++xx) {
          taps->fixed_by_output[xx * host.taps + j] = fixed[j * out + xx];
        }
      }
    }
    taps->fixed_weights = at::tensor(fixed, at::kInt).view({host.taps, out}).to(device);
    taps->weights = at::tensor(host.weight, at::kDouble).view({host.taps, out}).to(device);
  }
  std::lock_guard lock(mu_);
  if (cache_.size() < kMaxCachedTaps) cache_.emplace(key, taps);
  return taps;
}

namespace {

// Output samples `begin` to `end` (as rows of `outer` × `out`) of an 8-bit pass: each sums the
// `count` consecutive source lines (of `inner` bytes) from its first, weighted, in the integers
// Pillow uses. kInner > 0 fixes `inner` at compile time (the channels of a horizontal pass), so
// the sums stay in registers; 0 takes it at run time (a vertical pass's whole rows, where the
// loop over them vectorises).
struct LoopTaps {
  const int64_t* first;
  const int64_t* count;
  const int32_t* weights;  // [out, stride]
  int64_t stride;
};

template <int64_t kInner>
void Cpu8Rows(const uint8_t* src, uint8_t* dst, int64_t in, int64_t out, int64_t inner,
              const LoopTaps& taps, int64_t begin, int64_t end) {
  const int64_t n = kInner > 0 ? kInner : inner;
  std::vector<int32_t> buffer(kInner > 0 ? 0 : n);
  int32_t fixed[kInner > 0 ? kInner : 1];
  int32_t* sum = kInner > 0 ? fixed : buffer.data();
  for (int64_t row = begin; row < end; ++row) {
    const int64_t o = row / out, xx = row % out;
    const uint8_t* line = src + (o * in + taps.first[xx]) * n;
    const int32_t* weight = taps.weights + xx * taps.stride;
    for (int64_t c = 0; c < n; ++c) sum[c] = 1 << (kPrecisionBits - 1);
    for (int64_t j = 0; j < taps.count[xx]; ++j, line += n) {
      const int32_t w = weight[j];
      for (int64_t c = 0; c < n; ++c) sum[c] += line[c] * w;
    }
    uint8_t* target = dst + row * n;
    for (int64_t c = 0; c < n; ++c) {
      target[c] = static_cast<uint8_t>(std::clamp(sum[c] >> kPrecisionBits, 0, 255));
    }
  }
}

}  // namespace

// The 8-bit pass on a contiguous CPU image as plain loops: the same taps, weights and integer
// sums as the ATen path (so the same bits; tests/ops/resample_paths_test.cc holds them equal),
// without the gathered copies that make ATen's version memory-bound on a CPU.
at::Tensor Resampler::Cpu8Pass(const at::Tensor& image, int64_t dim, int64_t out,
                               const Taps& taps) {
  const int64_t in = image.size(dim);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= image.size(d);
  for (int64_t d = dim + 1; d < image.dim(); ++d) inner *= image.size(d);
  std::vector<int64_t> sizes = image.sizes().vec();
  sizes[dim] = out;
  at::Tensor result = at::empty(sizes, image.options());
  const uint8_t* src = image.const_data_ptr<uint8_t>();
  uint8_t* dst = result.mutable_data_ptr<uint8_t>();
  const LoopTaps loop{taps.first.data(), taps.count.data(), taps.fixed_by_output.data(),
                      static_cast<int64_t>(taps.fixed_by_output.size()) / out};
  at::parallel_for(0, outer * out, std::max<int64_t>(1, 16384 / (inner * loop.stride + 1)),
                   [&](int64_t begin, int64_t end) {
                     if (inner == 1) return Cpu8Rows<1>(src, dst, in, out, 1, loop, begin, end);
                     if (inner == 3) return Cpu8Rows<3>(src, dst, in, out, 3, loop, begin, end);
                     if (inner == 4) return Cpu8Rows<4>(src, dst, in, out, 4, loop, begin, end);
                     Cpu8Rows<0>(src, dst, in, out, inner, loop, begin, end);
                   });
  return result;
}

at::Tensor Resampler::Pass(const at::Tensor& image, int64_t dim, int64_t out) const {
  const int64_t in = image.size(dim);
  if (in == out) return image;
  const std::shared_ptr<const Taps> taps = TapsFor(in, out, image.device());
  if (filter_ == ResampleFilter::kNearest) return image.index_select(dim, taps->index[0]);
  // Weights broadcast along `dim`: [out] there, 1 elsewhere.
  std::vector<int64_t> weight_shape(image.dim(), 1);
  weight_shape[dim] = out;
  const int64_t count = taps->index.size(0);
  if (image.scalar_type() == at::kByte && image.device().is_cpu() && image.is_contiguous() &&
      !force_aten_) {
    return Cpu8Pass(image, dim, out, *taps);
  }
  if (image.scalar_type() == at::kByte) {
    // Integer sums are exact in any order, so all taps are gathered and summed at once (a few
    // large ops instead of four per tap), unless that would hold too many gathered values.
    std::vector<int64_t> sizes = image.sizes().vec();
    sizes[dim] = out;
    const int64_t outputs = c10::multiply_integers(sizes);
    at::Tensor sum;
    if (count * outputs <= kMaxGathered) {
      std::vector<int64_t> split = sizes;  // [..., taps, out, ...]
      split.insert(split.begin() + dim, count);
      std::vector<int64_t> weights_split(image.dim() + 1, 1);
      weights_split[dim] = count;
      weights_split[dim + 1] = out;
      at::Tensor taps_of_all =
          image.index_select(dim, taps->index.flatten()).view(split).to(at::kInt);
      sum = taps_of_all.mul_(taps->fixed_weights.view(weights_split)).sum(dim, false, at::kInt);
      sum.add_(1 << (kPrecisionBits - 1));
    } else {
      sum = at::full(sizes, 1 << (kPrecisionBits - 1), image.options().dtype(at::kInt));
      for (int64_t j = 0; j < count; ++j) {
        sum.add_(image.index_select(dim, taps->index[j]).to(at::kInt) *
                 taps->fixed_weights[j].view(weight_shape));
      }
    }
    return at::bitwise_right_shift(sum, kPrecisionBits).clamp_(0, 255).to(at::kByte);
  }
  // Double sums round at each step: taken one tap at a time, in Pillow's order.
  at::Tensor sum;
  for (int64_t j = 0; j < count; ++j) {
    at::Tensor term = image.index_select(dim, taps->index[j]).to(at::kDouble) *
                      taps->weights[j].view(weight_shape);
    sum = j == 0 ? term : sum.add_(term);
  }
  if (at::isIntegralType(image.scalar_type(), /*includeBool=*/false)) {
    sum = at::where(sum >= 0, (sum + 0.5).floor(), (sum - 0.5).ceil());  // half away from zero
  }
  return sum.to(image.scalar_type());
}

at::Tensor Resampler::Resize(const at::Tensor& image, int64_t height_dim, int64_t height,
                             int64_t width) const {
  // Horizontal first, as Pillow does: the order decides where each pass rounds.
  at::Tensor x = Pass(image, height_dim + 1, width);
  return Pass(x, height_dim, height).contiguous();
}

}  // namespace tandem
