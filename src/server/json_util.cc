#include "server/json_util.h"

#include <rapidjson/error/en.h>

namespace tandem {

std::string ErrorJson(std::string_view message) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("error");
  WriteString(w, message);
  w.EndObject();
  return buffer.GetString();
}

Status CheckJsonDepth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return InvalidArgument("JSON nests deeper than " + std::to_string(max_depth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

Status ParseJson(std::string_view text, rapidjson::Document& doc) {
  if (text.empty()) return InvalidArgument("the request body is empty; expected JSON");
  RETURN_IF_ERROR(CheckJsonDepth(text, 64));
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return InvalidArgument(std::string("malformed JSON at byte ") +
                           std::to_string(doc.GetErrorOffset()) + ": " +
                           rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return Status::Ok();
}

}  // namespace tandem
