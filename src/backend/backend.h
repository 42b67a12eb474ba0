// Backend and Instance: how a model runs. A Backend turns a model's config and version folder
// into Instances, one per (device, copy); the scheduler gives each Instance its own worker thread.
// Which backends exist, and what each is, is backend/backend_registry.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/device.h"
#include "core/status.h"
#include "core/tensor.h"
#include "device/device_set.h"

namespace tandem {

// One loaded copy of a model on one device.
// Thread contract: Execute() runs only on the instance's own worker thread, never concurrently.
class Instance {
 public:
  virtual ~Instance() = default;

  // Runs one batch. `inputs` are in the config's input order, batch dimension included when the
  // model is batched, already checked against the config; they may live on the host or on a
  // device. Returns the outputs in config order, checked against the config, on the host or
  // left on this instance's device.
  virtual StatusOr<std::vector<Tensor>> Execute(const std::vector<Tensor>& inputs) = 0;

  virtual Device device() const = 0;

  // The bytes of weights (parameters, buffers, constants) this instance holds on device(): what
  // --model-load-memory-limit counts. Fixed once the instance is created.
  virtual uint64_t weight_bytes() const { return 0; }

  // CUDA graphs (`cuda_graphs: true`): how many this instance captured, and how many batches
  // replayed one rather than running eagerly. Safe to read from any thread.
  struct GraphCounts {
    uint64_t captured = 0;
    uint64_t replays = 0;
  };
  virtual GraphCounts cuda_graphs() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Loads the model in `version_dir` onto `device`. Called on the control thread.
  virtual StatusOr<std::unique_ptr<Instance>> CreateInstance(
      const ModelConfig& config, const std::filesystem::path& version_dir, Device device) = 0;
};

// Runs `instance` once for each of `batch_sizes` on zero-filled inputs (shaped as warmup.shapes
// says), on a stream of its own: what the server does before an instance takes traffic, and
// what `tandem check` does to find a model whose outputs differ from its config. The error
// names the batch size and device.
Status WarmUp(const ModelConfig& config, Instance& instance,
              const std::vector<int64_t>& batch_sizes);

}  // namespace tandem
