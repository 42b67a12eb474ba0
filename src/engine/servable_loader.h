// Builds servables, on the control thread: a model version's instances (its backend creates
// them on each device its config names, each is warmed up — on a thread of the load's own, at
// the lowest priority — then gets a worker, at the caller's priority), and a pipeline
// over model servables already loaded, with instances of its op steps on the devices those
// models use.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "config/model_config.h"
#include "config/repository.h"
#include "device/device_set.h"
#include "engine/memory_budget.h"
#include "pipeline/pipeline_servable.h"
#include "scheduler/instance_group.h"

namespace tandem {

// `version_dir` holds the backend's file. Takes what its instances are expected to hold from
// `budget` before creating any (RESOURCE_EXHAUSTED if that does not fit). Fails, naming what,
// if an instance cannot be created or warmed up; nothing is left running then.
StatusOr<std::shared_ptr<InstanceGroup>> LoadModelVersion(std::shared_ptr<const ModelConfig> config,
                                                          int64_t version,
                                                          const std::filesystem::path& version_dir,
                                                          const DeviceSet& devices,
                                                          MemoryBudget& budget);

// The servable a model step runs on, or why there is none (UNAVAILABLE naming the model).
using ModelLookup =
    std::function<StatusOr<std::shared_ptr<InstanceGroup>>(const std::string& model)>;

// `source` is validated. Fails, naming the step, if a model step's model is not at hand.
StatusOr<std::shared_ptr<PipelineServable>> AssemblePipeline(
    std::shared_ptr<const PipelineSource> source, const ModelLookup& model_of,
    const DeviceSet& devices);

// The config a pipeline is served with, as a model's: its name, inputs and outputs, full shapes
// (max_batch_size 0), backend "pipeline".
std::shared_ptr<const ModelConfig> PipelineModelConfig(const PipelineConfig& pipeline);

}  // namespace tandem
