// Engine: the model repository brought to life. It loads every model version, owns their queues
// and instance workers, validates requests against configs and routes them. The server and the
// tests use Tandem through this class alone.
//
// Thread contract: Create and LoadAll run on the control thread; Infer and the getters are
// thread-safe and called from I/O threads; completions run on instance workers.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/repository.h"
#include "core/inference.h"
#include "core/status.h"
#include "device/device_set.h"
#include "scheduler/model_stats.h"

namespace tandem {

class ModelQueue;
class InstanceWorker;

struct EngineOptions {
  std::filesystem::path repository;
  DeviceOptions devices;
};

enum class ModelState { kLoading, kReady, kUnavailable };
std::string_view ModelStateName(ModelState state);  // "LOADING", "READY", "UNAVAILABLE"

// What the server reports about one model version.
struct ModelVersionInfo {
  std::string name;
  std::string version;
  ModelState state = ModelState::kLoading;
  std::string reason;  // why it is unavailable
};

// The statistics of one model version (served at /v2/models/{m}/stats).
struct ModelStatsReport {
  std::string name;
  std::string version;
  ModelStatsSnapshot stats;
  struct InstanceReport {
    std::string name;
    std::string device;
    uint64_t inference_count = 0;
    uint64_t execution_count = 0;
  };
  std::vector<InstanceReport> instances;
};

// What /metrics reports (docs/metrics.md): every model version, pipeline and pipeline step, and
// every device.
struct EngineMetrics {
  struct Entry {
    std::string model;    // the model or pipeline
    std::string version;  // its version; "" for a pipeline step
    std::string step;     // the pipeline step, or ""
    ModelStatsSnapshot stats;
    // Jobs waiting in the queue of what runs batches: set for model versions and op steps, whose
    // batch counts, histograms and queues are theirs; nullopt for pipelines and model steps
    // (whose batches are counted under their model).
    std::optional<size_t> queue_depth;
  };
  struct DeviceEntry {
    Device device;
    std::chrono::nanoseconds busy{0};  // time with a batch running (see DeviceActivity)
    std::optional<DeviceSet::Memory> memory;
  };
  std::vector<Entry> entries;
  std::vector<DeviceEntry> devices;
};

using InferCallback = std::function<void(StatusOr<InferResponse>)>;

class Engine {
 public:
  // Scans the repository and finds devices. Models and pipelines with problems are logged and
  // kept as UNAVAILABLE (with their problems as the reason); the rest are served. Fails, listing
  // every problem, only when nothing at all can be served. Loads nothing yet.
  static StatusOr<std::unique_ptr<Engine>> Create(EngineOptions options);
  ~Engine();

  // Loads every version of every model onto its devices and warms it up. A version that fails
  // becomes UNAVAILABLE with the reason; the others still serve. Returns OK if all loaded.
  Status LoadAll();

  // Validates `request` and queues it; `done` is called exactly once, from any thread.
  void Infer(InferRequest request, InferCallback done);

  // True once every model version is READY (and no model was rejected), until BeginDrain.
  bool Ready() const;

  // The server is shutting down: readiness turns false, so load balancers stop sending;
  // requests are still served.
  void BeginDrain() { draining_ = true; }
  bool draining() const { return draining_; }

  // Models and pipelines left out for their configuration problems: name -> problems.
  const std::map<std::string, std::string>& rejected() const { return rejected_; }

  // Model names, sorted.
  std::vector<std::string> ModelNames() const;

  // The config of `model` (version "" = highest) or NOT_FOUND.
  StatusOr<const ModelConfig*> Config(const std::string& model, const std::string& version) const;
  // The versions of `model`, ascending, as strings.
  StatusOr<std::vector<std::string>> Versions(const std::string& model) const;
  StatusOr<ModelVersionInfo> Info(const std::string& model, const std::string& version) const;
  std::vector<ModelVersionInfo> Index() const;
  // Statistics of `model` (every version when `version` is ""; all models when `model` is "").
  StatusOr<std::vector<ModelStatsReport>> Stats(const std::string& model,
                                                const std::string& version) const;

  EngineMetrics Metrics() const;

  // Stops taking requests, finishes the queued ones and joins the workers.
  void Shutdown();

 private:
  struct Version;
  struct Model;

  Engine(EngineOptions options, DeviceSet devices, RepositoryScan scan);

  StatusOr<Version*> FindVersion(const std::string& model, const std::string& version) const;
  // NOT_FOUND for a model that is not served, with its problems if it was rejected.
  Status Missing(const std::string& model) const;
  ModelStatsReport Report(const std::string& model, const Version& version) const;
  Status LoadVersion(const ModelConfig& config, Version& version);
  // Builds a pipeline's executor over the highest versions of its models. REQUIRES: they loaded.
  Status LoadPipeline(Model& pipeline);
  void SetState(const std::string& name, Version& version, const Status& status);

  const EngineOptions options_;
  const DeviceSet devices_;
  // Immutable after Create: the set of models and versions never changes while serving.
  std::map<std::string, std::unique_ptr<Model>> models_;
  // Models and pipelines left out for their configuration problems: name -> problems.
  const std::map<std::string, std::string> rejected_;
  std::atomic<bool> draining_{false};
};

}  // namespace tandem
