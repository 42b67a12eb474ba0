// Fuzzes JPEG and PNG decoding (TurboJPEG, libspng) as image.decode runs it.
#include <cstdint>
#include <string_view>

#include "backend/ops/image_codecs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto image = tandem::DecodeImage(std::string_view(reinterpret_cast<const char*>(data), size),
                                   /*max_pixels=*/1 << 20);
  if (image.ok() && image->rgb.size() != static_cast<size_t>(image->height * image->width * 3)) {
    __builtin_trap();
  }
  return 0;
}
