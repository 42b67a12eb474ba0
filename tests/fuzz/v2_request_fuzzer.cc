// Fuzzes the v2 infer request decoder (JSON and the binary data extension) and the validation
// that follows it. Input: two bytes choosing Inference-Header-Content-Length (0xffff: absent),
// then the body.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_model.h"
#include "server/v2_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned selector = data[0] | (data[1] << 8);
  auto body =
      std::make_shared<const std::string>(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::optional<size_t> json_length;
  if (selector != 0xffff) json_length = selector;
  auto decoded = json_length == std::optional<size_t>(0)
                     ? tandem::DecodeRawInferRequest(body, tandem::fuzz::Model())
                     : tandem::DecodeInferRequest(body, json_length);
  if (decoded.ok()) tandem::fuzz::ValidateAndTouch(decoded->request);
  return 0;
}
