// The CUDA paths of device/: an instance worker's stream, pinned host copies and copies between
// GPUs. Each test skips itself where LibTorch sees no GPU (ctest label `gpu`).
#include "device/device_stream.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "device/device_tensors.h"
#include "device/torch_tensors.h"

namespace tandem {
namespace {

#define REQUIRE_GPUS(n)                                                  \
  if (static_cast<int>(torch::cuda::device_count()) < (n)) {             \
    GTEST_SKIP() << "needs " << (n) << " CUDA device(s); LibTorch sees " \
                 << torch::cuda::device_count();                         \
  }

TEST(DeviceStream, CpuAndSimDevicesJustRunTheWork) {
  for (Device device : {Device::Cpu(), Device::Sim(0)}) {
    DeviceStream stream(device);
    int calls = 0;
    EXPECT_TRUE(stream
                    .Run([&] {
                      ++calls;
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_EQ(stream
                  .Run([&] {
                    ++calls;
                    return Internal("boom");
                  })
                  .message(),
              "boom");
    EXPECT_EQ(calls, 2);
  }
}

TEST(DeviceStream, WorkRunsOnItsOwnStreamAndIsDoneWhenRunReturns) {
  REQUIRE_GPUS(1);
  DeviceStream stream(Device::Cuda(0));
  const at::Tensor a = at::rand({512, 512});
  at::Tensor product;
  at::cuda::CUDAEvent launched;
  ASSERT_TRUE(stream
                  .Run([&] {
                    const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(0);
                    EXPECT_NE(current, c10::cuda::getDefaultCUDAStream(0));
                    at::Tensor on_gpu = MoveTo(a, c10::Device(c10::kCUDA, 0));
                    for (int i = 0; i < 20; ++i) on_gpu = at::matmul(on_gpu, on_gpu).tanh();
                    product = on_gpu;
                    launched.record(current);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(launched.query()) << "Run returned before its stream's work was done";
  at::Tensor expected = a.clone();
  for (int i = 0; i < 20; ++i) expected = at::matmul(expected, expected).tanh();
  EXPECT_TRUE(at::allclose(product.cpu(), expected, 1e-3, 1e-4));
}

TEST(DeviceStream, TwoStreamsOfOneDeviceAreDifferent) {
  REQUIRE_GPUS(1);
  c10::cuda::CUDAStream first = c10::cuda::getDefaultCUDAStream(0);
  c10::cuda::CUDAStream second = first;
  DeviceStream a(Device::Cuda(0)), b(Device::Cuda(0));
  ASSERT_TRUE(a.Run([&] {
                 first = c10::cuda::getCurrentCUDAStream(0);
                 return Status::Ok();
               }).ok());
  ASSERT_TRUE(b.Run([&] {
                 second = c10::cuda::getCurrentCUDAStream(0);
                 return Status::Ok();
               }).ok());
  EXPECT_NE(first, second);
}

TEST(MoveTo, HostToDeviceAndBackThroughPinnedMemory) {
  REQUIRE_GPUS(1);
  DeviceStream stream(Device::Cuda(0));
  const at::Tensor host = at::arange(1 << 20, at::kFloat).reshape({1024, 1024}).t();
  at::Tensor back;
  ASSERT_TRUE(stream
                  .Run([&] {
                    at::Tensor device = MoveTo(host, c10::Device(c10::kCUDA, 0));
                    EXPECT_TRUE(device.is_cuda());
                    back = MoveTo(device * 2, c10::Device(c10::kCPU));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(back.is_pinned());
  EXPECT_TRUE(at::equal(back, host * 2));
}

TEST(MoveTo, BetweenTwoGpus) {
  REQUIRE_GPUS(2);
  const at::Tensor host = at::rand({256, 1024});
  DeviceStream first(Device::Cuda(0)), second(Device::Cuda(1));
  at::Tensor on_first, on_second;
  ASSERT_TRUE(first
                  .Run([&] {
                    on_first = MoveTo(host, c10::Device(c10::kCUDA, 0)).sqrt();
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(second
                  .Run([&] {
                    on_second = MoveTo(on_first, c10::Device(c10::kCUDA, 1)) + 1;
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(on_second.device(), c10::Device(c10::kCUDA, 1));
  EXPECT_TRUE(at::allclose(on_second.cpu(), host.sqrt() + 1));
}

TEST(ToHost, AnswersComeBackFromTheDevice) {
  REQUIRE_GPUS(1);
  DeviceStream stream(Device::Cuda(0));
  StatusOr<Tensor> on_device = Internal("not run");
  ASSERT_TRUE(
      stream
          .Run([&] {
            ASSIGN_OR_RETURN(Tensor zeros, Tensor::Allocate(DataType::kFp32, Shape({4, 4})));
            ASSIGN_OR_RETURN(at::Tensor view, ToTorch(zeros));
            on_device = FromTorch(MoveTo(view + 3, c10::Device(c10::kCUDA, 0)));
            return on_device.status();
          })
          .ok());
  StatusOr<Tensor> host = ToHost(*on_device);
  ASSERT_TRUE(host.ok()) << host.status().message();
  EXPECT_EQ(host->device(), Device::Cpu());
  const float* values = reinterpret_cast<const float*>(host->data());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(values[i], 3.0f);
}

}  // namespace
}  // namespace tandem
