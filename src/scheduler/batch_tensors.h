// Merging requests into one batch along dim 0, and splitting a batch's outputs back.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace tandem {

// One tensor holding `parts` one after another along dim 0. REQUIRES: the parts share dtype and
// their shapes agree after dim 0 (the batcher only merges such requests). A single part is
// returned as is, without a copy. Parts are merged on the CUDA device of any part that is on
// one (the worker has brought them all to its own device or left them on the host).
StatusOr<Tensor> ConcatBatch(const std::vector<const Tensor*>& parts);

// Splits `batch` along dim 0 into pieces of `sizes` rows. The pieces are views of the batch's
// buffer (no copy). Fails if the sizes do not add up to dim 0.
StatusOr<std::vector<Tensor>> SplitBatch(const Tensor& batch, const std::vector<int64_t>& sizes);

}  // namespace tandem
