#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include "backend/backend_registry.h"
#include "backend/ops/op.h"
#include "config/request_validation.h"
#include "device/device_tensors.h"
#include "pipeline/pipeline_executor.h"
#include "pipeline/pipeline_validation.h"
#include "scheduler/instance_worker.h"
#include "scheduler/model_queue.h"

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

struct Engine::Version {
  Version(const ModelConfig& config, int64_t number, std::filesystem::path dir)
      : number(number),
        dir(std::move(dir)),
        queue(config.name, BatchingOf(config), QueueLimitOf(config)) {}

  static BatchingOptions BatchingOf(const ModelConfig& config) {
    BatchingOptions b;
    b.max_batch_size = config.max_batch_size;
    if (config.dynamic_batching) {
      b.enabled = true;
      b.preferred_batch_sizes = config.dynamic_batching->preferred_batch_sizes;
      b.max_queue_delay = std::chrono::microseconds(config.dynamic_batching->max_queue_delay_us);
    }
    return b;
  }
  static size_t QueueLimitOf(const ModelConfig& config) {
    return config.dynamic_batching ? config.dynamic_batching->max_queue_size : 0;
  }

  const int64_t number;
  const std::filesystem::path dir;
  ModelQueue queue;
  ModelStats stats;
  std::vector<std::unique_ptr<InstanceWorker>> workers;  // written by LoadAll before kReady
  std::atomic<ModelState> state{ModelState::kLoading};
  mutable std::mutex reason_mu;
  std::string reason;  // guarded by reason_mu
};

// A model, or a pipeline presented as one: a pipeline has a single version, a config whose
// inputs and outputs are its own (full shapes, max_batch_size 0), and an executor once its
// models are ready.
// The instances of one op step of a pipeline, scheduled like a model's.
struct OpStep {
  OpStep(ModelConfig config, std::unique_ptr<OpKernel> kernel)
      : config(std::move(config)), kernel(std::move(kernel)), queue(this->config.name, {}, 0) {}
  const ModelConfig config;
  const std::unique_ptr<OpKernel> kernel;
  ModelQueue queue;
  ModelStats stats;
  std::vector<std::unique_ptr<InstanceWorker>> workers;
};

struct Engine::Model {
  ModelConfig config;
  std::map<int64_t, std::unique_ptr<Version>> versions;  // immutable after Create
  std::optional<PipelineSource> pipeline;
  // Set by LoadAll before the version is READY.
  std::vector<std::unique_ptr<OpStep>> op_steps;
  // The outcomes of model steps (op steps count theirs in their OpStep's stats).
  std::vector<std::unique_ptr<ModelStats>> step_stats;
  std::unique_ptr<PipelineExecutor> executor;
};

Engine::Engine(EngineOptions options, DeviceSet devices, RepositoryScan scan)
    : options_(std::move(options)),
      devices_(std::move(devices)),
      rejected_(std::move(scan.rejected)) {
  for (PipelineSource& source : scan.pipelines) {
    auto model = std::make_unique<Model>();
    const PipelineConfig& pipeline = source.config;
    model->config.name = pipeline.name;
    model->config.backend = "pipeline";
    model->config.inputs = pipeline.inputs;
    model->config.outputs = pipeline.outputs;
    model->versions[1] = std::make_unique<Version>(model->config, 1, source.file.parent_path());
    model->pipeline = std::move(source);
    models_[model->config.name] = std::move(model);
  }
  for (ModelSource& source : scan.models) {
    auto model = std::make_unique<Model>();
    model->config = std::move(source.config);
    for (int64_t v : source.versions) {
      model->versions[v] =
          std::make_unique<Version>(model->config, v, source.dir / std::to_string(v));
    }
    models_[model->config.name] = std::move(model);
  }
}

Engine::~Engine() { Shutdown(); }

StatusOr<std::unique_ptr<Engine>> Engine::Create(EngineOptions options) {
  RepositoryScan scan = ScanModelRepository(options.repository);
  ValidatePipelines(scan);
  if (scan.models.empty() && scan.pipelines.empty()) {
    RETURN_IF_ERROR(scan.problems.ToStatus());
  }
  for (const ConfigProblem& problem : scan.problems.all()) {
    spdlog::error("{}", problem.ToString());
  }
  ASSIGN_OR_RETURN(DeviceSet devices,
                   DeviceSet::Create(DeviceSet::CountCudaDevices(), options.devices));
  return std::unique_ptr<Engine>(
      new Engine(std::move(options), std::move(devices), std::move(scan)));
}

void Engine::SetState(const std::string& name, Version& version, const Status& status) {
  if (status.ok()) {
    version.state = ModelState::kReady;
    return;
  }
  {
    std::lock_guard lock(version.reason_mu);
    version.reason = status.message();
  }
  version.state = ModelState::kUnavailable;
  spdlog::error("'{}' version {} is unavailable: {}", name, version.number, status.message());
}

Status Engine::LoadPipeline(Model& pipeline) {
  const PipelineConfig& config = pipeline.pipeline->config;
  std::map<std::string, StepModel> steps;
  std::vector<Device> devices;  // where the pipeline's models run; its ops run there too
  for (const StepConfig& step : config.steps) {
    if (!step.op.empty()) continue;
    // Validation guarantees the model exists; a pipeline runs on its highest version.
    Model& model = *models_.at(step.model);
    Version& version = *model.versions.rbegin()->second;
    if (version.state != ModelState::kReady) {
      std::lock_guard lock(version.reason_mu);
      return Unavailable("step '" + step.name + "': model '" + step.model + "' is not ready" +
                         (version.reason.empty() ? "" : ": " + version.reason));
    }
    pipeline.step_stats.push_back(std::make_unique<ModelStats>());
    StepModel target{&model.config, &version.queue, {}, pipeline.step_stats.back().get()};
    for (const auto& worker : version.workers) {
      target.devices.push_back(worker->device());
      if (std::find(devices.begin(), devices.end(), worker->device()) == devices.end()) {
        devices.push_back(worker->device());
      }
    }
    steps[step.name] = std::move(target);
  }
  if (devices.empty()) devices.push_back(Device::Cpu());
  for (const StepConfig& step : config.steps) {
    if (step.op.empty()) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<OpKernel> kernel, MakeOp(step));
    auto op =
        std::make_unique<OpStep>(pipeline.pipeline->op_configs.at(step.name), std::move(kernel));
    for (const Device& device : devices) {
      op->workers.push_back(std::make_unique<InstanceWorker>(
          op->config.name + "/" + device.ToString(), MakeOpInstance(*op->kernel, device),
          /*batched=*/false, op->queue, op->stats, devices_));
    }
    steps[step.name] = StepModel{&op->config, &op->queue, devices, &op->stats};
    pipeline.op_steps.push_back(std::move(op));
  }
  ASSIGN_OR_RETURN(pipeline.executor, PipelineExecutor::Create(config, steps));
  return Status::Ok();
}

Status Engine::LoadAll() {
  Status first_error;
  for (auto& [name, model] : models_) {
    if (model->pipeline) continue;  // after every model, below
    for (auto& [number, version] : model->versions) {
      Status status = LoadVersion(model->config, *version);
      SetState(name, *version, status);
      if (status.ok()) {
        std::string where;
        for (const auto& worker : version->workers) {
          where += (where.empty() ? "" : ", ") + worker->device().ToString();
        }
        spdlog::info("model '{}' version {} is ready: {} instance(s) on {}", name, number,
                     version->workers.size(), where);
      } else if (first_error.ok()) {
        first_error = status;
      }
    }
  }
  for (auto& [name, model] : models_) {
    if (!model->pipeline) continue;
    Status status = LoadPipeline(*model);
    SetState(name, *model->versions.begin()->second, status);
    if (status.ok()) {
      const PipelineConfig& pipeline = model->pipeline->config;
      spdlog::info("pipeline '{}' is ready: {} steps, placement {}", name, pipeline.steps.size(),
                   pipeline.placement == Placement::kAffinity ? "affinity" : "free");
    } else if (first_error.ok()) {
      first_error = status;
    }
  }
  return first_error;
}

Status Engine::LoadVersion(const ModelConfig& config, Version& version) {
  const BackendDescription* description = FindBackend(config.backend);
  if (description == nullptr) return NotFound("unknown backend '" + config.backend + "'");
  std::unique_ptr<Backend> backend = description->make(devices_);
  std::vector<std::unique_ptr<Instance>> instances;
  for (const InstanceGroupConfig& group : config.instances) {
    ASSIGN_OR_RETURN(std::vector<Device> devices,
                     devices_.Resolve(group, description->accelerator));
    for (const Device& device : devices) {
      for (int64_t i = 0; i < group.count; ++i) {
        ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance,
                         backend->CreateInstance(config, version.dir, device));
        instances.push_back(std::move(instance));
      }
    }
  }
  // Warm-up runs before the instance takes traffic, so the first requests do not pay for
  // lazy initialisation (kernel selection, allocator growth, CUDA graph capture).
  for (auto& instance : instances) {
    RETURN_IF_ERROR(WarmUp(config, *instance, config.warmup_batch_sizes));
  }
  for (size_t i = 0; i < instances.size(); ++i) {
    std::string worker_name = config.name + "/" + std::to_string(version.number) + "/" +
                              instances[i]->device().ToString() + "#" + std::to_string(i);
    version.workers.push_back(
        std::make_unique<InstanceWorker>(std::move(worker_name), std::move(instances[i]),
                                         config.batched(), version.queue, version.stats, devices_));
  }
  return Status::Ok();
}

StatusOr<Engine::Version*> Engine::FindVersion(const std::string& model,
                                               const std::string& version) const {
  auto it = models_.find(model);
  if (it == models_.end()) return Missing(model);
  const auto& versions = it->second->versions;
  if (version.empty()) return versions.rbegin()->second.get();
  for (const auto& [number, v] : versions) {
    if (std::to_string(number) == version) return v.get();
  }
  std::string known;
  for (const auto& [number, v] : versions)
    known += (known.empty() ? "" : ", ") + std::to_string(number);
  return NotFound("model '" + model + "' has no version '" + version + "' (versions: " + known +
                  ")");
}

namespace {

// The response to `request` from a model's or pipeline's outputs (in config order). Outputs left
// on a device are copied to the host here, and only those the client asked for.
StatusOr<InferResponse> MakeResponse(const ModelConfig& config, const std::string& model,
                                     const std::string& version, const std::string& id,
                                     const std::vector<size_t>& output_indices,
                                     std::vector<Tensor> outputs) {
  InferResponse response{model, version, id, {}};
  for (size_t index : output_indices) {
    ASSIGN_OR_RETURN(Tensor host, ToHost(outputs[index]));
    response.outputs.push_back({config.outputs[index].name, std::move(host)});
  }
  return response;
}

}  // namespace

void Engine::Infer(InferRequest request, InferCallback done) {
  auto found = FindVersion(request.model, request.version);
  if (!found.ok()) return done(found.status());
  Version& version = **found;
  const Model& entry = *models_.at(request.model);
  const ModelConfig& config = entry.config;
  // Refused before admission: counted as a failure, in no latency.
  auto refuse = [&](const Status& status) {
    version.stats.RecordRequest(status, std::nullopt);
    done(status);
  };
  if (version.state != ModelState::kReady) {
    std::string reason;
    {
      std::lock_guard lock(version.reason_mu);
      reason = version.reason;
    }
    return refuse(Unavailable(
        "model '" + request.model + "' version " + std::to_string(version.number) + " is " +
        std::string(ModelStateName(version.state)) + (reason.empty() ? "" : ": " + reason)));
  }
  auto validated = ValidateRequest(config, request);
  if (!validated.ok()) return refuse(validated.status());
  // Answers the request from its outputs, and counts it, whoever produced them.
  version.stats.AddInFlight(1);
  auto finish = [done, output_indices = std::move(validated->output_indices), config = &config,
                 stats = &version.stats, start = SteadyClock::now(), model = request.model,
                 version = std::to_string(version.number),
                 id = request.id](StatusOr<std::vector<Tensor>> outputs) {
    StatusOr<InferResponse> response =
        outputs.ok()
            ? MakeResponse(*config, model, version, id, output_indices, std::move(*outputs))
            : StatusOr<InferResponse>(outputs.status());
    stats->AddInFlight(-1);
    stats->RecordRequest(response.status(), SteadyClock::now() - start);
    done(std::move(response));
  };
  std::optional<std::chrono::microseconds> timeout = request.timeout;
  if (!timeout && config.dynamic_batching && config.dynamic_batching->default_timeout_us > 0) {
    timeout = std::chrono::microseconds(config.dynamic_batching->default_timeout_us);
  }
  std::optional<SteadyClock::time_point> deadline;
  if (timeout) deadline = SteadyClock::now() + *timeout;

  if (entry.executor) {
    return entry.executor->Run(std::move(validated->inputs), deadline, std::move(finish));
  }
  auto job = std::make_unique<InferJob>();
  job->inputs = std::move(validated->inputs);
  job->batch_size = config.batched() ? job->inputs.front().shape()[0] : 1;
  job->deadline = deadline;
  job->done = std::move(finish);
  // A refused job is dropped unrun; the request is answered through the original callback.
  Status queued = version.queue.Enqueue(std::move(job));
  if (!queued.ok()) {
    version.stats.AddInFlight(-1);
    refuse(queued);
  }
}

Status Engine::Missing(const std::string& model) const {
  auto it = rejected_.find(model);
  if (it != rejected_.end()) {
    return NotFound("model '" + model + "' is not available: " + it->second);
  }
  return NotFound("unknown model '" + model + "'");
}

bool Engine::Ready() const {
  if (!rejected_.empty() || draining_) return false;
  for (const auto& [name, model] : models_) {
    for (const auto& [number, version] : model->versions) {
      if (version->state != ModelState::kReady) return false;
    }
  }
  return !models_.empty();
}

std::vector<std::string> Engine::ModelNames() const {
  std::vector<std::string> names;
  for (const auto& [name, model] : models_) names.push_back(name);
  return names;
}

StatusOr<const ModelConfig*> Engine::Config(const std::string& model,
                                            const std::string& version) const {
  RETURN_IF_ERROR(FindVersion(model, version).status());
  return &models_.at(model)->config;
}

StatusOr<std::vector<std::string>> Engine::Versions(const std::string& model) const {
  auto it = models_.find(model);
  if (it == models_.end()) return Missing(model);
  std::vector<std::string> out;
  for (const auto& [number, v] : it->second->versions) out.push_back(std::to_string(number));
  return out;
}

StatusOr<ModelVersionInfo> Engine::Info(const std::string& model,
                                        const std::string& version) const {
  ASSIGN_OR_RETURN(Version * v, FindVersion(model, version));
  ModelVersionInfo info{model, std::to_string(v->number), v->state.load(), ""};
  std::lock_guard lock(v->reason_mu);
  info.reason = v->reason;
  return info;
}

std::vector<ModelVersionInfo> Engine::Index() const {
  std::vector<ModelVersionInfo> out;
  for (const auto& [name, reason] : rejected_) {
    out.push_back({name, "", ModelState::kUnavailable, reason});
  }
  for (const auto& [name, model] : models_) {
    for (const auto& [number, v] : model->versions) {
      out.push_back(*Info(name, std::to_string(number)));
    }
  }
  return out;
}

ModelStatsReport Engine::Report(const std::string& model, const Version& version) const {
  ModelStatsReport report{model, std::to_string(version.number), version.stats.Snapshot(), {}};
  // Workers are only added while loading, before the version is READY.
  if (version.state == ModelState::kReady) {
    for (const auto& worker : version.workers) {
      report.instances.push_back({worker->name(), worker->device().ToString(),
                                  worker->inference_count(), worker->execution_count()});
    }
  }
  return report;
}

StatusOr<std::vector<ModelStatsReport>> Engine::Stats(const std::string& model,
                                                      const std::string& version) const {
  std::vector<ModelStatsReport> reports;
  if (model.empty()) {
    for (const auto& [name, m] : models_) {
      for (const auto& [number, v] : m->versions) reports.push_back(Report(name, *v));
    }
    return reports;
  }
  if (!version.empty()) {
    ASSIGN_OR_RETURN(Version * v, FindVersion(model, version));
    reports.push_back(Report(model, *v));
    return reports;
  }
  auto it = models_.find(model);
  if (it == models_.end()) return Missing(model);
  for (const auto& [number, v] : it->second->versions) reports.push_back(Report(model, *v));
  return reports;
}

EngineMetrics Engine::Metrics() const {
  EngineMetrics metrics;
  for (const auto& [name, model] : models_) {
    for (const auto& [number, version] : model->versions) {
      std::optional<size_t> queue_depth;
      if (!model->pipeline) queue_depth = version->queue.size();
      metrics.entries.push_back(
          {name, std::to_string(number), "", version->stats.Snapshot(), queue_depth});
    }
    // Steps are filled in by LoadAll before the pipeline is READY.
    if (!model->pipeline || model->versions.begin()->second->state != ModelState::kReady) continue;
    size_t model_step = 0, op_step = 0;
    for (const StepConfig& step : model->pipeline->config.steps) {
      EngineMetrics::Entry entry{name, "", step.name, {}, std::nullopt};
      if (step.op.empty()) {
        entry.stats = model->step_stats[model_step++]->Snapshot();
      } else {
        const OpStep& op = *model->op_steps[op_step++];
        entry.stats = op.stats.Snapshot();
        entry.queue_depth = op.queue.size();
      }
      metrics.entries.push_back(std::move(entry));
    }
  }
  for (const Device& device : devices_.all()) {
    EngineMetrics::DeviceEntry entry{device, devices_.activity(device).busy_time(),
                                     DeviceSet::MemoryOf(device)};
    if (device.kind() == Device::Kind::kSim) entry.busy = devices_.sim(device.index()).busy_time();
    metrics.devices.push_back(entry);
  }
  return metrics;
}

void Engine::Shutdown() {
  for (auto& [name, model] : models_) {
    for (auto& [number, version] : model->versions) version->queue.Close();
    for (auto& op : model->op_steps) op->queue.Close();
  }
  for (auto& [name, model] : models_) {
    for (auto& [number, version] : model->versions) {
      for (auto& worker : version->workers) worker->Join();
    }
    for (auto& op : model->op_steps) {
      for (auto& worker : op->workers) worker->Join();
    }
  }
}

}  // namespace tandem
