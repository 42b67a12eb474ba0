// The two 8-bit resampling paths, the CPU loop and the ATen gathers that CUDA images take,
// compute the same bits (tests/integration/test_resample.py holds the CPU path to Pillow's).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "backend/ops/resample.h"

namespace tandem {
namespace {

TEST(ResamplePaths, CpuLoopEqualsAtenGathers) {
  const std::vector<ResampleFilter> filters = {ResampleFilter::kBox, ResampleFilter::kBilinear,
                                               ResampleFilter::kHamming, ResampleFilter::kBicubic,
                                               ResampleFilter::kLanczos};
  // (height, width) -> (height, width): up, down, one side, 1-pixel edges, a large shrink.
  const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>> sizes = {
      {207, 301, 320, 320}, {320, 320, 207, 301}, {1, 1, 5, 3},      {13, 7, 40, 7},
      {300, 200, 3, 2},     {64, 48, 32, 24},     {1500, 900, 15, 9}};
  at::manual_seed(0);
  for (ResampleFilter filter : filters) {
    const Resampler loop(filter), aten(filter, /*force_aten=*/true);
    for (const auto& [h, w, oh, ow] : sizes) {
      // HWC (image.preprocess) and NCHW (image.resize_to).
      const at::Tensor hwc = at::randint(0, 256, {h, w, 3}, at::kByte);
      EXPECT_TRUE(at::equal(loop.Resize(hwc, 0, oh, ow), aten.Resize(hwc, 0, oh, ow)))
          << static_cast<int>(filter) << " " << h << "x" << w << " -> " << oh << "x" << ow;
      const at::Tensor nchw = at::randint(0, 256, {2, 1, h, w}, at::kByte);
      EXPECT_TRUE(at::equal(loop.Resize(nchw, 2, oh, ow), aten.Resize(nchw, 2, oh, ow)))
          << static_cast<int>(filter) << " " << h << "x" << w << " -> " << oh << "x" << ow;
    }
  }
}

}  // namespace
}  // namespace tandem
