#include <gtest/gtest.h>

#include "core/data_type.h"
#include "core/device.h"
#include "core/shape.h"
#include "core/status.h"
#include "core/tensor.h"

namespace tandem {
namespace {

TEST(DataTypeTest, EveryV2NameRoundTripsWithItsSize) {
  const std::pair<const char*, size_t> expected[] = {
      {"BOOL", 1}, {"UINT8", 1}, {"UINT16", 2}, {"UINT32", 4}, {"UINT64", 8},
      {"INT8", 1}, {"INT16", 2}, {"INT32", 4},  {"INT64", 8},  {"FP16", 2},
      {"BF16", 2}, {"FP32", 4},  {"FP64", 8},   {"BYTES", 0}};
  for (const auto& [name, size] : expected) {
    auto dtype = ParseDataType(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_EQ(DataTypeName(*dtype), name);
    EXPECT_EQ(DataTypeSize(*dtype), size) << name;
  }
}

TEST(DataTypeTest, RejectsUnknownAndLowerCaseNames) {
  EXPECT_FALSE(ParseDataType("fp32").has_value());
  EXPECT_FALSE(ParseDataType("FLOAT").has_value());
  EXPECT_FALSE(ParseDataType("").has_value());
}

TEST(ShapeTest, CountsElements) {
  EXPECT_EQ(*Shape({2, 3, 4}).NumElements(), 24);
  EXPECT_EQ(*Shape({}).NumElements(), 1);
  EXPECT_EQ(*Shape({5, 0}).NumElements(), 0);
}

TEST(ShapeTest, RefusesNegativeAndOverflowingShapes) {
  EXPECT_EQ(Shape({2, -1}).NumElements().status().code(), StatusCode::kInvalidArgument);
  auto huge = Shape({1ll << 40, 1ll << 40}).NumElements();
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("64 bits"), std::string::npos);
}

TEST(ShapeTest, AcceptsConcreteShapesWhereConfigSaysAny) {
  Shape config({-1, 3});
  EXPECT_TRUE(config.Accepts(Shape({7, 3})));
  EXPECT_FALSE(config.Accepts(Shape({7, 4})));
  EXPECT_FALSE(config.Accepts(Shape({7, 3, 1})));
  EXPECT_EQ(config.Prepend(-1).ToString(), "[-1, -1, 3]");
}

TEST(DeviceTest, ParsesAndPrints) {
  EXPECT_EQ(Device::Parse("cpu")->ToString(), "cpu");
  EXPECT_EQ(*Device::Parse("cuda:3"), Device::Cuda(3));
  EXPECT_EQ(*Device::Parse("sim:0"), Device::Sim(0));
  EXPECT_FALSE(Device::Parse("cuda").ok());
  EXPECT_FALSE(Device::Parse("cuda:-1").ok());
  EXPECT_FALSE(Device::Parse("gpu:0").ok());
  EXPECT_FALSE(Device::Parse("cuda:1x").ok());
}

TEST(TensorTest, AllocateZeroFills) {
  auto t = Tensor::Allocate(DataType::kInt32, Shape({2, 2}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->byte_size(), 16u);
  for (int32_t v : t->Values<int32_t>()) EXPECT_EQ(v, 0);
}

TEST(TensorTest, ViewChecksByteCountAgainstShape) {
  auto body = std::make_shared<std::string>(12, '\0');
  EXPECT_TRUE(Tensor::View(DataType::kFp32, Shape({3}), body->data(), 12, body).ok());
  auto bad = Tensor::View(DataType::kFp32, Shape({4}), body->data(), 12, body);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("needs 16 bytes"), std::string::npos);
}

TEST(TensorTest, ViewKeepsOwnerAlive) {
  std::weak_ptr<std::string> weak;
  Tensor t;
  {
    auto body = std::make_shared<std::string>("abcd");
    weak = body;
    t = *Tensor::View(DataType::kUint8, Shape({4}), body->data(), 4, body);
  }
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(t.data()[3], 'd');
}

TEST(TensorTest, BytesRoundTrip) {
  auto t = Tensor::FromStrings(Shape({2}), {"hi", ""});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->byte_size(), 4u + 2 + 4);
  auto strings = t->Strings();
  ASSERT_EQ(strings.size(), 2u);
  EXPECT_EQ(strings[0], "hi");
  EXPECT_EQ(strings[1], "");
}

TEST(TensorTest, BytesElementsThatOverrunAreRefused) {
  // One element claiming 100 bytes with only 3 present.
  const std::string data(
      "\x64\x00\x00\x00"
      "abc",
      7);
  auto owner = std::make_shared<std::string>(data);
  auto t = Tensor::View(DataType::kBytes, Shape({1}), owner->data(), owner->size(), owner);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("claims 100 bytes"), std::string::npos);
  // A truncated length prefix.
  EXPECT_FALSE(ValidateBytesElements({reinterpret_cast<const uint8_t*>("\x01\x00"), 2}, 1).ok());
  // Leftover bytes after the declared elements.
  EXPECT_FALSE(
      ValidateBytesElements({reinterpret_cast<const uint8_t*>("\x00\x00\x00\x00z"), 5}, 1).ok());
}

TEST(StatusTest, CarriesCodeAndContext) {
  Status s = InvalidArgument("bad").WithContext("input 'x'");
  EXPECT_EQ(s.ToString(), "INVALID_ARGUMENT: input 'x': bad");
  StatusOr<int> v = 3;
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
  StatusOr<int> e = NotFound("nope");
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tandem
