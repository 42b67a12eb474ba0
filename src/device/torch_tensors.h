// Conversions between Tandem tensors and LibTorch tensors, on the host or a CUDA device.
// LibTorch headers: include only from device/, backend/torch/ and backend/ops/.
#pragma once

#include <ATen/ATen.h>

#include "core/device.h"
#include "core/status.h"
#include "core/tensor.h"

namespace tandem {

StatusOr<at::ScalarType> ToTorchType(DataType dtype);
StatusOr<DataType> FromTorchType(at::ScalarType type);
StatusOr<c10::Device> ToTorchDevice(Device device);

// A LibTorch view of a tensor's bytes, where they are (no copy); it keeps the buffer's owner
// alive. Tensors of simulated devices are host memory.
StatusOr<at::Tensor> ToTorch(const Tensor& tensor);

// `tensor` on `device`, the copy queued on the device's current stream (a worker's DeviceStream):
// - already there: the tensor itself;
// - a host tensor for a CUDA device: staged in pinned host memory (LibTorch's caching host
//   allocator), then copied without blocking the host;
// - a tensor of another CUDA device: copied without blocking, peer to peer where the two GPUs
//   allow it (LibTorch enables peer access on first use);
// - a CUDA tensor for the host: copied, waiting for the copy.
at::Tensor MoveTo(const at::Tensor& tensor, c10::Device device);

// A Tensor sharing a LibTorch tensor's storage (made contiguous first if needed), on the CPU or
// on the CUDA device that holds it.
StatusOr<Tensor> FromTorch(const at::Tensor& tensor);

}  // namespace tandem
