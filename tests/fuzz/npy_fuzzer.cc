// Fuzzes the .npy decoder; what decodes must encode again to an equal array.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "server/npy_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  auto tensor = tandem::DecodeNpy(body);
  if (!tensor.ok()) return 0;
  auto encoded = tandem::EncodeNpy(*tensor);
  if (!encoded.ok()) return 0;
  auto again = tandem::DecodeNpy(std::make_shared<const std::string>(std::move(*encoded)));
  if (!again.ok() || again->dtype() != tensor->dtype() || !(again->shape() == tensor->shape()) ||
      again->byte_size() != tensor->byte_size() ||
      (tensor->byte_size() > 0 &&
       std::memcmp(again->data(), tensor->data(), tensor->byte_size()) != 0)) {
    std::abort();  // a round trip that changes the array
  }
  return 0;
}
