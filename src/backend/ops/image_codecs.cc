#include "backend/ops/image_codecs.h"

#include <spng.h>
#include <turbojpeg.h>

#include <map>
#include <memory>

namespace tandem {
namespace {

bool IsJpeg(std::string_view b) {
  return b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF &&
         static_cast<uint8_t>(b[1]) == 0xD8 && static_cast<uint8_t>(b[2]) == 0xFF;
}

bool IsPng(std::string_view b) {
  return b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8);
}

StatusOr<DecodedImage> DecodeJpeg(std::string_view bytes, int64_t max_pixels) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) return Internal("cannot start the JPEG decoder");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), data, bytes.size(), &width, &height, &subsampling,
                          &colorspace) != 0) {
    return InvalidArgument(std::string("not a readable JPEG image: ") +
                           tjGetErrorStr2(handle.get()));
  }
  if (width <= 0 || height <= 0 || int64_t{width} * height > max_pixels) {
    return InvalidArgument("the JPEG image is " + std::to_string(width) + "x" +
                           std::to_string(height) + "; at most " + std::to_string(max_pixels) +
                           " pixels are accepted");
  }
  DecodedImage image{height, width, std::vector<uint8_t>(size_t(width) * height * 3)};
  if (tjDecompress2(handle.get(), data, bytes.size(), image.rgb.data(), width, 0, height, TJPF_RGB,
                    TJFLAG_ACCURATEDCT) != 0) {
    const std::string message = tjGetErrorStr2(handle.get());
    if (tjGetErrorCode(handle.get()) == TJERR_FATAL) {
      return InvalidArgument("corrupt JPEG image: " + message);
    }
    // libjpeg fills what a truncated file lacks with grey and only warns; Pillow refuses such a
    // file ("image file is truncated"), and so does Tandem. Other warnings (extraneous bytes
    // before a marker, say) leave every pixel decoded, as Pillow accepts them.
    if (message.find("Premature end") != std::string::npos) {
      return InvalidArgument("truncated JPEG image: " + message);
    }
  }
  return image;
}

StatusOr<DecodedImage> DecodePng(std::string_view bytes, int64_t max_pixels) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(0), spng_ctx_free);
  if (!ctx) return Internal("cannot start the PNG decoder");
  spng_set_crc_action(ctx.get(), SPNG_CRC_USE, SPNG_CRC_USE);
  spng_set_png_buffer(ctx.get(), bytes.data(), bytes.size());
  spng_ihdr header{};
  if (int err = spng_get_ihdr(ctx.get(), &header)) {
    return InvalidArgument(std::string("not a readable PNG image: ") + spng_strerror(err));
  }
  if (int64_t{header.width} * header.height > max_pixels) {
    return InvalidArgument("the PNG image is " + std::to_string(header.width) + "x" +
                           std::to_string(header.height) + "; at most " +
                           std::to_string(max_pixels) + " pixels are accepted");
  }
  size_t size = 0;
  if (int err = spng_decoded_image_size(ctx.get(), SPNG_FMT_RGB8, &size)) {
    return InvalidArgument(std::string("unsupported PNG image: ") + spng_strerror(err));
  }
  DecodedImage image{header.height, header.width, std::vector<uint8_t>(size)};
  if (int err =
          spng_decode_image(ctx.get(), image.rgb.data(), size, SPNG_FMT_RGB8, SPNG_DECODE_TRNS)) {
    return InvalidArgument(std::string("corrupt PNG image: ") + spng_strerror(err));
  }
  return image;
}

}  // namespace

StatusOr<DecodedImage> DecodeImage(std::string_view bytes, int64_t max_pixels) {
  if (IsJpeg(bytes)) return DecodeJpeg(bytes, max_pixels);
  if (IsPng(bytes)) return DecodePng(bytes, max_pixels);
  return InvalidArgument("the image is neither JPEG nor PNG");
}

StatusOr<PngFilter> ParsePngFilter(const std::string& name, const std::string& param) {
  static const std::map<std::string, PngFilter> kNames = {
      {"none", PngFilter::kNone},   {"sub", PngFilter::kSub},
      {"up", PngFilter::kUp},       {"average", PngFilter::kAverage},
      {"paeth", PngFilter::kPaeth}, {"adaptive", PngFilter::kAdaptive}};
  auto it = kNames.find(name);
  if (it == kNames.end()) {
    return InvalidArgument("params." + param +
                           " must be one of none, sub, up, average, paeth, adaptive, not '" + name +
                           "'");
  }
  return it->second;
}

StatusOr<std::string> EncodePng(const uint8_t* pixels, int64_t height, int64_t width, int channels,
                                const PngOptions& options) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  if (!ctx) return Internal("cannot start the PNG encoder");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_option(ctx.get(), SPNG_IMG_COMPRESSION_LEVEL, options.compress_level);
  static constexpr int kFilterChoice[] = {SPNG_DISABLE_FILTERING,   SPNG_FILTER_CHOICE_SUB,
                                          SPNG_FILTER_CHOICE_UP,    SPNG_FILTER_CHOICE_AVG,
                                          SPNG_FILTER_CHOICE_PAETH, SPNG_FILTER_CHOICE_ALL};
  spng_set_option(ctx.get(), SPNG_FILTER_CHOICE, kFilterChoice[static_cast<int>(options.filter)]);
  spng_ihdr header{};
  header.width = static_cast<uint32_t>(width);
  header.height = static_cast<uint32_t>(height);
  header.bit_depth = 8;
  header.color_type = channels == 1   ? SPNG_COLOR_TYPE_GRAYSCALE
                      : channels == 3 ? SPNG_COLOR_TYPE_TRUECOLOR
                                      : SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
  spng_set_ihdr(ctx.get(), &header);
  const size_t size = static_cast<size_t>(height) * width * channels;
  if (int err = spng_encode_image(ctx.get(), pixels, size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE)) {
    return Internal(std::string("PNG encoding failed: ") + spng_strerror(err));
  }
  size_t length = 0;
  int err = 0;
  std::unique_ptr<void, void (*)(void*)> png(spng_get_png_buffer(ctx.get(), &length, &err), free);
  if (!png || err) return Internal(std::string("PNG encoding failed: ") + spng_strerror(err));
  return std::string(static_cast<const char*>(png.get()), length);
}

}  // namespace tandem
