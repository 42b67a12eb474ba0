// JPEG and PNG decoding and PNG encoding for the image ops: TurboJPEG and libspng, host memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tandem {

struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> rgb;  // height × width × 3, row-major
};

// Decodes a JPEG or PNG file to 8-bit RGB. Fails with INVALID_ARGUMENT for anything else, for
// corrupt data, and for images over `max_pixels` (refused before allocating).
StatusOr<DecodedImage> DecodeImage(std::string_view bytes, int64_t max_pixels);

// Encodes 8-bit pixels, `channels` (1 gray, 3 RGB, 4 RGBA) per pixel, row-major, as PNG.
StatusOr<std::string> EncodePng(const uint8_t* pixels, int64_t height, int64_t width, int channels);

}  // namespace tandem
