#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "backend/backend_registry.h"
#include "engine/servable_loader.h"
#include "pipeline/pipeline_servable.h"
#include "pipeline/pipeline_validation.h"
#include "scheduler/instance_group.h"

namespace tandem {

std::string_view ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "LOADING";
    case ModelState::kReady:
      return "READY";
    case ModelState::kUnavailable:
      return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

// One version of a model, or a pipeline's only version (1): its state and, once READY, what
// serves it.
struct Engine::VersionEntry {
  ModelState state = ModelState::kLoading;
  std::string reason;                          // why it is UNAVAILABLE
  std::shared_ptr<InstanceGroup> group;        // a READY model version
  std::shared_ptr<PipelineServable> pipeline;  // a READY pipeline
  // Until it is READY: the requests refused because it is not (its servable counts its own).
  std::shared_ptr<ModelStats> refused = std::make_shared<ModelStats>();
  // RESOURCE_EXHAUSTED when it is UNAVAILABLE for lack of memory, else UNAVAILABLE.
  StatusCode failed_with = StatusCode::kUnavailable;
  std::chrono::duration<double> load_time{0};  // of its last load or assembly

  Servable* servable() const {
    return group ? static_cast<Servable*>(group.get()) : pipeline.get();
  }
  const ModelStats& stats() const { return servable() ? servable()->stats() : *refused; }
};

// A model or a pipeline, as the catalog knows it.
struct Engine::Entry {
  std::shared_ptr<const ModelConfig> config;       // a pipeline's: its inputs and outputs
  std::shared_ptr<const PipelineSource> pipeline;  // set for a pipeline
  std::filesystem::path dir;                       // a model's folder
  std::map<int64_t, VersionEntry> versions;        // never empty
};

struct Engine::Catalog {
  std::map<std::string, Entry> entries;
  // Models and pipelines left out for their configuration problems: name -> problems.
  std::map<std::string, std::string> rejected;
};

namespace {

std::string Where(const InstanceGroup& group) {
  std::string where;
  for (const auto& worker : group.workers()) {
    where += (where.empty() ? "" : ", ") + worker->device().ToString();
  }
  return where;
}

bool Uses(const PipelineConfig& pipeline, const std::string& model) {
  for (const StepConfig& step : pipeline.steps) {
    if (step.op.empty() && step.model == model) return true;
  }
  return false;
}

}  // namespace

Engine::Engine(EngineOptions options, DeviceSet devices, DeviceBytes memory_limits,
               RepositoryScan scan)
    : options_(std::move(options)),
      devices_(std::move(devices)),
      memory_limits_(std::move(memory_limits)) {
  auto catalog = std::make_shared<Catalog>();
  catalog->rejected = std::move(scan.rejected);
  for (PipelineSource& source : scan.pipelines) {
    Entry entry;
    entry.config = PipelineModelConfig(source.config);
    entry.pipeline = std::make_shared<const PipelineSource>(std::move(source));
    entry.versions[1] = {};
    catalog->entries[entry.config->name] = std::move(entry);
  }
  for (ModelSource& source : scan.models) {
    Entry entry;
    entry.config = std::make_shared<const ModelConfig>(std::move(source.config));
    entry.dir = source.dir;
    for (int64_t v : source.versions) entry.versions[v] = {};
    catalog->entries[entry.config->name] = std::move(entry);
  }
  catalog_ = std::move(catalog);
}

Engine::~Engine() { Shutdown(); }

namespace {

// Leaves in `scan` only the models and pipelines `names` asks for ("*": every one), with the
// models those pipelines use. NOT_FOUND for a name the repository lacks.
Status KeepOnly(const std::vector<std::string>& names, RepositoryScan& scan) {
  if (std::find(names.begin(), names.end(), "*") != names.end()) return Status::Ok();
  std::set<std::string> wanted;
  for (const std::string& name : names) {
    bool found = scan.rejected.count(name) > 0;
    for (const ModelSource& m : scan.models) found |= m.config.name == name;
    for (const PipelineSource& p : scan.pipelines) {
      if (p.config.name != name) continue;
      found = true;
      for (const StepConfig& step : p.config.steps) {
        if (step.op.empty()) wanted.insert(step.model);
      }
    }
    if (!found) return NotFound("the repository has no model or pipeline '" + name + "'");
    wanted.insert(name);
  }
  std::erase_if(scan.models, [&](const ModelSource& m) { return !wanted.count(m.config.name); });
  std::erase_if(scan.pipelines,
                [&](const PipelineSource& p) { return !wanted.count(p.config.name); });
  std::erase_if(scan.rejected, [&](const auto& entry) { return !wanted.count(entry.first); });
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  RepositoryScan scan = ScanModelRepository(options.repository);
  ValidatePipelines(scan);
  if (options.models) {
    RETURN_IF_ERROR(KeepOnly(*options.models, scan).WithContext("--load-model"));
  } else if (scan.models.empty() && scan.pipelines.empty()) {
    RETURN_IF_ERROR(scan.problems.ToStatus());
  }
  // Started to load nothing (a multi-model endpoint), there is nothing to complain about yet.
  if (!options.models || !options.models->empty()) {
    for (const ConfigProblem& problem : scan.problems.all()) {
      spdlog::error("{}", problem.ToString());
    }
  }
  ASSIGN_OR_RETURN(DeviceSet devices,
                   DeviceSet::Create(DeviceSet::CountCudaDevices(), options.devices));
  ASSIGN_OR_RETURN(DeviceBytes limits, ResolveMemoryLimits(options.memory_limits, devices));
  return std::unique_ptr<Engine>(
      new Engine(std::move(options), std::move(devices), std::move(limits), std::move(scan)));
}

std::shared_ptr<const Engine::Catalog> Engine::Snapshot() const {
  std::lock_guard lock(catalog_mu_);
  return catalog_;
}

void Engine::Publish(std::shared_ptr<const Catalog> next) {
  std::shared_ptr<const Catalog> previous;
  {
    std::lock_guard lock(catalog_mu_);
    previous = std::exchange(catalog_, next);
  }
  // What served before and serves no more: retired once requests can no longer find it,
  // pipelines first, so that their runs in flight finish on the models they started with.
  std::set<const Servable*> kept;
  for (const auto& [name, entry] : next->entries) {
    for (const auto& [number, version] : entry.versions) kept.insert(version.servable());
  }
  for (bool pipelines : {true, false}) {
    for (const auto& [name, entry] : previous->entries) {
      if ((entry.pipeline != nullptr) != pipelines) continue;
      for (const auto& [number, version] : entry.versions) {
        Servable* servable = version.servable();
        if (servable != nullptr && kept.count(servable) == 0) servable->Retire();
      }
    }
  }
}

MemoryBudget Engine::BudgetOver(const Catalog& catalog) const {
  DeviceBytes in_use;
  for (const auto& [name, entry] : catalog.entries) {
    for (const auto& [number, version] : entry.versions) {
      if (!version.group) continue;
      for (const auto& [device, bytes] : version.group->weight_bytes()) in_use[device] += bytes;
    }
  }
  return MemoryBudget(memory_limits_, std::move(in_use));
}

Engine::Entry Engine::LoadModel(const std::string& name, const Entry& spec,
                                MemoryBudget& budget) const {
  Entry loaded = spec;
  for (auto& [number, version] : loaded.versions) {
    const auto started = SteadyClock::now();
    auto group =
        LoadModelVersion(spec.config, number, spec.dir / std::to_string(number), devices_, budget);
    if (group.ok()) {
      version = {ModelState::kReady, "", std::move(*group), nullptr, nullptr};
      uint64_t bytes = 0;
      for (const auto& [device, held] : version.group->weight_bytes()) bytes += held;
      spdlog::info("model '{}' version {} is ready: {} instance(s) on {}, {} bytes of weights",
                   name, number, version.group->workers().size(), Where(*version.group), bytes);
    } else {
      version = {ModelState::kUnavailable, group.status().message(), nullptr, nullptr,
                 std::make_shared<ModelStats>()};
      if (group.status().code() == StatusCode::kResourceExhausted) {
        version.failed_with = StatusCode::kResourceExhausted;
      }
      spdlog::error("'{}' version {} is unavailable: {}", name, number, version.reason);
    }
    version.load_time = SteadyClock::now() - started;
  }
  return loaded;
}

Engine::Entry Engine::AssemblePipelineEntry(const std::string& name, const Entry& spec,
                                            const Catalog& catalog) const {
  // A pipeline runs on the highest version of each of its models.
  ModelLookup model_of = [&](const std::string& model) -> StatusOr<std::shared_ptr<InstanceGroup>> {
    auto it = catalog.entries.find(model);
    if (it == catalog.entries.end() || it->second.pipeline != nullptr) {
      return Unavailable("model '" + model + "' is not loaded");
    }
    const VersionEntry& version = it->second.versions.rbegin()->second;
    if (version.state != ModelState::kReady) {
      return Unavailable("model '" + model + "' is not ready" +
                         (version.reason.empty() ? "" : ": " + version.reason));
    }
    return version.group;
  };
  Entry assembled = spec;
  const auto started = SteadyClock::now();
  auto pipeline = AssemblePipeline(spec.pipeline, model_of, devices_);
  if (pipeline.ok()) {
    assembled.versions[1] = {ModelState::kReady, "", nullptr, std::move(*pipeline), nullptr};
    const PipelineConfig& config = spec.pipeline->config;
    spdlog::info("pipeline '{}' is ready: {} steps, placement {}", name, config.steps.size(),
                 config.placement == Placement::kAffinity ? "affinity" : "free");
  } else {
    assembled.versions[1] = {ModelState::kUnavailable, pipeline.status().message(), nullptr,
                             nullptr, std::make_shared<ModelStats>()};
    spdlog::error("'{}' version 1 is unavailable: {}", name, pipeline.status().message());
  }
  assembled.versions[1].load_time = SteadyClock::now() - started;
  return assembled;
}

void Engine::ReassemblePipelinesUsing(const std::string& model, Catalog& catalog) const {
  for (auto& [name, entry] : catalog.entries) {
    if (entry.pipeline != nullptr && Uses(entry.pipeline->config, model)) {
      entry = AssemblePipelineEntry(name, entry, catalog);
    }
  }
}

Status Engine::LoadAll() {
  std::lock_guard control(control_mu_);
  Status first_error;
  auto note = [&](const Entry& entry) {
    for (const auto& [number, version] : entry.versions) {
      if (version.state != ModelState::kReady && first_error.ok()) {
        first_error = Unavailable(version.reason);
      }
    }
  };
  // Models first, each published as soon as it is ready; then the pipelines over them.
  const std::shared_ptr<const Catalog> scanned = Snapshot();
  for (bool pipelines : {false, true}) {
    for (const auto& [name, spec] : scanned->entries) {
      if ((spec.pipeline != nullptr) != pipelines) continue;
      auto next = std::make_shared<Catalog>(*Snapshot());
      Entry& entry = next->entries[name];
      MemoryBudget budget = BudgetOver(*next);
      entry = pipelines ? AssemblePipelineEntry(name, spec, *next) : LoadModel(name, spec, budget);
      note(entry);
      Publish(next);
    }
  }
  return first_error;
}

Status Engine::Load(const std::string& name) {
  std::lock_guard control(control_mu_);
  RepositoryScan scan = ScanModelRepository(options_.repository);
  ValidatePipelines(scan);
  return LoadFrom(scan, name);
}

Status Engine::LoadFrom(const RepositoryScan& scan, const std::string& name) {
  std::shared_ptr<const Catalog> current = Snapshot();
  auto next = std::make_shared<Catalog>(*current);
  // Serving: some version of it answers requests, and keeps doing so if this load fails.
  bool serving = false;
  if (auto it = current->entries.find(name); it != current->entries.end()) {
    for (const auto& [number, version] : it->second.versions)
      serving |= version.servable() != nullptr;
  }
  if (auto it = scan.rejected.find(name); it != scan.rejected.end()) {
    if (!serving) {
      next->entries.erase(name);
      next->rejected[name] = it->second;
      Publish(next);
    }
    return InvalidArgument("'" + name + "' cannot be loaded: " + it->second +
                           (serving ? " (what served it still does)" : ""));
  }
  Entry spec;
  for (const ModelSource& source : scan.models) {
    if (source.config.name != name) continue;
    spec.config = std::make_shared<const ModelConfig>(source.config);
    spec.dir = source.dir;
    for (int64_t v : source.versions) spec.versions[v] = {};
  }
  for (const PipelineSource& source : scan.pipelines) {
    if (source.config.name != name) continue;
    spec.config = PipelineModelConfig(source.config);
    spec.pipeline = std::make_shared<const PipelineSource>(source);
    spec.versions[1] = {};
  }
  if (spec.config == nullptr) {
    return NotFound("the repository " + options_.repository.string() +
                    " has no model or pipeline '" + name + "'");
  }
  if (spec.pipeline) {
    // A pipeline brings the models it uses that are not loaded yet.
    for (const StepConfig& step : spec.pipeline->config.steps) {
      if (step.op.empty() && next->entries.count(step.model) == 0) {
        RETURN_IF_ERROR(
            LoadFrom(scan, step.model)
                .WithContext("pipeline '" + name + "' uses model '" + step.model + "'"));
        next = std::make_shared<Catalog>(*Snapshot());
      }
    }
  }
  // A reload builds the new versions beside the old ones: both count against the memory limits.
  MemoryBudget budget = BudgetOver(*next);
  Entry loaded =
      spec.pipeline ? AssemblePipelineEntry(name, spec, *next) : LoadModel(name, spec, budget);
  for (const auto& [number, version] : loaded.versions) {
    if (version.state == ModelState::kReady) continue;
    Status failed(version.failed_with, "'" + name + "' version " + std::to_string(number) +
                                           " failed to load: " + version.reason);
    if (!serving) {
      next->entries[name] = std::move(loaded);
      next->rejected.erase(name);
      Publish(next);
      return failed;
    }
    // A failed reload changes nothing: the versions that did load are retired unpublished.
    for (const auto& [n, v] : loaded.versions) {
      if (v.servable() != nullptr) v.servable()->Retire();
    }
    return Status(failed.code(), failed.message() + "; the loaded versions still serve");
  }
  next->entries[name] = std::move(loaded);
  next->rejected.erase(name);
  if (!spec.pipeline) ReassemblePipelinesUsing(name, *next);
  Publish(next);
  spdlog::info("'{}' {}", name, serving ? "reloaded" : "loaded");
  return Status::Ok();
}

Status Engine::Unload(const std::string& name) {
  std::lock_guard control(control_mu_);
  return UnloadLocked(name);
}

namespace {

// Names the models and pipelines of a repository artifact `base`.<name>, in the pipelines' steps
// too, so that two artifacts never collide.
void Namespace(const std::string& base, RepositoryScan& scan) {
  auto named = [&](const std::string& name) { return base + "." + name; };
  for (ModelSource& model : scan.models) model.config.name = named(model.config.name);
  for (PipelineSource& pipeline : scan.pipelines) {
    pipeline.config.name = named(pipeline.config.name);
    for (StepConfig& step : pipeline.config.steps) {
      if (step.op.empty()) step.model = named(step.model);
    }
  }
  std::map<std::string, std::string> rejected;
  for (auto& [name, problems] : scan.rejected) rejected[named(name)] = std::move(problems);
  scan.rejected = std::move(rejected);
}

}  // namespace

StatusOr<std::vector<std::string>> Engine::LoadArtifact(const std::string& base,
                                                        const std::filesystem::path& folder) {
  std::lock_guard control(control_mu_);
  std::error_code ec;
  const bool one = std::filesystem::exists(folder / "model.yaml", ec) ||
                   std::filesystem::exists(folder / "pipeline.yaml", ec);
  RepositoryScan scan = one ? ScanModelFolder(folder, base) : ScanModelRepository(folder);
  if (!one) Namespace(base, scan);
  ValidatePipelines(scan);
  if (!scan.problems.empty()) return InvalidArgument(scan.problems.ToStatus().message());
  std::vector<std::string> names;  // models first: the pipelines use them
  for (const ModelSource& model : scan.models) names.push_back(model.config.name);
  for (const PipelineSource& pipeline : scan.pipelines) names.push_back(pipeline.config.name);
  std::shared_ptr<const Catalog> current = Snapshot();
  for (const std::string& name : names) {
    if (current->entries.count(name) > 0) return AlreadyExists("'" + name + "' is already loaded");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (Status loaded = LoadFrom(scan, names[i]); !loaded.ok()) {
      // All or nothing: what this artifact loaded goes again, the failed one's entry too.
      for (size_t j = i + 1; j-- > 0;) static_cast<void>(UnloadLocked(names[j]));
      return loaded;
    }
  }
  return names;
}

Status Engine::UnloadLocked(const std::string& name) {
  std::shared_ptr<const Catalog> current = Snapshot();
  auto next = std::make_shared<Catalog>(*current);
  if (next->entries.erase(name) == 0) {
    if (next->rejected.erase(name) == 0) return NotFound("'" + name + "' is not loaded");
  } else {
    ReassemblePipelinesUsing(name, *next);
  }
  Publish(next);
  spdlog::info("'{}' unloaded", name);
  return Status::Ok();
}

// What a request names: an entry and one of its versions.
struct Engine::Found {
  const Entry* entry;
  int64_t number;
  const VersionEntry* version;
};

StatusOr<Engine::Found> Engine::FindVersion(const Catalog& catalog, const std::string& model,
                                            const std::string& version) {
  auto it = catalog.entries.find(model);
  if (it == catalog.entries.end()) {
    auto rejected = catalog.rejected.find(model);
    if (rejected != catalog.rejected.end()) {
      return NotFound("model '" + model + "' is not available: " + rejected->second);
    }
    return NotFound("unknown model '" + model + "'");
  }
  const auto& versions = it->second.versions;
  if (version.empty())
    return Found{&it->second, versions.rbegin()->first, &versions.rbegin()->second};
  for (const auto& [number, v] : versions) {
    if (std::to_string(number) == version) return Found{&it->second, number, &v};
  }
  std::string known;
  for (const auto& [number, v] : versions) {
    known += (known.empty() ? "" : ", ") + std::to_string(number);
  }
  return NotFound("model '" + model + "' has no version '" + version + "' (versions: " + known +
                  ")");
}

void Engine::Infer(InferRequest request, InferCallback done) {
  // A request that meets a servable retired by a reload looks again: by then the catalog holds
  // its replacement. One more look suffices for one reload.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::shared_ptr<const Catalog> catalog = Snapshot();
    auto found = FindVersion(*catalog, request.model, request.version);
    if (!found.ok()) return done(found.status());
    const VersionEntry& version = *found->version;
    Servable* servable = version.servable();
    if (servable == nullptr) {
      Status refused =
          Unavailable("model '" + request.model + "' version " + std::to_string(found->number) +
                      " is " + std::string(ModelStateName(version.state)) +
                      (version.reason.empty() ? "" : ": " + version.reason));
      version.refused->RecordRequest(refused, std::nullopt);
      return done(refused);
    }
    const ModelConfig& config = servable->config();
    std::optional<std::chrono::microseconds> timeout = request.timeout;
    if (!timeout && config.dynamic_batching && config.dynamic_batching->default_timeout_us > 0) {
      timeout = std::chrono::microseconds(config.dynamic_batching->default_timeout_us);
    }
    Servable::Options options;
    if (timeout) options.deadline = SteadyClock::now() + *timeout;
    options.to_host = true;
    Servable::Done answer = [done, config = servable->shared_config(), model = request.model,
                             number = std::to_string(found->number),
                             id = request.id](StatusOr<Servable::Outputs> outputs) {
      if (!outputs.ok()) return done(outputs.status());
      InferResponse response{model, number, id, {}};
      for (size_t index : outputs->requested) {
        response.outputs.push_back({config->outputs[index].name, outputs->tensors[index]});
      }
      done(std::move(response));
    };
    if (servable->Admit(request, options, answer)) return;
  }
  done(Unavailable(draining_ ? "the server is shutting down"
                             : "model '" + request.model + "' is being replaced; try again"));
}

bool Engine::Ready() const {
  if (draining_) return false;
  std::shared_ptr<const Catalog> catalog = Snapshot();
  if (!catalog->rejected.empty()) return false;
  // With models loaded on request, serving nothing (yet) is ready.
  if (catalog->entries.empty()) return options_.models.has_value();
  for (const auto& [name, entry] : catalog->entries) {
    for (const auto& [number, version] : entry.versions) {
      if (version.state != ModelState::kReady) return false;
    }
  }
  return true;
}

std::map<std::string, std::string> Engine::rejected() const { return Snapshot()->rejected; }

std::vector<std::string> Engine::ModelNames() const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  std::vector<std::string> names;
  for (const auto& [name, entry] : catalog->entries) names.push_back(name);
  return names;
}

StatusOr<std::shared_ptr<const ModelConfig>> Engine::Config(const std::string& model,
                                                            const std::string& version) const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  ASSIGN_OR_RETURN(Found found, FindVersion(*catalog, model, version));
  return found.entry->config;
}

StatusOr<std::vector<std::string>> Engine::Versions(const std::string& model) const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  ASSIGN_OR_RETURN(Found found, FindVersion(*catalog, model, ""));
  std::vector<std::string> out;
  for (const auto& [number, v] : found.entry->versions) out.push_back(std::to_string(number));
  return out;
}

StatusOr<ModelVersionInfo> Engine::Info(const std::string& model,
                                        const std::string& version) const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  ASSIGN_OR_RETURN(Found found, FindVersion(*catalog, model, version));
  return ModelVersionInfo{model, std::to_string(found.number), found.version->state,
                          found.version->reason};
}

std::vector<ModelVersionInfo> Engine::Index() const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  std::vector<ModelVersionInfo> out;
  for (const auto& [name, reason] : catalog->rejected) {
    out.push_back({name, "", ModelState::kUnavailable, reason});
  }
  for (const auto& [name, entry] : catalog->entries) {
    for (const auto& [number, v] : entry.versions) {
      out.push_back({name, std::to_string(number), v.state, v.reason});
    }
  }
  // What the repository holds and nobody loaded (model control mode explicit).
  for (const std::filesystem::path& folder : RepositoryFolders(options_.repository)) {
    const std::string name = folder.filename().string();
    if (catalog->entries.count(name) == 0 && catalog->rejected.count(name) == 0) {
      out.push_back({name, "", ModelState::kUnavailable, "not loaded"});
    }
  }
  std::stable_sort(
      out.begin(), out.end(),
      [](const ModelVersionInfo& a, const ModelVersionInfo& b) { return a.name < b.name; });
  return out;
}

ModelStatsReport Engine::Report(const std::string& model, int64_t number,
                                const VersionEntry& version) {
  ModelStatsReport report{model, std::to_string(number), {}, {}};
  report.stats = version.stats().Snapshot();
  if (version.group) {
    for (const auto& worker : version.group->workers()) {
      report.instances.push_back({worker->name(), worker->device().ToString(),
                                  worker->inference_count(), worker->execution_count(),
                                  worker->cuda_graphs()});
    }
  }
  return report;
}

StatusOr<std::vector<ModelStatsReport>> Engine::Stats(const std::string& model,
                                                      const std::string& version) const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  std::vector<ModelStatsReport> reports;
  if (model.empty()) {
    for (const auto& [name, entry] : catalog->entries) {
      for (const auto& [number, v] : entry.versions) reports.push_back(Report(name, number, v));
    }
    return reports;
  }
  ASSIGN_OR_RETURN(Found found, FindVersion(*catalog, model, version));
  if (!version.empty()) {
    reports.push_back(Report(model, found.number, *found.version));
    return reports;
  }
  for (const auto& [number, v] : found.entry->versions) reports.push_back(Report(model, number, v));
  return reports;
}

EngineMetrics Engine::Metrics() const {
  std::shared_ptr<const Catalog> catalog = Snapshot();
  EngineMetrics metrics;
  for (const auto& [name, entry] : catalog->entries) {
    for (const auto& [number, version] : entry.versions) {
      EngineMetrics::Entry row;
      row.model = name;
      row.version = std::to_string(number);
      row.stats = version.stats().Snapshot();
      row.state = version.state;
      row.load_time = version.load_time;
      if (!entry.pipeline) row.queue_depth = version.group ? version.group->queue_depth() : 0;
      metrics.entries.push_back(std::move(row));
      if (!version.pipeline) continue;
      for (PipelineServable::StepReport& step : version.pipeline->StepReports()) {
        EngineMetrics::Entry row;
        row.model = name;
        row.step = std::move(step.step);
        row.stats = std::move(step.stats);
        row.queue_depth = step.queue_depth;
        metrics.entries.push_back(std::move(row));
      }
    }
  }
  for (const Device& device : devices_.all()) {
    EngineMetrics::DeviceEntry entry;
    entry.device = device;
    entry.busy = devices_.activity(device).busy_time();
    entry.memory = DeviceSet::MemoryOf(device);
    if (device.kind() == Device::Kind::kSim) entry.busy = devices_.sim(device.index()).busy_time();
    for (const auto& [name, model] : catalog->entries) {
      for (const auto& [number, version] : model.versions) {
        if (!version.group) continue;
        const auto held = version.group->weight_bytes().find(device);
        if (held == version.group->weight_bytes().end()) continue;
        entry.weight_bytes += held->second;
        ++entry.model_versions;
      }
    }
    if (auto limit = memory_limits_.find(device); limit != memory_limits_.end()) {
      entry.weight_limit = limit->second;
    }
    metrics.devices.push_back(entry);
  }
  return metrics;
}

void Engine::Shutdown() {
  std::lock_guard control(control_mu_);
  // Everything is retired, pipelines first; the catalog stays, so the getters still answer and
  // a late request finds a retired servable (UNAVAILABLE) instead of nothing.
  std::shared_ptr<const Catalog> catalog = Snapshot();
  for (bool pipelines : {true, false}) {
    for (const auto& [name, entry] : catalog->entries) {
      if ((entry.pipeline != nullptr) != pipelines) continue;
      for (const auto& [number, version] : entry.versions) {
        if (Servable* servable = version.servable()) servable->Retire();
      }
    }
  }
}

}  // namespace tandem
