#include "server/npy_codec.h"

#include <charconv>
#include <cstring>

namespace tandem {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct Descr {
  std::string_view text;
  DataType dtype;
};

// Each dtype's descr in little-endian order ('|' where byte order does not apply).
constexpr Descr kDescrs[] = {
    {"|b1", DataType::kBool},   {"|u1", DataType::kUint8},  {"<u2", DataType::kUint16},
    {"<u4", DataType::kUint32}, {"<u8", DataType::kUint64}, {"|i1", DataType::kInt8},
    {"<i2", DataType::kInt16},  {"<i4", DataType::kInt32},  {"<i8", DataType::kInt64},
    {"<f2", DataType::kFp16},   {"<f4", DataType::kFp32},   {"<f8", DataType::kFp64},
};

// The text after `'key':` in the header dict, with leading spaces skipped.
StatusOr<std::string_view> Field(std::string_view header, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "'";
  size_t at = header.find(quoted);
  if (at == std::string_view::npos) {
    return InvalidArgument("npy header has no '" + std::string(key) + "' entry");
  }
  at = header.find(':', at + quoted.size());
  if (at == std::string_view::npos) return InvalidArgument("malformed npy header");
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  return header.substr(at);
}

StatusOr<DataType> ParseDescr(std::string_view header) {
  ASSIGN_OR_RETURN(std::string_view rest, Field(header, "descr"));
  if (rest.empty() || rest[0] != '\'') return InvalidArgument("npy 'descr' is not a string");
  const size_t end = rest.find('\'', 1);
  if (end == std::string_view::npos) return InvalidArgument("npy 'descr' is not a string");
  std::string descr(rest.substr(1, end - 1));
  // '=' means native order, little-endian on every host Tandem runs on.
  if (descr.size() == 3 && descr[0] == '=') descr[0] = '<';
  for (const Descr& d : kDescrs) {
    if (d.text == descr || (d.text[0] == '|' && descr.size() == 3 && descr[0] == '<' &&
                            descr.substr(1) == d.text.substr(1))) {
      return d.dtype;
    }
  }
  if (!descr.empty() && descr[0] == '>') {
    return InvalidArgument("npy array is big-endian ('" + descr + "'); send a little-endian array");
  }
  return InvalidArgument("npy dtype '" + descr + "' is not supported (numeric and bool only)");
}

StatusOr<Shape> ParseShape(std::string_view header) {
  ASSIGN_OR_RETURN(std::string_view rest, Field(header, "shape"));
  if (rest.empty() || rest[0] != '(') return InvalidArgument("npy 'shape' is not a tuple");
  const size_t end = rest.find(')');
  if (end == std::string_view::npos) return InvalidArgument("npy 'shape' is not a tuple");
  std::string_view tuple = rest.substr(1, end - 1);
  std::vector<int64_t> dims;
  size_t i = 0;
  while (i < tuple.size()) {
    while (i < tuple.size() && (tuple[i] == ' ' || tuple[i] == ',')) ++i;
    if (i == tuple.size()) break;
    int64_t d = 0;
    auto [p, ec] = std::from_chars(tuple.data() + i, tuple.data() + tuple.size(), d);
    if (ec != std::errc() || d < 0) {
      return InvalidArgument("npy 'shape' holds something other than sizes: (" +
                             std::string(tuple) + ")");
    }
    dims.push_back(d);
    i = p - tuple.data();
    if (i < tuple.size() && tuple[i] == 'L') ++i;  // Python 2 longs
  }
  Shape shape(std::move(dims));
  RETURN_IF_ERROR(shape.NumElements().status());
  return shape;
}

}  // namespace

StatusOr<Tensor> DecodeNpy(std::shared_ptr<const std::string> body) {
  const std::string& b = *body;
  if (b.size() < 10 || std::string_view(b).substr(0, 6) != kMagic) {
    return InvalidArgument("body is not an .npy file (no \\x93NUMPY magic)");
  }
  const uint8_t major = static_cast<uint8_t>(b[6]);
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(b[8]) | static_cast<uint8_t>(b[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return InvalidArgument("truncated .npy header");
    header_len = static_cast<size_t>(static_cast<uint8_t>(b[8])) |
                 static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8 |
                 static_cast<size_t>(static_cast<uint8_t>(b[10])) << 16 |
                 static_cast<size_t>(static_cast<uint8_t>(b[11])) << 24;
    header_start = 12;
  } else {
    return InvalidArgument("unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > b.size() - header_start) {
    return InvalidArgument("the .npy header runs past the end of the body");
  }
  std::string_view header(b.data() + header_start, header_len);
  ASSIGN_OR_RETURN(DataType dtype, ParseDescr(header));
  ASSIGN_OR_RETURN(std::string_view order, Field(header, "fortran_order"));
  if (order.substr(0, 4) == "True") {
    return InvalidArgument("the .npy array is in Fortran order; send a C-ordered array");
  }
  ASSIGN_OR_RETURN(Shape shape, ParseShape(header));
  const size_t data_start = header_start + header_len;
  return Tensor::AlignedView(dtype, std::move(shape), b.data() + data_start, b.size() - data_start,
                             body);
}

StatusOr<std::string> EncodeNpy(const Tensor& tensor) {
  std::string_view descr;
  for (const Descr& d : kDescrs) {
    if (d.dtype == tensor.dtype()) descr = d.text;
  }
  if (descr.empty()) {
    return Unimplemented(std::string(DataTypeName(tensor.dtype())) +
                         " tensors cannot be written as .npy");
  }
  // Python tuple syntax: "()", "(2,)", "(2, 3)".
  const std::vector<int64_t>& dims = tensor.shape().dims();
  std::string shape = "(";
  for (size_t i = 0; i < dims.size(); ++i) shape += (i ? ", " : "") + std::to_string(dims[i]);
  shape += dims.size() == 1 ? ",)" : ")";
  std::string header =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in \n.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(tensor.data()), tensor.byte_size());
  return out;
}

}  // namespace tandem
