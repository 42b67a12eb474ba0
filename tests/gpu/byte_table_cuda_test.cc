// The built-in ops' byte tables on a GPU: copied there once, on first use, and read there.
// Skips itself where LibTorch sees no GPU (ctest label `gpu`).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "backend/ops/byte_table.h"

namespace tandem {
namespace {

TEST(ByteTableCuda, ATableIsCopiedToTheGpuOnceAndLooksUpThere) {
  if (torch::cuda::device_count() < 1) GTEST_SKIP() << "needs a CUDA device";
  const at::Tensor host = ByteTable([](const at::Tensor& x) { return x.to(at::kFloat).mul(3); });
  const DeviceTable table(host);
  const c10::Device gpu(c10::kCUDA, 0);
  const at::Tensor on_gpu = table.On(gpu);
  EXPECT_EQ(on_gpu.device(), gpu);
  EXPECT_TRUE(table.On(gpu).is_same(on_gpu));  // made once
  const at::Tensor bytes = at::arange(256, at::kInt).to(at::kByte).view({16, 16});
  EXPECT_TRUE(at::equal(LookUp(on_gpu, bytes.to(gpu)).cpu(), LookUp(host, bytes)));
  const at::Tensor hwc = bytes.view({16, 16, 1}).repeat({1, 1, 3});
  const at::Tensor planes = DeviceTable(host.view({1, 256}).repeat({3, 1})).On(gpu);
  EXPECT_TRUE(at::equal(LookUpPlanes(planes, hwc.to(gpu)).cpu(), LookUpPlanes(planes.cpu(), hwc)));
}

}  // namespace
}  // namespace tandem
