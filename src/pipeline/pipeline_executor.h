// PipelineExecutor: runs requests through a validated pipeline. Each step is admitted to its
// model's servable (Servable::Admit, as a client's request is) as soon as all its inputs exist,
// so every step batches across requests and no thread waits on another step. Continuations run
// on the worker that finished the step.
//
// Placement (docs/design/architecture.md §1): with affinity, a run picks the device with the fewest
// runs in flight among the devices the pipeline's models have instances on, and every step whose
// model has an instance there runs there; other steps run anywhere. With free placement every step
// goes to whichever instance pulls it first. Intermediates are never copied between steps by the
// executor; a step's instance reads them where they are.
//
// Thread contract: Run is thread-safe; per-run state is guarded by the run's own mutex.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "config/model_config.h"
#include "config/pipeline_config.h"
#include "core/device.h"
#include "core/tensor.h"
#include "scheduler/model_stats.h"
#include "scheduler/servable.h"

namespace tandem {

// Where a step runs: its model's servable, or the servable of the step's op instances.
struct StepModel {
  Servable* servable = nullptr;  // outlives the executor
  std::vector<Device> devices;   // the devices its instances are on
  // Where the step's outcomes are counted (successes, failures by reason, time from submission
  // to result); never null.
  ModelStats* stats = nullptr;
};

class PipelineExecutor {
 public:
  using Callback = std::function<void(StatusOr<std::vector<Tensor>>)>;

  // `config` must be validated (pipeline/pipeline_validation.h); `steps` maps each step's name
  // to where its jobs go. Both must outlive the executor.
  static StatusOr<std::unique_ptr<PipelineExecutor>> Create(
      const PipelineConfig& config, const std::map<std::string, StepModel>& steps);

  // Runs one request. `inputs` are in the pipeline's input order, checked against its config.
  // `done` gets the outputs in the pipeline's output order, or the first failure, naming its
  // step; it is called exactly once, from any thread. A step still queued at `deadline` is
  // never run, and the request fails with DEADLINE_EXCEEDED.
  void Run(std::vector<Tensor> inputs, std::optional<SteadyClock::time_point> deadline,
           Callback done);

  // Runs placed on each device and still in flight (affinity only).
  std::vector<std::pair<Device, int>> InFlight() const;

 private:
  struct Step {
    std::string name;
    StepModel model;
    std::vector<int> input_slots;   // per model input (config order): the tensor slot it reads
    std::vector<int> output_slots;  // per model output: the slot it writes, or -1 if unused
    std::vector<size_t> consumers;  // steps reading any of this step's outputs
  };
  struct RunState;

  PipelineExecutor(const PipelineConfig& config, std::vector<Step> steps, int slot_count,
                   std::vector<int> input_slots, std::vector<int> output_slots,
                   std::vector<Device> devices);

  void Submit(const std::shared_ptr<RunState>& run, size_t step);
  void Finish(const std::shared_ptr<RunState>& run, size_t step,
              StatusOr<std::vector<Tensor>> result);

  const PipelineConfig& config_;
  const std::vector<Step> steps_;
  const int slot_count_;
  const std::vector<int> input_slots_;             // per pipeline input
  const std::vector<int> output_slots_;            // per pipeline output
  const std::vector<Device> devices_;              // affinity candidates
  std::unique_ptr<std::atomic<int>[]> in_flight_;  // per entry of devices_
};

}  // namespace tandem
