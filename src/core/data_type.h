// DataType: the Open Inference Protocol v2 tensor element types, by their wire names.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace tandem {

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kBf16,
  kFp32,
  kFp64,
  kBytes,  // variable-length strings; see Tensor for the layout
};

// The v2 name: "BOOL", "UINT8", ..., "BYTES".
std::string_view DataTypeName(DataType type);

// Parses a v2 name (exact, upper case). Returns nullopt for anything else.
std::optional<DataType> ParseDataType(std::string_view name);

// Bytes per element; 0 for BYTES, whose elements vary in length.
size_t DataTypeSize(DataType type);

// Every v2 name, comma separated, for error messages.
std::string_view DataTypeNames();

}  // namespace tandem
