#include "server/content_encoding.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

namespace tandem {
namespace {

// zlib's window bits: 15 (a 32 KiB window), plus 16 for the gzip wrapper.
int WindowBits(ContentEncoding encoding) { return encoding == ContentEncoding::kGzip ? 31 : 15; }

std::string Lower(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ' ' && c != '\t')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string_view ContentEncodingName(ContentEncoding encoding) {
  switch (encoding) {
    case ContentEncoding::kIdentity:
      return "identity";
    case ContentEncoding::kGzip:
      return "gzip";
    case ContentEncoding::kDeflate:
      return "deflate";
  }
  return "identity";
}

StatusOr<ContentEncoding> ParseContentEncoding(std::string_view header) {
  const std::string name = Lower(header);
  if (name.empty() || name == "identity") return ContentEncoding::kIdentity;
  if (name == "gzip" || name == "x-gzip") return ContentEncoding::kGzip;
  if (name == "deflate") return ContentEncoding::kDeflate;
  return Status(StatusCode::kUnimplemented,
                "Content-Encoding '" + std::string(header) +
                    "' is not supported; send the body as it is, or as gzip or deflate");
}

ContentEncoding PreferredEncoding(std::string_view accept_encoding) {
  bool gzip = false, deflate = false;
  const std::string value = Lower(accept_encoding);
  size_t start = 0;
  while (start < value.size()) {
    size_t end = std::min(value.find(',', start), value.size());
    const std::string item = value.substr(start, end - start);
    start = end + 1;
    const size_t semicolon = item.find(';');
    const std::string coding = item.substr(0, semicolon);
    double q = 1;
    if (semicolon != std::string::npos && item.compare(semicolon + 1, 2, "q=") == 0) {
      q = std::strtod(item.c_str() + semicolon + 3, nullptr);
    }
    if (q <= 0) continue;
    gzip |= coding == "gzip" || coding == "x-gzip" || coding == "*";
    deflate |= coding == "deflate";
  }
  if (gzip) return ContentEncoding::kGzip;
  return deflate ? ContentEncoding::kDeflate : ContentEncoding::kIdentity;
}

StatusOr<std::string> Decompress(ContentEncoding encoding, std::string_view body,
                                 uint64_t max_bytes) {
  if (encoding == ContentEncoding::kIdentity) return std::string(body);
  const std::string name(ContentEncodingName(encoding));
  if (body.size() > UINT32_MAX) {
    return Status(StatusCode::kPayloadTooLarge, "a " + name + " request body over 4 GiB");
  }
  z_stream stream{};
  if (inflateInit2(&stream, WindowBits(encoding)) != Z_OK) {
    return Internal("zlib could not start inflating");
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  int result = Z_OK;
  char chunk[64 * 1024];
  while (result != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    result = inflate(&stream, Z_NO_FLUSH);
    if (result != Z_OK && result != Z_STREAM_END) break;
    const size_t produced = sizeof(chunk) - stream.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&stream);
      return Status(StatusCode::kPayloadTooLarge,
                    "the " + name + " request body inflates past the limit of " +
                        std::to_string(max_bytes) + " bytes (--max-body-bytes)");
    }
    out.append(chunk, produced);
    if (result == Z_OK && produced == 0 && stream.avail_in == 0) break;  // input ended early
  }
  inflateEnd(&stream);
  if (result != Z_STREAM_END) {
    return InvalidArgument("the request body is not valid " + name + " data" +
                           (stream.msg != nullptr ? std::string(" (") + stream.msg + ")" : "") +
                           " or ends before its stream does");
  }
  if (stream.avail_in != 0) {
    return InvalidArgument("the " + name + " request body has " + std::to_string(stream.avail_in) +
                           " bytes after its stream's end");
  }
  return out;
}

std::string Compress(ContentEncoding encoding, std::string_view body) {
  if (encoding == ContentEncoding::kIdentity) return std::string(body);
  z_stream stream{};
  // Level 1: a server answering many requests trades a little ratio for a lot of CPU.
  deflateInit2(&stream, 1, Z_DEFLATED, WindowBits(encoding), 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, static_cast<uLong>(body.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace tandem
