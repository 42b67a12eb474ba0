// TensorConfig: a named, typed tensor in a model or pipeline configuration.
#pragma once

#include <string>

#include "core/data_type.h"
#include "core/shape.h"

namespace tandem {

struct TensorConfig {
  std::string name;
  DataType dtype = DataType::kFp32;
  // In model.yaml the shape excludes the batch dimension; in pipeline.yaml it is the full shape
  // the client sends. -1 = any size.
  Shape shape;
};

}  // namespace tandem
