// Conversions between Tandem tensors and LibTorch tensors. LibTorch headers: include only from
// backend/torch/ and device code built on ATen.
#pragma once

#include <ATen/ATen.h>

#include "core/device.h"
#include "core/status.h"
#include "core/tensor.h"

namespace tandem {

StatusOr<at::ScalarType> ToTorchType(DataType dtype);
StatusOr<DataType> FromTorchType(at::ScalarType type);
StatusOr<c10::Device> ToTorchDevice(Device device);

// A LibTorch view of a host tensor's bytes (no copy); it keeps the buffer's owner alive.
StatusOr<at::Tensor> ToTorch(const Tensor& tensor);

// A host Tensor sharing a CPU LibTorch tensor's storage (made contiguous first if needed).
StatusOr<Tensor> FromTorch(const at::Tensor& tensor);

}  // namespace tandem
