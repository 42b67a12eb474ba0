// Checks pipelines against the models and ops their steps name: every step's model or op
// exists, its inputs and outputs are the ones the model declares, and the datatype and shape of
// each tensor agree between its producer and every consumer.
#pragma once

#include "config/repository.h"

namespace tandem {

// Validates every pipeline of `scan` against `scan.models`. Problems are added to
// `scan.problems`, naming the pipeline's file, the step and the tensor; invalid pipelines move
// from `scan.pipelines` to `scan.rejected`.
void ValidatePipelines(RepositoryScan& scan);

}  // namespace tandem
