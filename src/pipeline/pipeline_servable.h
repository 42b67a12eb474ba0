// PipelineServable: a pipeline served like a model. It holds its executor, the servables its
// steps run on — its models' (shared with the engine's registry, so a model it uses never goes
// away under it) and its op steps' own instance groups — and each model step's statistics.
// Retiring it waits for its runs in flight, then retires its op steps; its models are the
// engine's to retire, after it.
//
// Thread contract: as Servable's.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/repository.h"
#include "pipeline/pipeline_executor.h"
#include "scheduler/instance_group.h"
#include "scheduler/servable.h"

namespace tandem {

class PipelineServable : public Servable {
 public:
  struct Step {
    std::string name;
    std::shared_ptr<InstanceGroup> group;  // a model version's, or this op step's own
    bool op = false;                       // an op step: the group is this pipeline's
  };

  // `source` is validated (pipeline/pipeline_validation.h); `steps` holds one entry per step of
  // its config. `config` is the pipeline's own, as a model's: its inputs and outputs.
  static StatusOr<std::shared_ptr<PipelineServable>> Create(
      std::shared_ptr<const PipelineSource> source, std::shared_ptr<const ModelConfig> config,
      std::vector<Step> steps);
  ~PipelineServable() override;

  // Each step's outcomes, in config order; an op step's with its queue's depth (a model step's
  // batches are its model's).
  struct StepReport {
    std::string step;
    ModelStatsSnapshot stats;
    std::optional<size_t> queue_depth;
  };
  std::vector<StepReport> StepReports() const;

  // The models its steps run on: step name -> model version's group.
  const std::vector<Step>& steps() const { return steps_; }
  const PipelineConfig& pipeline() const { return source_->config; }

 protected:
  Status Start(std::vector<Tensor> inputs, const Options& options,
               std::function<void(StatusOr<std::vector<Tensor>>)> done) override;
  void Stop() override;

 private:
  PipelineServable(std::shared_ptr<const PipelineSource> source,
                   std::shared_ptr<const ModelConfig> config, std::vector<Step> steps);

  const std::shared_ptr<const PipelineSource> source_;
  const std::vector<Step> steps_;
  // Model steps' outcomes, per entry of steps_ (op steps count theirs in their group's stats).
  std::vector<std::unique_ptr<ModelStats>> step_stats_;
  std::unique_ptr<PipelineExecutor> executor_;  // reads source_, steps_ and step_stats_
};

}  // namespace tandem
