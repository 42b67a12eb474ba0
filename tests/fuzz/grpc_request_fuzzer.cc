// Fuzzes the v2 gRPC infer request decoder (a ModelInferRequest message, raw or typed contents)
// and the validation that follows it. Input: the serialized message.
#include <cstdint>
#include <memory>

#include "config/request_validation.h"
#include "server/grpc/grpc_codec.h"

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
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(data, static_cast<int>(size))) return 0;
  static const tandem::ModelConfig config = FuzzConfig();
  auto decoded = tandem::DecodeInferRequest(std::move(message));
  if (!decoded.ok()) return 0;
  auto validated = tandem::ValidateRequest(config, *decoded);
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
