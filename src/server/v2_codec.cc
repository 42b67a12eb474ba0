#include "server/v2_codec.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "server/json_util.h"

namespace tandem {
namespace {

using rapidjson::Value;

// Collects the leaves of flat or nested `data`, row-major. Nesting is bounded by ParseJson.
void CollectLeaves(const Value& data, std::vector<const Value*>& leaves) {
  if (data.IsArray()) {
    for (const Value& item : data.GetArray()) CollectLeaves(item, leaves);
  } else {
    leaves.push_back(&data);
  }
}

std::string Describe(const Value& v) {
  if (v.IsString()) return "the string \"" + std::string(v.GetString(), v.GetStringLength()) + "\"";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNull()) return "null";
  if (v.IsObject()) return "an object";
  if (v.IsNumber()) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    v.Accept(w);
    return b.GetString();
  }
  return "a value";
}

template <typename T>
Status ReadIntegers(const std::vector<const Value*>& leaves, uint8_t* out, DataType dtype,
                    const std::string& where) {
  T* values = reinterpret_cast<T*>(out);
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Value& v = *leaves[i];
    bool ok = false;
    if constexpr (std::is_signed_v<T>) {
      if (v.IsInt64()) {
        const int64_t x = v.GetInt64();
        ok = x >= std::numeric_limits<T>::min() && x <= std::numeric_limits<T>::max();
        values[i] = static_cast<T>(x);
      }
    } else {
      if (v.IsUint64()) {
        const uint64_t x = v.GetUint64();
        ok = x <= std::numeric_limits<T>::max();
        values[i] = static_cast<T>(x);
      }
    }
    if (!ok) {
      return InvalidArgument(where + ": element " + std::to_string(i) + " is " + Describe(v) +
                             ", not a " + std::string(DataTypeName(dtype)) + " value");
    }
  }
  return Status::Ok();
}

template <typename T>
Status ReadFloats(const std::vector<const Value*>& leaves, uint8_t* out, const std::string& where) {
  T* values = reinterpret_cast<T*>(out);
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!leaves[i]->IsNumber()) {
      return InvalidArgument(where + ": element " + std::to_string(i) + " is " +
                             Describe(*leaves[i]) + ", not a number");
    }
    values[i] = static_cast<T>(leaves[i]->GetDouble());
  }
  return Status::Ok();
}

StatusOr<Tensor> DecodeJsonData(const Value& data, DataType dtype, const Shape& shape,
                                const std::string& where) {
  if (dtype == DataType::kFp16 || dtype == DataType::kBf16) {
    return InvalidArgument(where + ": " + std::string(DataTypeName(dtype)) +
                           " data cannot travel as JSON; send it with the binary data extension "
                           "(parameters.binary_data_size)");
  }
  ASSIGN_OR_RETURN(int64_t count, shape.NumElements());
  std::vector<const Value*> leaves;
  CollectLeaves(data, leaves);
  if (leaves.size() != static_cast<size_t>(count)) {
    return InvalidArgument(where + ": shape " + shape.ToString() + " needs " +
                           std::to_string(count) + " elements but data holds " +
                           std::to_string(leaves.size()));
  }
  if (dtype == DataType::kBytes) {
    std::vector<std::string> strings;
    strings.reserve(leaves.size());
    for (size_t i = 0; i < leaves.size(); ++i) {
      if (!leaves[i]->IsString()) {
        return InvalidArgument(where + ": element " + std::to_string(i) + " is " +
                               Describe(*leaves[i]) + ", not a string (BYTES)");
      }
      strings.emplace_back(leaves[i]->GetString(), leaves[i]->GetStringLength());
    }
    return Tensor::FromStrings(shape, strings);
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  uint8_t* out = t.mutable_data();
  switch (dtype) {
    case DataType::kBool:
      for (size_t i = 0; i < leaves.size(); ++i) {
        if (!leaves[i]->IsBool()) {
          return InvalidArgument(where + ": element " + std::to_string(i) + " is " +
                                 Describe(*leaves[i]) + ", not true or false (BOOL)");
        }
        out[i] = leaves[i]->GetBool() ? 1 : 0;
      }
      break;
    case DataType::kUint8:
      RETURN_IF_ERROR(ReadIntegers<uint8_t>(leaves, out, dtype, where));
      break;
    case DataType::kUint16:
      RETURN_IF_ERROR(ReadIntegers<uint16_t>(leaves, out, dtype, where));
      break;
    case DataType::kUint32:
      RETURN_IF_ERROR(ReadIntegers<uint32_t>(leaves, out, dtype, where));
      break;
    case DataType::kUint64:
      RETURN_IF_ERROR(ReadIntegers<uint64_t>(leaves, out, dtype, where));
      break;
    case DataType::kInt8:
      RETURN_IF_ERROR(ReadIntegers<int8_t>(leaves, out, dtype, where));
      break;
    case DataType::kInt16:
      RETURN_IF_ERROR(ReadIntegers<int16_t>(leaves, out, dtype, where));
      break;
    case DataType::kInt32:
      RETURN_IF_ERROR(ReadIntegers<int32_t>(leaves, out, dtype, where));
      break;
    case DataType::kInt64:
      RETURN_IF_ERROR(ReadIntegers<int64_t>(leaves, out, dtype, where));
      break;
    case DataType::kFp32:
      RETURN_IF_ERROR(ReadFloats<float>(leaves, out, where));
      break;
    case DataType::kFp64:
      RETURN_IF_ERROR(ReadFloats<double>(leaves, out, where));
      break;
    default:
      return Internal(where + ": unhandled datatype");
  }
  return t;
}

// A view over `size` bytes of the body at `offset` (an aligned copy when misaligned).
StatusOr<Tensor> BinaryTensor(const std::shared_ptr<const std::string>& body, size_t offset,
                              size_t size, DataType dtype, const Shape& shape) {
  return Tensor::AlignedView(dtype, shape, body->data() + offset, size, body);
}

StatusOr<Shape> ParseShape(const Value& input, const std::string& where) {
  if (!input.HasMember("shape") || !input["shape"].IsArray()) {
    return InvalidArgument(where + ": 'shape' is required and must be a list of sizes");
  }
  const auto& dims = input["shape"].GetArray();
  if (dims.Size() > Shape::kMaxRank) {
    return InvalidArgument(where + ": shape has " + std::to_string(dims.Size()) +
                           " dimensions; at most " + std::to_string(Shape::kMaxRank) +
                           " are allowed");
  }
  std::vector<int64_t> shape;
  for (const Value& d : dims) {
    if (!d.IsInt64() || d.GetInt64() < 0) {
      return InvalidArgument(where + ": shape holds " + Describe(d) +
                             "; sizes are integers of 0 or more");
    }
    shape.push_back(d.GetInt64());
  }
  Shape result(std::move(shape));
  RETURN_IF_ERROR(result.NumElements().status().WithContext(where));
  return result;
}

// Reads parameters.<key> as a bool, if present.
StatusOr<std::optional<bool>> BoolParameter(const Value& owner, const char* key,
                                            const std::string& where) {
  if (!owner.HasMember("parameters")) return std::optional<bool>();
  const Value& params = owner["parameters"];
  if (!params.IsObject()) return InvalidArgument(where + ": 'parameters' must be an object");
  if (!params.HasMember(key)) return std::optional<bool>();
  if (!params[key].IsBool()) {
    return InvalidArgument(where + ": parameters." + key + " must be true or false");
  }
  return std::optional<bool>(params[key].GetBool());
}

}  // namespace

bool OutputEncoding::IsBinary(const std::string& output) const {
  auto it = binary.find(output);
  return it == binary.end() ? binary_by_default : it->second;
}

StatusOr<DecodedRequest> DecodeInferRequest(std::shared_ptr<const std::string> body,
                                            std::optional<size_t> json_length) {
  const size_t header_size = json_length.value_or(body->size());
  if (header_size > body->size()) {
    return InvalidArgument("the JSON part is " + std::to_string(header_size) +
                           " bytes (Inference-Header-Content-Length, or json-header-size in the "
                           "content type) but the body has only " +
                           std::to_string(body->size()));
  }
  rapidjson::Document doc;
  RETURN_IF_ERROR(ParseJson(std::string_view(body->data(), header_size), doc));
  if (!doc.IsObject()) return InvalidArgument("the request must be a JSON object");

  DecodedRequest out;
  InferRequest& request = out.request;
  if (doc.HasMember("id")) {
    if (!doc["id"].IsString()) return InvalidArgument("'id' must be a string");
    request.id = doc["id"].GetString();
  }
  if (doc.HasMember("parameters")) {
    const Value& params = doc["parameters"];
    if (!params.IsObject()) return InvalidArgument("'parameters' must be an object");
    ASSIGN_OR_RETURN(auto binary, BoolParameter(doc, "binary_data_output", "request"));
    out.encoding.binary_by_default = binary.value_or(false);
    if (params.HasMember("timeout")) {
      if (!params["timeout"].IsInt64() || params["timeout"].GetInt64() < 0) {
        return InvalidArgument("parameters.timeout must be a number of microseconds >= 0");
      }
      // 0 is "no timeout", as Triton's clients send it (the model's default then applies).
      if (const int64_t us = params["timeout"].GetInt64(); us > 0) {
        request.timeout = std::chrono::microseconds(us);
      }
    }
  }

  if (!doc.HasMember("inputs") || !doc["inputs"].IsArray()) {
    return InvalidArgument("'inputs' is required and must be a list");
  }
  size_t binary_offset = header_size;
  for (const Value& input : doc["inputs"].GetArray()) {
    if (!input.IsObject()) return InvalidArgument("each entry of 'inputs' must be an object");
    if (!input.HasMember("name") || !input["name"].IsString()) {
      return InvalidArgument("an input has no 'name' string");
    }
    const std::string name = input["name"].GetString();
    const std::string where = "input '" + name + "'";
    if (!input.HasMember("datatype") || !input["datatype"].IsString()) {
      return InvalidArgument(where + ": 'datatype' is required");
    }
    auto dtype = ParseDataType(input["datatype"].GetString());
    if (!dtype) {
      return InvalidArgument(where + ": unknown datatype '" +
                             std::string(input["datatype"].GetString()) + "' (expected one of " +
                             std::string(DataTypeNames()) + ")");
    }
    ASSIGN_OR_RETURN(Shape shape, ParseShape(input, where));

    std::optional<uint64_t> binary_size;
    if (input.HasMember("parameters")) {
      const Value& params = input["parameters"];
      if (!params.IsObject()) return InvalidArgument(where + ": 'parameters' must be an object");
      if (params.HasMember("binary_data_size")) {
        if (!params["binary_data_size"].IsUint64()) {
          return InvalidArgument(where + ": parameters.binary_data_size must be a byte count");
        }
        binary_size = params["binary_data_size"].GetUint64();
      }
    }
    Tensor tensor;
    if (binary_size) {
      if (input.HasMember("data")) {
        return InvalidArgument(where + ": has both 'data' and parameters.binary_data_size");
      }
      if (*binary_size > body->size() - binary_offset) {
        return InvalidArgument(
            where + ": binary_data_size " + std::to_string(*binary_size) + " overruns the body (" +
            std::to_string(body->size() - binary_offset) + " bytes of binary data remain)");
      }
      auto t = BinaryTensor(body, binary_offset, *binary_size, *dtype, shape);
      if (!t.ok()) return t.status().WithContext(where);
      tensor = std::move(*t);
      binary_offset += *binary_size;
    } else {
      if (!input.HasMember("data")) {
        return InvalidArgument(where + ": needs 'data' or parameters.binary_data_size");
      }
      ASSIGN_OR_RETURN(tensor, DecodeJsonData(input["data"], *dtype, shape, where));
    }
    request.inputs.push_back({name, std::move(tensor)});
  }
  if (binary_offset != body->size()) {
    return InvalidArgument(std::to_string(body->size() - binary_offset) +
                           " bytes of binary data follow the JSON but no input claims them");
  }

  if (doc.HasMember("outputs")) {
    if (!doc["outputs"].IsArray()) return InvalidArgument("'outputs' must be a list");
    for (const Value& output : doc["outputs"].GetArray()) {
      if (!output.IsObject() || !output.HasMember("name") || !output["name"].IsString()) {
        return InvalidArgument("each entry of 'outputs' must be an object with a 'name'");
      }
      const std::string name = output["name"].GetString();
      ASSIGN_OR_RETURN(auto binary, BoolParameter(output, "binary_data", "output '" + name + "'"));
      if (binary) out.encoding.binary[name] = *binary;
      request.requested_outputs.push_back(name);
    }
  }
  return out;
}

namespace {

// The shape of a raw body of `bytes` for input `spec`: its configured shape, where one dimension
// of any size is the one the body's size gives (as Triton infers it).
StatusOr<Shape> RawInputShape(const TensorConfig& spec, size_t bytes) {
  if (spec.shape.IsFixed()) return spec.shape;
  const std::string cannot = "a raw body cannot say the shape of input '" + spec.name +
                             "', whose configured shape " + spec.shape.ToString();
  std::vector<int64_t> dims = spec.shape.dims();
  const auto any = [](int64_t d) { return d == Shape::kAnyDim; };
  if (std::count_if(dims.begin(), dims.end(), any) > 1) {
    return InvalidArgument(cannot + " has more than one dimension of any size; send a JSON header");
  }
  if (spec.dtype == DataType::kBytes) {
    return InvalidArgument(
        cannot + " has a dimension of any size and BYTES elements; send a JSON " + "header");
  }
  uint64_t known = DataTypeSize(spec.dtype);
  for (int64_t d : dims) known *= any(d) ? 1 : static_cast<uint64_t>(d);
  if (known == 0 || bytes % known != 0) {
    return InvalidArgument("a raw body of " + std::to_string(bytes) +
                           " bytes does not fit input '" + spec.name + "' of shape " +
                           spec.shape.ToString() + ": its other " + "dimensions take " +
                           std::to_string(known) + " bytes, which do not " + "divide it");
  }
  *std::find_if(dims.begin(), dims.end(), any) = static_cast<int64_t>(bytes / known);
  return Shape(std::move(dims));
}

}  // namespace

StatusOr<DecodedRequest> DecodeRawInferRequest(std::shared_ptr<const std::string> body,
                                               const ModelConfig& config) {
  if (config.inputs.size() != 1) {
    return InvalidArgument(
        "Inference-Header-Content-Length: 0 sends a raw body, which needs a "
        "model with one input; model '" +
        config.name + "' has " + std::to_string(config.inputs.size()));
  }
  const TensorConfig& spec = config.inputs[0];
  ASSIGN_OR_RETURN(Shape shape, RawInputShape(spec, body->size()));
  if (config.batched()) shape = shape.Prepend(1);
  DecodedRequest out;
  auto t = BinaryTensor(body, 0, body->size(), spec.dtype, shape);
  if (!t.ok()) return t.status().WithContext("raw input '" + spec.name + "'");
  out.request.inputs.push_back({spec.name, std::move(*t)});
  out.encoding.binary_by_default = true;
  return out;
}

namespace {

// True when `s` is valid UTF-8 (so it can be a JSON string). Overlong forms are not checked.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 0x6) {
      extra = 1;
    } else if ((c >> 4) == 0xE) {
      extra = 2;
    } else if ((c >> 3) == 0x1E) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

// FP16 and BF16 have no JSON form, nor BYTES elements that are not text (a PNG, say): such
// outputs travel as binary data whatever the client asked.
bool HasJsonForm(const Tensor& t) {
  if (t.dtype() == DataType::kFp16 || t.dtype() == DataType::kBf16) return false;
  if (t.dtype() != DataType::kBytes) return true;
  for (std::string_view s : t.Strings()) {
    if (!IsUtf8(s)) return false;
  }
  return true;
}

template <typename T>
void WriteFloats(JsonWriter& w, const Tensor& t) {
  char buf[64];
  for (T x : t.Values<T>()) {
    if (std::isnan(x)) {
      w.RawValue("NaN", 3, rapidjson::kNumberType);
    } else if (std::isinf(x)) {
      if (x > 0)
        w.RawValue("Infinity", 8, rapidjson::kNumberType);
      else
        w.RawValue("-Infinity", 9, rapidjson::kNumberType);
    } else {
      // Shortest text that reads back as the same value of type T.
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
      w.RawValue(buf, end - buf, rapidjson::kNumberType);
    }
  }
}

template <typename T>
void WriteIntegers(JsonWriter& w, const Tensor& t) {
  for (T x : t.Values<T>()) {
    if constexpr (std::is_signed_v<T>)
      w.Int64(x);
    else
      w.Uint64(x);
  }
}

void WriteData(JsonWriter& w, const Tensor& t) {
  w.StartArray();
  switch (t.dtype()) {
    case DataType::kBool:
      for (uint8_t b : t.bytes()) w.Bool(b != 0);
      break;
    case DataType::kUint8:
      WriteIntegers<uint8_t>(w, t);
      break;
    case DataType::kUint16:
      WriteIntegers<uint16_t>(w, t);
      break;
    case DataType::kUint32:
      WriteIntegers<uint32_t>(w, t);
      break;
    case DataType::kUint64:
      WriteIntegers<uint64_t>(w, t);
      break;
    case DataType::kInt8:
      WriteIntegers<int8_t>(w, t);
      break;
    case DataType::kInt16:
      WriteIntegers<int16_t>(w, t);
      break;
    case DataType::kInt32:
      WriteIntegers<int32_t>(w, t);
      break;
    case DataType::kInt64:
      WriteIntegers<int64_t>(w, t);
      break;
    case DataType::kFp32:
      WriteFloats<float>(w, t);
      break;
    case DataType::kFp64:
      WriteFloats<double>(w, t);
      break;
    case DataType::kBytes:
      for (std::string_view s : t.Strings()) WriteString(w, s);
      break;
    case DataType::kFp16:
    case DataType::kBf16:
      break;  // never reached: these always travel as binary data
  }
  w.EndArray();
}

}  // namespace

EncodedResponse EncodeInferResponse(const InferResponse& response, const OutputEncoding& encoding) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  std::vector<const Tensor*> binary;
  w.StartObject();
  WriteField(w, "model_name", response.model);
  if (!response.version.empty()) {
    WriteField(w, "model_version", response.version);
  }
  if (!response.id.empty()) {
    WriteField(w, "id", response.id);
  }
  w.Key("outputs");
  w.StartArray();
  for (const NamedTensor& output : response.outputs) {
    const Tensor& t = output.tensor;
    w.StartObject();
    WriteField(w, "name", output.name);
    WriteField(w, "datatype", DataTypeName(t.dtype()));
    w.Key("shape");
    w.StartArray();
    for (int64_t d : t.shape().dims()) w.Int64(d);
    w.EndArray();
    const bool as_binary = encoding.IsBinary(output.name) || !HasJsonForm(t);
    if (as_binary) {
      w.Key("parameters");
      w.StartObject();
      WriteUintField(w, "binary_data_size", t.byte_size());
      w.EndObject();
      binary.push_back(&t);
    } else {
      w.Key("data");
      WriteData(w, t);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  EncodedResponse out;
  out.body.assign(buffer.GetString(), buffer.GetSize());
  if (!binary.empty()) {
    out.json_length = out.body.size();
    for (const Tensor* t : binary) {
      out.body.append(reinterpret_cast<const char*>(t->data()), t->byte_size());
    }
  }
  return out;
}

}  // namespace tandem
