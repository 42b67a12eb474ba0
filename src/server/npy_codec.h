// NumPy .npy files (format versions 1-3) as request and response bodies, for
// `Content-Type: application/x-npy` on /invocations.
#pragma once

#include <memory>
#include <string>

#include "core/tensor.h"

namespace tandem {

// A zero-copy view of the array in an .npy body (copied only if misaligned). Accepts
// little-endian numeric and bool arrays in C order.
StatusOr<Tensor> DecodeNpy(std::shared_ptr<const std::string> body);

// An .npy (version 1.0) file holding `tensor`. Fails for BYTES and BF16, which .npy cannot hold.
StatusOr<std::string> EncodeNpy(const Tensor& tensor);

}  // namespace tandem
