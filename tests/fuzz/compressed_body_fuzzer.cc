// Fuzzes the inflating of compressed request bodies (server/content_encoding.h). Input: one byte
// choosing gzip (even) or deflate (odd), then the body. What inflates must stay within the
// limit, and compress and inflate again to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/content_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto encoding =
      data[0] % 2 == 0 ? tandem::ContentEncoding::kGzip : tandem::ContentEncoding::kDeflate;
  constexpr uint64_t kLimit = 1 << 16;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto inflated = tandem::Decompress(encoding, body, kLimit);
  if (!inflated.ok()) return 0;
  if (inflated->size() > kLimit) std::abort();
  auto again = tandem::Decompress(encoding, tandem::Compress(encoding, *inflated), kLimit);
  if (!again.ok() || *again != *inflated) std::abort();  // a round trip that changes the bytes
  return 0;
}
