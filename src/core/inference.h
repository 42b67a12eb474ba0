// The request and response types that the engine, the schedulers and the server exchange.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tandem {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct InferRequest {
  std::string model;
  std::string version;  // empty: the highest loaded version
  std::string id;       // echoed in the response
  std::vector<NamedTensor> inputs;
  std::vector<std::string> requested_outputs;  // empty: every output, in config order
  std::optional<std::chrono::microseconds> timeout;
};

struct InferResponse {
  std::string model;
  std::string version;
  std::string id;
  std::vector<NamedTensor> outputs;
};

}  // namespace tandem
