// Fuzzes the v2 infer request decoder (JSON and the binary data extension) and the validation
// that follows it. Input: two bytes choosing Inference-Header-Content-Length (0xffff: absent),
// then the body.
#include <cstdint>
#include <memory>
#include <string>

#include "config/request_validation.h"
#include "server/v2_codec.h"

namespace {

tandem::ModelConfig FuzzConfig() {
  tandem::ModelConfig config;
  config.name = "fuzz";
  config.max_batch_size = 4;
  config.inputs = {{"x", tandem::DataType::kFp32, tandem::Shape({-1, 2})},
                   {"s", tandem::DataType::kBytes, tandem::Shape({1})}};
  config.outputs = {{"y", tandem::DataType::kFp32, tandem::Shape({2})}};
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned selector = data[0] | (data[1] << 8);
  auto body =
      std::make_shared<const std::string>(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::optional<size_t> json_length;
  if (selector != 0xffff) json_length = selector;
  static const tandem::ModelConfig config = FuzzConfig();
  auto decoded = json_length == std::optional<size_t>(0)
                     ? tandem::DecodeRawInferRequest(body, config)
                     : tandem::DecodeInferRequest(body, json_length);
  if (!decoded.ok()) return 0;
  auto validated = tandem::ValidateRequest(config, decoded->request);
  if (validated.ok()) {
    // Touch every byte a validated tensor claims, so a view past its buffer shows up.
    uint8_t sum = 0;
    for (const tandem::Tensor& t : validated->inputs) {
      for (size_t i = 0; i < t.byte_size(); ++i) sum ^= t.data()[i];
    }
    asm volatile("" : : "r"(sum));  // keep the reads
  }
  return 0;
}
