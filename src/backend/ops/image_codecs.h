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

// How a PNG is compressed: zlib's level (0 none … 9 smallest) and the row filter (one of PNG's
// five, or `adaptive`: the one that looks best for each row, which costs several times the
// compression itself at low levels).
enum class PngFilter { kNone, kSub, kUp, kAverage, kPaeth, kAdaptive };
struct PngOptions {
  int compress_level = 1;
  PngFilter filter = PngFilter::kUp;
};

// "none", "sub", "up", "average", "paeth" or "adaptive", or INVALID_ARGUMENT naming `param`.
StatusOr<PngFilter> ParsePngFilter(const std::string& name, const std::string& param);

// Encodes 8-bit pixels, `channels` (1 gray, 3 RGB, 4 RGBA) per pixel, row-major, as PNG.
StatusOr<std::string> EncodePng(const uint8_t* pixels, int64_t height, int64_t width, int channels,
                                const PngOptions& options);

}  // namespace tandem
