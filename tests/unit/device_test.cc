#include <gtest/gtest.h>

#include "device/device_set.h"
#include "device/device_tensors.h"

namespace tandem {
namespace {

// 1 MB at 1 GB/s: a crossing holds the receiving sim device for 1 ms.
constexpr size_t kBytes = 1'000'000;

class BringToTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto devices = DeviceSet::Create(/*cuda_count=*/0, {{}, /*sim_gpus=*/2, /*copy_gbps=*/1.0});
    ASSERT_TRUE(devices.ok()) << devices.status().ToString();
    devices_ = std::make_unique<DeviceSet>(std::move(*devices));
    host_ = *Tensor::Allocate(DataType::kUint8, Shape({static_cast<int64_t>(kBytes)}));
  }
  std::unique_ptr<DeviceSet> devices_;
  Tensor host_;
};

TEST_F(BringToTest, TensorFromAnotherSimDeviceCostsTheReceiverACopy) {
  const Tensor made_on_0 = host_.WithDevice(Device::Sim(0));
  auto brought = BringTo(made_on_0, Device::Sim(1), *devices_);
  ASSERT_TRUE(brought.ok()) << brought.status().ToString();
  EXPECT_EQ(brought->device(), Device::Sim(1));
  EXPECT_EQ(brought->data(), made_on_0.data());  // the simulated copy moves no bytes
  EXPECT_GE(devices_->sim(1).busy_time(), std::chrono::nanoseconds(kBytes));
  EXPECT_EQ(devices_->sim(0).busy_time().count(), 0);
}

TEST_F(BringToTest, TensorAlreadyThereOrFromTheHostCostsNothing) {
  auto same = BringTo(host_.WithDevice(Device::Sim(1)), Device::Sim(1), *devices_);
  auto from_host = BringTo(host_, Device::Sim(1), *devices_);
  ASSERT_TRUE(same.ok() && from_host.ok());
  EXPECT_EQ(same->device(), Device::Sim(1));
  EXPECT_EQ(from_host->device(), Device::Cpu());
  EXPECT_EQ(devices_->sim(1).busy_time().count(), 0);
}

TEST_F(BringToTest, SimTensorForTheCpuIsHostMemory) {
  auto brought = BringTo(host_.WithDevice(Device::Sim(0)), Device::Cpu(), *devices_);
  ASSERT_TRUE(brought.ok());
  EXPECT_EQ(brought->device(), Device::Cpu());
  EXPECT_EQ(devices_->sim(0).busy_time().count(), 0);
}

}  // namespace
}  // namespace tandem
