// Checks a request against its model's config before it is queued, so that a bad request is a
// 400 naming the problem and never reaches a model instance.
#pragma once

#include <vector>

#include "config/model_config.h"
#include "core/inference.h"

namespace tandem {

struct ValidatedRequest {
  std::vector<Tensor> inputs;          // in config order
  std::vector<size_t> output_indices;  // the outputs to return, as indices into config.outputs
};

// Every input present once, known, of the configured dtype and an accepted shape (with the
// batch dimension first, 1..max_batch_size and equal across inputs, for a batched model); every
// requested output known.
StatusOr<ValidatedRequest> ValidateRequest(const ModelConfig& config, const InferRequest& request);

// Zero-filled inputs of `batch` items, for warm-up: a -1 dimension takes its size from
// warmup.shapes, else 1.
StatusOr<std::vector<Tensor>> MakeWarmupInputs(const ModelConfig& config, int64_t batch);

}  // namespace tandem
