// ModelConfig: a model.yaml, parsed and validated (docs/configuration.md is the format's contract).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config_problems.h"
#include "config/tensor_config.h"
#include "core/data_type.h"
#include "core/device.h"
#include "core/shape.h"

namespace tandem {

struct DynamicBatchingConfig {
  int64_t max_queue_delay_us = 0;
  std::vector<int64_t> preferred_batch_sizes;
  int64_t max_queue_size = 0;      // 0: unbounded
  int64_t default_timeout_us = 0;  // 0: no deadline unless the request sets one
};

// One entry of `instances:`. `devices` says where; `count` instances go on each device.
struct InstanceGroupConfig {
  enum class Selector { kAuto, kGpu, kCpu, kSim, kList };
  Selector selector = Selector::kAuto;
  std::vector<Device> devices;  // only for kList
  int64_t count = 1;
};

struct ModelConfig {
  std::string name;            // the model's folder name
  std::string backend;         // a registered backend's name (backend/backend_registry.h)
  int64_t max_batch_size = 0;  // 0: the model has no batch dimension
  std::vector<TensorConfig> inputs;
  std::vector<TensorConfig> outputs;
  // Outputs that name which item of a tuple or list result they are (`position:`); the others
  // are the item at their place in `outputs`.
  std::map<std::string, int64_t> output_positions;
  std::optional<DynamicBatchingConfig> dynamic_batching;
  std::vector<InstanceGroupConfig> instances;  // never empty after parsing: default {auto, 1}
  std::vector<int64_t> warmup_batch_sizes;
  // The sizes warm-up gives an input's -1 dimensions (its whole shape, batch dimension
  // excluded, as `warmup.shapes` writes it); an input not named here warms up with 1 for each.
  std::map<std::string, Shape> warmup_shapes;
  // Instances on CUDA devices replay a captured CUDA graph per batch size instead of launching
  // the model's kernels one by one. REQUIRES (validated): a backend that captures graphs, no -1
  // in input shapes.
  bool cuda_graphs = false;
  std::map<std::string, std::string> parameters;  // backend-specific scalars, as written

  bool batched() const { return max_batch_size > 0; }
  const TensorConfig* FindInput(std::string_view name) const;
  const TensorConfig* FindOutput(std::string_view name) const;
  // Which item of a tuple or list result output `i` is: its `position`, else its place.
  size_t OutputPosition(size_t i) const;
};

// Model and pipeline names (their folder names, and the {m} of URLs): 1 to 128 of letters,
// digits, '_', '-' and '.', not starting with '.'. Nothing else is ever looked up, so a request
// cannot name a path.
bool IsValidModelName(std::string_view name);

class YamlFields;

// What config validation needs to know of one backend. Config names no backend itself: each
// backend describes itself once (backend/backend_registry.h), these rules included, and they
// are handed to the parser and the repository scan.
struct BackendRules {
  std::string name;          // model.yaml `backend:`
  std::string artifact;      // the file every version folder holds; empty: none (version 1)
  bool cuda_graphs = false;  // whether `cuda_graphs: true` may be set
  // Checks of a parsed config that only this backend makes, reported through `fields`.
  std::function<void(const YamlFields& fields, const ModelConfig& config)> check;
};

// The rules of the backend named `name` among `backends`, or nullptr.
const BackendRules* FindRules(const std::vector<BackendRules>& backends, std::string_view name);

// Parses `yaml` (the text of `file`) for the model `name`; `backend:` must name one of
// `backends`. Every problem found is added to `problems`; the result is meaningful only if none
// was added.
ModelConfig ParseModelConfig(std::string_view yaml, const std::string& name,
                             const std::string& file, ConfigProblems& problems,
                             const std::vector<BackendRules>& backends);

}  // namespace tandem
