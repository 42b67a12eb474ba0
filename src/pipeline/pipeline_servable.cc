#include "pipeline/pipeline_servable.h"

namespace tandem {

PipelineServable::PipelineServable(std::shared_ptr<const PipelineSource> source,
                                   std::shared_ptr<const ModelConfig> config,
                                   std::vector<Step> steps)
    : Servable(std::move(config), 1), source_(std::move(source)), steps_(std::move(steps)) {
  for (const Step& step : steps_) {
    step_stats_.push_back(step.op ? nullptr : std::make_unique<ModelStats>());
  }
}

StatusOr<std::shared_ptr<PipelineServable>> PipelineServable::Create(
    std::shared_ptr<const PipelineSource> source, std::shared_ptr<const ModelConfig> config,
    std::vector<Step> steps) {
  std::shared_ptr<PipelineServable> pipeline(
      new PipelineServable(std::move(source), std::move(config), std::move(steps)));
  std::map<std::string, StepModel> targets;
  for (size_t i = 0; i < pipeline->steps_.size(); ++i) {
    const Step& step = pipeline->steps_[i];
    ModelStats* stats = step.op ? &step.group->stats() : pipeline->step_stats_[i].get();
    targets[step.name] = StepModel{step.group.get(), step.group->devices(), stats};
  }
  ASSIGN_OR_RETURN(pipeline->executor_,
                   PipelineExecutor::Create(pipeline->source_->config, targets));
  return pipeline;
}

PipelineServable::~PipelineServable() { Stop(); }

std::vector<PipelineServable::StepReport> PipelineServable::StepReports() const {
  std::vector<StepReport> out;
  for (const StepConfig& config : source_->config.steps) {
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].name != config.name) continue;
      if (steps_[i].op) {
        out.push_back(
            {config.name, steps_[i].group->stats().Snapshot(), steps_[i].group->queue_depth()});
      } else {
        out.push_back({config.name, step_stats_[i]->Snapshot(), std::nullopt});
      }
    }
  }
  return out;
}

Status PipelineServable::Start(std::vector<Tensor> inputs, const Options& options,
                               std::function<void(StatusOr<std::vector<Tensor>>)> done) {
  ModelStats* stats = options.stats ? options.stats : &this->stats();
  executor_->Run(std::move(inputs), options.deadline,
                 [stats, started = SteadyClock::now(),
                  done = std::move(done)](StatusOr<std::vector<Tensor>> result) mutable {
                   if (result.ok()) stats->RecordRun(SteadyClock::now() - started);
                   done(std::move(result));
                 });
  return Status::Ok();
}

void PipelineServable::Stop() {
  for (const Step& step : steps_) {
    if (step.op) step.group->Retire();
  }
}

}  // namespace tandem
