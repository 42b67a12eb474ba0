// Tensor: a dtype, a shape, a device and a shared buffer.
//
// The buffer is type-erased: `owner` keeps the bytes alive, whatever holds them (a vector we
// allocated, an HTTP request body the tensor is a zero-copy view of, or a LibTorch tensor). A
// Tensor is cheap to copy; copies share the bytes. Tensors are immutable once handed to another
// thread: only the creator of an Allocate()d tensor writes through mutable_data().
//
// BYTES tensors hold their elements in the v2 binary layout: for each element a 4-byte
// little-endian length, then that many bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/data_type.h"
#include "core/device.h"
#include "core/shape.h"
#include "core/status.h"

namespace tandem {

class Tensor {
 public:
  Tensor() = default;

  // A zero-filled host tensor of a fixed-size dtype. Fails on a bad shape or for BYTES.
  static StatusOr<Tensor> Allocate(DataType dtype, Shape shape);

  // Wraps `size` bytes at `data` without copying; `owner` keeps them alive. Checks that the
  // byte count matches dtype and shape (for BYTES: that the elements parse exactly).
  static StatusOr<Tensor> View(DataType dtype, Shape shape, const void* data, size_t size,
                               std::shared_ptr<const void> owner, Device device = Device::Cpu());

  // View() of host bytes when they are aligned for `dtype`, else of an aligned copy: LibTorch
  // kernels may assume element alignment, and request bodies put tensors at any offset.
  static StatusOr<Tensor> AlignedView(DataType dtype, Shape shape, const char* data, size_t size,
                                      std::shared_ptr<const void> owner);

  // A host BYTES tensor holding `elements` in the v2 layout.
  static StatusOr<Tensor> FromStrings(Shape shape, const std::vector<std::string>& elements);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  const uint8_t* data() const { return data_; }
  size_t byte_size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  // REQUIRES: this tensor came from Allocate() and has not been shared with another thread.
  uint8_t* mutable_data() { return const_cast<uint8_t*>(data_); }

  // The elements of a BYTES tensor, as views into this tensor's buffer.
  // REQUIRES: dtype() == kBytes (checked when the tensor was made).
  std::vector<std::string_view> Strings() const;

  // Host element access for fixed-size dtypes. REQUIRES: dtype matches T, device is cpu.
  template <typename T>
  std::span<const T> Values() const {
    return {reinterpret_cast<const T*>(data_), size_ / sizeof(T)};
  }

  // The same bytes, labelled as living on `device`. Only for simulated devices, whose memory
  // is host memory standing in for device memory.
  Tensor WithDevice(Device device) const {
    Tensor t = *this;
    t.device_ = device;
    return t;
  }

  // The owner of the bytes, for views that must keep this tensor's storage alive.
  const std::shared_ptr<const void>& owner() const { return owner_; }

 private:
  DataType dtype_ = DataType::kFp32;
  Shape shape_;
  Device device_ = Device::Cpu();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const void> owner_;
};

// Checks that `bytes` holds exactly `count` BYTES elements in the v2 layout.
Status ValidateBytesElements(std::span<const uint8_t> bytes, int64_t count);

}  // namespace tandem
