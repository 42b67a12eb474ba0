// Moving and merging tensors that may live on a CUDA device, for layers that cannot see
// LibTorch. Host (and simulated-device) tensors pass through untouched.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace tandem {

// The tensor in host memory: a copy for a CUDA tensor, the tensor itself otherwise.
StatusOr<Tensor> ToHost(const Tensor& tensor);

// CUDA tensors of one device, concatenated along dim 0 on that device.
// REQUIRES: every part is on the same CUDA device, with equal shapes after dim 0.
StatusOr<Tensor> ConcatOnDevice(const std::vector<const Tensor*>& parts);

}  // namespace tandem
