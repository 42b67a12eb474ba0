// Engine: the model repository brought to life, and the C++ API the server and tests use. It
// keeps a registry of servables (scheduler/servable.h): each model version's instance group
// and each pipeline, by name, in a catalog that is replaced whole, never changed, so a request
// holds what it found while newer catalogs come and go. Loading builds servables
// (engine/servable_loader.h) beside those serving; publishing swaps them in; the old ones are
// retired (their admitted requests answered, their threads stopped) after the swap, pipelines
// before the models they use.
//
// Thread contract: Create, LoadAll, Load, Unload and Shutdown run on control threads (one at a
// time: they take turns); Infer and the getters are thread-safe and called from I/O threads;
// completions run on instance workers.
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

#include "backend/backend.h"
#include "config/repository.h"
#include "core/inference.h"
#include "core/status.h"
#include "device/device_set.h"
#include "engine/memory_budget.h"
#include "scheduler/model_stats.h"

namespace tandem {

struct EngineOptions {
  std::filesystem::path repository;
  DeviceOptions devices;
  // The models and pipelines to serve from the start (a pipeline brings the models it uses);
  // unset: every one. Set (model control mode explicit), the repository may be empty and
  // the server is ready with nothing loaded.
  std::optional<std::vector<std::string>> models;
  // --model-load-memory-limit: the most bytes of weights each device may hold; a load that
  // would pass it is refused (RESOURCE_EXHAUSTED). Devices not named have no limit.
  std::vector<MemoryLimit> memory_limits;
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
    Instance::GraphCounts cuda_graphs;
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
    // Model versions and pipelines (not steps): their state, and how long their last load took.
    std::optional<ModelState> state;
    std::chrono::duration<double> load_time{0};
  };
  struct DeviceEntry {
    Device device = Device::Cpu();
    std::chrono::nanoseconds busy{0};  // time with a batch running (see DeviceActivity)
    std::optional<DeviceSet::Memory> memory;
    uint64_t weight_bytes = 0;             // held by the loaded model versions' instances
    size_t model_versions = 0;             // loaded model versions with an instance on it
    std::optional<uint64_t> weight_limit;  // --model-load-memory-limit, where set
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

  // Loads every version of every model onto its devices and warms it up, then assembles the
  // pipelines. A version that fails becomes UNAVAILABLE with the reason; the others still
  // serve. Returns OK if all loaded.
  Status LoadAll();

  // Loads `name` (a model or a pipeline) from the repository as it is now, beside what serves
  // it, and swaps it in when every version is ready; the old versions finish what they were
  // given. Pipelines that use a model are assembled again over its new versions. Fails, and
  // leaves what served `name` serving, if its config or any version fails to load.
  Status Load(const std::string& name);

  // Loads the artifact in `folder` — one model or pipeline folder, served as `base`, or a
  // repository, whose entries are served as `base`.<name> — all or nothing. Returns the names it
  // serves, models first; ALREADY_EXISTS if one is taken, INVALID_ARGUMENT naming the problems
  // of a bad artifact.
  StatusOr<std::vector<std::string>> LoadArtifact(const std::string& base,
                                                  const std::filesystem::path& folder);

  // Stops serving `name`: later requests get NOT_FOUND; those admitted are answered first.
  // Pipelines that use a model turn UNAVAILABLE, naming it, until it is loaded again.
  Status Unload(const std::string& name);

  // Validates `request` and queues it; `done` is called exactly once, from any thread.
  void Infer(InferRequest request, InferCallback done);

  // True once every model version is READY (and no model was rejected), until BeginDrain.
  bool Ready() const;

  // The server is shutting down: readiness turns false, so load balancers stop sending;
  // requests are still served.
  void BeginDrain() { draining_ = true; }
  bool draining() const { return draining_; }

  // Models and pipelines left out for their configuration problems: name -> problems.
  std::map<std::string, std::string> rejected() const;

  const std::filesystem::path& repository() const { return options_.repository; }

  // Model and pipeline names, sorted.
  std::vector<std::string> ModelNames() const;

  // The config of `model` (version "" = highest) or NOT_FOUND.
  StatusOr<std::shared_ptr<const ModelConfig>> Config(const std::string& model,
                                                      const std::string& version) const;
  // The versions of `model`, ascending, as strings.
  StatusOr<std::vector<std::string>> Versions(const std::string& model) const;
  StatusOr<ModelVersionInfo> Info(const std::string& model, const std::string& version) const;
  std::vector<ModelVersionInfo> Index() const;
  // Statistics of `model` (every version when `version` is ""; all models when `model` is "").
  StatusOr<std::vector<ModelStatsReport>> Stats(const std::string& model,
                                                const std::string& version) const;

  EngineMetrics Metrics() const;

  // Stops taking requests, finishes the admitted ones and joins the workers.
  void Shutdown();

 private:
  struct VersionEntry;
  struct Entry;
  struct Catalog;
  struct Found;

  // The entry and version `model` and `version` ("" = highest) name in `catalog`, or NOT_FOUND
  // (with the problems of a rejected model).
  static StatusOr<Found> FindVersion(const Catalog& catalog, const std::string& model,
                                     const std::string& version);
  static ModelStatsReport Report(const std::string& model, int64_t number,
                                 const VersionEntry& version);

  Engine(EngineOptions options, DeviceSet devices, DeviceBytes memory_limits, RepositoryScan scan);

  std::shared_ptr<const Catalog> Snapshot() const;
  // Load's and Unload's work, with the repository scanned. REQUIRES: control_mu_ held.
  Status LoadFrom(const RepositoryScan& scan, const std::string& name);
  Status UnloadLocked(const std::string& name);
  // Publishes `next` and retires what served before it and serves no more: pipelines first,
  // then the models they used. REQUIRES: control_mu_ held.
  void Publish(std::shared_ptr<const Catalog> next);
  // What `catalog`'s loaded model versions hold, against the memory limits.
  MemoryBudget BudgetOver(const Catalog& catalog) const;
  // Every version of model `name` (as `spec` describes it), loaded within `budget`.
  Entry LoadModel(const std::string& name, const Entry& spec, MemoryBudget& budget) const;
  // Pipeline `name` assembled over `catalog`'s models, or UNAVAILABLE with the reason.
  Entry AssemblePipelineEntry(const std::string& name, const Entry& spec,
                              const Catalog& catalog) const;
  // Assembles again, over `catalog`, every pipeline that uses model `model`.
  void ReassemblePipelinesUsing(const std::string& model, Catalog& catalog) const;

  const EngineOptions options_;
  const DeviceSet devices_;
  const DeviceBytes memory_limits_;
  std::mutex control_mu_;  // taken by LoadAll, Load, Unload and Shutdown
  mutable std::mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_;  // guarded by catalog_mu_; replaced, never changed
  std::atomic<bool> draining_{false};
};

}  // namespace tandem
