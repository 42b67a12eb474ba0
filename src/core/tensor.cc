#include "core/tensor.h"

#include <algorithm>
#include <cstring>

namespace tandem {
namespace {

uint32_t ReadLength(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

Status ValidateBytesElements(std::span<const uint8_t> bytes, int64_t count) {
  size_t offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (bytes.size() - offset < 4) {
      return InvalidArgument("BYTES element " + std::to_string(i) + " of " + std::to_string(count) +
                             " is missing its 4-byte length");
    }
    uint32_t length = ReadLength(bytes.data() + offset);
    offset += 4;
    if (bytes.size() - offset < length) {
      return InvalidArgument("BYTES element " + std::to_string(i) + " claims " +
                             std::to_string(length) + " bytes but only " +
                             std::to_string(bytes.size() - offset) + " remain");
    }
    offset += length;
  }
  if (offset != bytes.size()) {
    return InvalidArgument("BYTES data has " + std::to_string(bytes.size() - offset) +
                           " bytes left over after " + std::to_string(count) + " elements");
  }
  return Status::Ok();
}

StatusOr<Tensor> Tensor::Allocate(DataType dtype, Shape shape) {
  if (dtype == DataType::kBytes) return InvalidArgument("cannot allocate a BYTES tensor");
  ASSIGN_OR_RETURN(int64_t count, shape.NumElements());
  const size_t element_size = DataTypeSize(dtype);
  if (static_cast<uint64_t>(count) > SIZE_MAX / element_size) {
    return InvalidArgument("shape " + shape.ToString() + " is too large to allocate");
  }
  auto storage = std::make_shared<std::vector<uint8_t>>(count * element_size);
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = storage->data();
  t.size_ = storage->size();
  t.owner_ = std::move(storage);
  return t;
}

StatusOr<Tensor> Tensor::AlignedView(DataType dtype, Shape shape, const char* data, size_t size,
                                     std::shared_ptr<const void> owner) {
  const size_t align = std::max<size_t>(1, DataTypeSize(dtype));
  if (reinterpret_cast<uintptr_t>(data) % align == 0) {
    return View(dtype, std::move(shape), data, size, std::move(owner));
  }
  auto copy = std::make_shared<std::vector<uint64_t>>((size + 7) / 8);
  if (size > 0) std::memcpy(copy->data(), data, size);
  const uint64_t* copied = copy->data();
  return View(dtype, std::move(shape), copied, size, std::move(copy));
}

StatusOr<Tensor> Tensor::View(DataType dtype, Shape shape, const void* data, size_t size,
                              std::shared_ptr<const void> owner, Device device) {
  ASSIGN_OR_RETURN(int64_t count, shape.NumElements());
  if (dtype == DataType::kBytes) {
    if (device.is_cpu()) {
      RETURN_IF_ERROR(ValidateBytesElements({static_cast<const uint8_t*>(data), size}, count));
    }
  } else {
    // count * element_size cannot overflow: NumElements() bounds count by INT64_MAX and the
    // comparison is done in 128 bits.
    const unsigned __int128 needed = static_cast<unsigned __int128>(count) * DataTypeSize(dtype);
    if (needed != size) {
      return InvalidArgument(
          "shape " + shape.ToString() + " of " + std::string(DataTypeName(dtype)) + " needs " +
          (needed > UINT64_MAX ? std::string("more bytes than fit in 64 bits")
                               : std::to_string(static_cast<uint64_t>(needed)) + " bytes") +
          " but " + std::to_string(size) + " were given");
    }
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.device_ = device;
  t.data_ = static_cast<const uint8_t*>(data);
  t.size_ = size;
  t.owner_ = std::move(owner);
  return t;
}

StatusOr<Tensor> Tensor::FromStrings(Shape shape, const std::vector<std::string>& elements) {
  ASSIGN_OR_RETURN(int64_t count, shape.NumElements());
  if (static_cast<size_t>(count) != elements.size()) {
    return InvalidArgument("shape " + shape.ToString() + " needs " + std::to_string(count) +
                           " elements but " + std::to_string(elements.size()) + " were given");
  }
  auto storage = std::make_shared<std::vector<uint8_t>>();
  for (const std::string& e : elements) {
    const uint32_t n = static_cast<uint32_t>(e.size());
    const uint8_t length[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8),
                               static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 24)};
    storage->insert(storage->end(), length, length + 4);
    storage->insert(storage->end(), e.begin(), e.end());
  }
  Tensor t;
  t.dtype_ = DataType::kBytes;
  t.shape_ = std::move(shape);
  t.data_ = storage->data();
  t.size_ = storage->size();
  t.owner_ = std::move(storage);
  return t;
}

std::vector<std::string_view> Tensor::Strings() const {
  std::vector<std::string_view> out;
  size_t offset = 0;
  while (offset + 4 <= size_) {
    uint32_t length = ReadLength(data_ + offset);
    offset += 4;
    out.emplace_back(reinterpret_cast<const char*>(data_ + offset), length);
    offset += length;
  }
  return out;
}

}  // namespace tandem
