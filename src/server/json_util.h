// Small JSON helpers shared by the server's codecs and routes.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace tandem {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// "key": "value" and "key": number, inside an object.
inline void WriteField(JsonWriter& w, const char* key, std::string_view value) {
  w.Key(key);
  WriteString(w, value);
}
inline void WriteUintField(JsonWriter& w, const char* key, uint64_t value) {
  w.Key(key);
  w.Uint64(value);
}

// {"error": "<message>"}, the v2 error body.
std::string ErrorJson(std::string_view message);

// Fails if `text` nests arrays and objects deeper than `max_depth`. Parsing is iterative, so
// depth cannot overflow the stack, but absurd nesting is refused up front (docs/protocols.md).
Status CheckJsonDepth(std::string_view text, int max_depth);

// Parses `text` into `doc`, with a message naming the offset of a syntax error.
Status ParseJson(std::string_view text, rapidjson::Document& doc);

}  // namespace tandem
