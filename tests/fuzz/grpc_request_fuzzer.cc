// Fuzzes the v2 gRPC infer request decoder (a ModelInferRequest message, raw or typed contents)
// and the validation that follows it. Input: the serialized message.
#include <cstdint>
#include <memory>

#include "fuzz_model.h"
#include "server/grpc/grpc_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(data, static_cast<int>(size))) return 0;
  auto decoded = tandem::DecodeInferRequest(std::move(message));
  if (decoded.ok()) tandem::fuzz::ValidateAndTouch(*decoded);
  return 0;
}
