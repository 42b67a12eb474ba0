// Lookups in byte tables give what the tables' functions compute on the tensors themselves, bit
// for bit: for the cast op over every UINT8 value, and for image.preprocess's normalisation.
#include "backend/ops/byte_table.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/ops/op.h"
#include "config/pipeline_config.h"
#include "device/torch_tensors.h"

namespace tandem {
namespace {

TEST(ByteTable, LookUpEqualsTheFunctionForEveryDtypeSize) {
  const at::Tensor bytes = at::arange(256, at::kInt).to(at::kByte).repeat({3}).view({3, 16, 16});
  const std::vector<std::function<at::Tensor(const at::Tensor&)>> functions = {
      [](const at::Tensor& x) { return x.to(at::kFloat).div(255); },        // 4 bytes
      [](const at::Tensor& x) { return x.to(at::kDouble).mul(-0.7); },      // 8 bytes
      [](const at::Tensor& x) { return x.to(at::kShort).mul(300); },        // 2 bytes
      [](const at::Tensor& x) { return x.gt(100); },                        // BOOL
      [](const at::Tensor& x) { return x.to(at::kChar).sub(7); },           // 1 byte
      [](const at::Tensor& x) { return x.to(at::kComplexFloat).mul(2); }};  // 8 bytes, complex
  for (const auto& f : functions) {
    const at::Tensor looked_up = LookUp(ByteTable(f), bytes);
    EXPECT_TRUE(at::equal(looked_up, f(bytes))) << looked_up.scalar_type();
    EXPECT_EQ(looked_up.sizes(), bytes.sizes());
  }
  // A non-contiguous input is read in its logical order.
  const at::Tensor strided = bytes.transpose(1, 2);
  const auto f = functions[0];
  EXPECT_TRUE(at::equal(LookUp(ByteTable(f), strided), f(strided)));
}

TEST(ByteTable, PlanesAreTheNormalisationTorchvisionComputes) {
  // Every byte value in every channel, HWC, as image.decode produces it.
  const at::Tensor hwc = at::stack({at::arange(256, at::kInt), at::arange(255, -1, -1, at::kInt),
                                    at::arange(256, at::kInt).roll(77)},
                                   -1)
                             .to(at::kByte)
                             .view({16, 16, 3});
  const at::Tensor mean = at::tensor(std::vector<float>{0.485f, 0.456f, 0.406f}).view({3, 1});
  const at::Tensor std = at::tensor(std::vector<float>{0.229f, 0.224f, 0.225f}).view({3, 1});
  const at::Tensor tables = ByteTable([&](const at::Tensor& x) {
    return x.to(at::kFloat).div(255).view({1, 256}).sub(mean).div(std);
  });
  // ToTensor, then Normalize, on the whole image.
  const at::Tensor expected = hwc.permute({2, 0, 1})
                                  .to(at::kFloat)
                                  .div(255)
                                  .sub(mean.view({3, 1, 1}))
                                  .div(std.view({3, 1, 1}));
  EXPECT_TRUE(at::equal(LookUpPlanes(tables, hwc), expected));
}

// A table lives once on each device it is used on; the host's is the table itself (a GPU's:
// tests/gpu/byte_table_cuda_test.cc).
TEST(ByteTable, TheHostsTableIsTheTableItself) {
  const at::Tensor host = ByteTable([](const at::Tensor& x) { return x.to(at::kFloat).mul(3); });
  const DeviceTable table(host);
  EXPECT_TRUE(table.On(c10::Device(c10::kCPU)).is_same(host));
}

// The cast op on every UINT8 value against the formula computed on the whole tensor.
TEST(ByteTable, CastOfEveryByteEqualsTheDoubleFormula) {
  struct Case {
    std::string dtype, scale_text;
    double scale, offset;
    at::ScalarType type;
  };
  const std::vector<Case> cases = {
      {"FP32", "1/255", 1.0 / 255, 0, at::kFloat}, {"FP64", "-0.3", -0.3, 2.5, at::kDouble},
      {"INT8", "1", 1, -100, at::kChar},           {"UINT8", "1.5", 1.5, 0.5, at::kByte},
      {"INT32", "1000", 1000, -7, at::kInt},       {"BOOL", "1", 1, -3, at::kBool}};
  const at::Tensor bytes = at::arange(256, at::kInt).to(at::kByte).view({1, 256});
  for (const Case& c : cases) {
    StepConfig step;
    step.name = "cast";
    step.op = "cast";
    step.params["dtype"].scalar = c.dtype;
    step.params["scale"].scalar = c.scale_text;
    step.params["offset"].scalar = std::to_string(c.offset);
    auto op = MakeOp(step);
    ASSERT_TRUE(op.ok()) << op.status().message();
    auto input = FromTorch(bytes);
    ASSERT_TRUE(input.ok());
    auto out = (*op)->Run({*input}, Device::Cpu());
    ASSERT_TRUE(out.ok()) << out.status().message();
    auto got = ToTorch((*out)[0]);
    ASSERT_TRUE(got.ok());
    const at::Tensor x = bytes.to(at::kDouble).mul(c.scale).add(c.offset);
    at::Tensor expected;
    if (c.type == at::kBool) {
      expected = x.ne(0);
    } else if (at::isIntegralType(c.type, /*includeBool=*/false)) {
      const double low = c.type == at::kByte ? 0 : c.type == at::kChar ? -128 : -2147483648.0;
      const double high = c.type == at::kByte ? 255 : c.type == at::kChar ? 127 : 2147483647.0;
      expected = x.round().clamp(low, high).to(c.type);
    } else {
      expected = x.to(c.type);
    }
    EXPECT_TRUE(at::equal(*got, expected)) << c.dtype << " × " << c.scale_text << " + " << c.offset;
  }
}

}  // namespace
}  // namespace tandem
