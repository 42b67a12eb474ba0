// Compressed HTTP bodies (zlib): `Content-Encoding: gzip` or `deflate` request bodies are
// inflated before anything reads them, and a response is compressed when the request's
// `Accept-Encoding` asks for it. "deflate" is the zlib format (RFC 9110), as HTTP clients send it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tandem {

enum class ContentEncoding { kIdentity, kGzip, kDeflate };

// "identity", "gzip", "deflate".
std::string_view ContentEncodingName(ContentEncoding encoding);

// The encoding a Content-Encoding header names (absent or empty: identity); UNIMPLEMENTED for
// any other, or for several in a row.
StatusOr<ContentEncoding> ParseContentEncoding(std::string_view header);

// What to answer with for an Accept-Encoding header: gzip, else deflate, where the client
// accepts it (q > 0, or `*`); identity else.
ContentEncoding PreferredEncoding(std::string_view accept_encoding);

// `body` inflated. PAYLOAD_TOO_LARGE as soon as the output would pass `max_bytes` (so a small
// body that inflates to gigabytes never takes more than `max_bytes`); INVALID_ARGUMENT if it is
// not a whole, valid stream of `encoding`.
StatusOr<std::string> Decompress(ContentEncoding encoding, std::string_view body,
                                 uint64_t max_bytes);

// `body` compressed as `encoding` (identity: as it is).
std::string Compress(ContentEncoding encoding, std::string_view body);

}  // namespace tandem
