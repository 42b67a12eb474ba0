#include "engine/servable_loader.h"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "backend/backend_registry.h"
#include "backend/ops/op.h"

namespace tandem {
namespace {

// Runs `work` on a thread of its own at the lowest priority (SCHED_IDLE), and waits for it.
// Creating and warming instances is the CPU a load costs; at that priority a load while serving
// runs on what the requests leave, and a request that wakes takes the core from it at once (in
// bench-reload another model's p99 during reloads was 1.28× its p99 without them at nice +10,
// 0.92–1.08× at SCHED_IDLE). Linux still gives it a sliver of a saturated core, so a load
// finishes, slowly, while the version it replaces serves; before serving starts nothing
// competes, so it costs nothing then.
// The thread lives for one load because the policy is inherited and an unprivileged thread
// cannot leave SCHED_IDLE again: the intra-op threads the warm-up starts go with it, and the
// workers the caller starts afterwards keep the serving priority.
template <typename Work>
auto RunAtLoadPriority(Work work) -> decltype(work()) {
  std::optional<decltype(work())> result;
  std::thread thread([&] {
    sched_param param{};
    if (const int error = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); error != 0) {
      spdlog::warn("this load runs at the serving threads' priority: SCHED_IDLE refused ({})",
                   std::strerror(error));
    }
    result.emplace(work());
  });
  thread.join();
  return std::move(*result);
}

}  // namespace

StatusOr<std::shared_ptr<InstanceGroup>> LoadModelVersion(std::shared_ptr<const ModelConfig> config,
                                                          int64_t version,
                                                          const std::filesystem::path& version_dir,
                                                          const DeviceSet& devices,
                                                          MemoryBudget& budget) {
  const BackendDescription* description = FindBackend(config->backend);
  if (description == nullptr) return NotFound("unknown backend '" + config->backend + "'");
  std::vector<Device> placement;  // one entry per instance
  for (const InstanceGroupConfig& group : config->instances) {
    ASSIGN_OR_RETURN(std::vector<Device> on, devices.Resolve(group, description->accelerator));
    for (const Device& device : on) {
      placement.insert(placement.end(), static_cast<size_t>(group.count), device);
    }
  }
  const uint64_t each = ExpectedInstanceBytes(*description, *config, version_dir);
  DeviceBytes need;
  for (const Device& device : placement) need[device] += each;
  RETURN_IF_ERROR(
      budget.Take(need, "model '" + config->name + "' version " + std::to_string(version)));
  auto created = RunAtLoadPriority([&]() -> StatusOr<std::vector<std::unique_ptr<Instance>>> {
    std::unique_ptr<Backend> backend = description->make(devices);
    std::vector<std::unique_ptr<Instance>> instances;
    for (const Device& device : placement) {
      ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance,
                       backend->CreateInstance(*config, version_dir, device));
      instances.push_back(std::move(instance));
    }
    // Warm-up runs before the instance takes traffic, so the first requests do not pay for
    // lazy initialisation (kernel selection, allocator growth, CUDA graph capture).
    for (auto& instance : instances) {
      RETURN_IF_ERROR(WarmUp(*config, *instance, config->warmup_batch_sizes));
    }
    return instances;
  });
  if (!created.ok()) return created.status();
  // The workers start here, on the caller's thread, at its priority.
  return std::make_shared<InstanceGroup>(std::move(config), version, std::move(*created), devices);
}

StatusOr<std::shared_ptr<PipelineServable>> AssemblePipeline(
    std::shared_ptr<const PipelineSource> source, const ModelLookup& model_of,
    const DeviceSet& devices) {
  const PipelineConfig& config = source->config;
  std::vector<PipelineServable::Step> steps;
  std::vector<Device> used;  // where the pipeline's models run; its ops run there too
  for (const StepConfig& step : config.steps) {
    if (!step.op.empty()) continue;
    auto group = model_of(step.model);
    if (!group.ok()) return group.status().WithContext("step '" + step.name + "'");
    for (const Device& device : (*group)->devices()) {
      if (std::find(used.begin(), used.end(), device) == used.end()) used.push_back(device);
    }
    steps.push_back({step.name, std::move(*group), /*op=*/false});
  }
  if (used.empty()) used.push_back(Device::Cpu());
  for (const StepConfig& step : config.steps) {
    if (step.op.empty()) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<const OpKernel> kernel, MakeOp(step));
    std::vector<std::unique_ptr<Instance>> instances;
    for (const Device& device : used) instances.push_back(MakeOpInstance(kernel, device));
    auto op_config = std::make_shared<const ModelConfig>(source->op_configs.at(step.name));
    steps.push_back({step.name,
                     std::make_shared<InstanceGroup>(std::move(op_config), /*version=*/0,
                                                     std::move(instances), devices),
                     /*op=*/true});
  }
  return PipelineServable::Create(source, PipelineModelConfig(config), std::move(steps));
}

std::shared_ptr<const ModelConfig> PipelineModelConfig(const PipelineConfig& pipeline) {
  auto config = std::make_shared<ModelConfig>();
  config->name = pipeline.name;
  config->backend = "pipeline";
  config->inputs = pipeline.inputs;
  config->outputs = pipeline.outputs;
  return config;
}

}  // namespace tandem
