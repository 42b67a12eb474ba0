#include "pipeline/pipeline_executor.h"

#include <algorithm>
#include <mutex>
#include <optional>

namespace tandem {

struct PipelineExecutor::RunState {
  std::mutex mu;
  std::vector<std::optional<Tensor>> slots;  // guarded by mu
  std::vector<int> missing;                  // per step: inputs not yet produced; guarded by mu
  size_t steps_left = 0;                     // guarded by mu
  bool finished = false;                     // guarded by mu; done was called
  int device = -1;                           // affinity: index into devices_; immutable
  std::optional<SteadyClock::time_point> deadline;  // immutable
  Callback done;
};

StatusOr<std::unique_ptr<PipelineExecutor>> PipelineExecutor::Create(
    const PipelineConfig& config, const std::map<std::string, StepModel>& targets) {
  std::map<std::string, int> slot_of;
  auto slot = [&](const std::string& tensor) {
    auto [it, fresh] = slot_of.emplace(tensor, static_cast<int>(slot_of.size()));
    return it->second;
  };
  std::vector<int> input_slots;
  for (const TensorConfig& t : config.inputs) input_slots.push_back(slot(t.name));
  std::vector<Step> steps;
  std::vector<Device> devices;
  for (const StepConfig& sc : config.steps) {
    auto it = targets.find(sc.name);
    if (it == targets.end()) return Internal("step '" + sc.name + "' has nowhere to run");
    Step step{sc.name, it->second, {}, {}, {}};
    const ModelConfig& model = step.model.servable->config();
    for (const TensorConfig& in : model.inputs) {
      auto bound = std::find_if(sc.inputs.begin(), sc.inputs.end(),
                                [&](const auto& kv) { return kv.first == in.name; });
      if (bound == sc.inputs.end()) {
        return Internal("step '" + sc.name + "' does not feed input '" + in.name + "'");
      }
      step.input_slots.push_back(slot(bound->second));
    }
    for (const TensorConfig& out : model.outputs) {
      auto bound = std::find_if(sc.outputs.begin(), sc.outputs.end(),
                                [&](const auto& kv) { return kv.first == out.name; });
      step.output_slots.push_back(bound == sc.outputs.end() ? -1 : slot(bound->second));
    }
    for (const Device& d : step.model.devices) {
      if (std::find(devices.begin(), devices.end(), d) == devices.end()) devices.push_back(d);
    }
    steps.push_back(std::move(step));
  }
  // Steps are in dependency order: a consumer always comes after its producers.
  for (size_t i = 0; i < steps.size(); ++i) {
    for (size_t j = i + 1; j < steps.size(); ++j) {
      bool reads = false;
      for (int out : steps[i].output_slots) {
        reads |= out >= 0 &&
                 std::count(steps[j].input_slots.begin(), steps[j].input_slots.end(), out) > 0;
      }
      if (reads) steps[i].consumers.push_back(j);
    }
  }
  std::vector<int> output_slots;
  for (const TensorConfig& t : config.outputs) output_slots.push_back(slot(t.name));
  if (config.placement == Placement::kFree) devices.clear();
  return std::unique_ptr<PipelineExecutor>(
      new PipelineExecutor(config, std::move(steps), static_cast<int>(slot_of.size()),
                           std::move(input_slots), std::move(output_slots), std::move(devices)));
}

PipelineExecutor::PipelineExecutor(const PipelineConfig& config, std::vector<Step> steps,
                                   int slot_count, std::vector<int> input_slots,
                                   std::vector<int> output_slots, std::vector<Device> devices)
    : config_(config),
      steps_(std::move(steps)),
      slot_count_(slot_count),
      input_slots_(std::move(input_slots)),
      output_slots_(std::move(output_slots)),
      devices_(std::move(devices)),
      in_flight_(new std::atomic<int>[devices_.size()]) {
  for (size_t i = 0; i < devices_.size(); ++i) in_flight_[i] = 0;
}

std::vector<std::pair<Device, int>> PipelineExecutor::InFlight() const {
  std::vector<std::pair<Device, int>> out;
  for (size_t i = 0; i < devices_.size(); ++i) out.emplace_back(devices_[i], in_flight_[i].load());
  return out;
}

void PipelineExecutor::Run(std::vector<Tensor> inputs,
                           std::optional<SteadyClock::time_point> deadline, Callback done) {
  auto run = std::make_shared<RunState>();
  run->deadline = deadline;
  run->slots.resize(slot_count_);
  for (size_t i = 0; i < inputs.size(); ++i) run->slots[input_slots_[i]] = std::move(inputs[i]);
  run->steps_left = steps_.size();
  run->done = std::move(done);
  if (!devices_.empty()) {
    // Affinity: the device with the fewest runs in flight (a racy read is fine: it only
    // balances).
    size_t best = 0;
    for (size_t i = 1; i < devices_.size(); ++i) {
      if (in_flight_[i].load() < in_flight_[best].load()) best = i;
    }
    run->device = static_cast<int>(best);
    ++in_flight_[best];
  }
  std::vector<size_t> ready;
  for (size_t s = 0; s < steps_.size(); ++s) {
    int missing = 0;
    for (int slot : steps_[s].input_slots) missing += run->slots[slot].has_value() ? 0 : 1;
    run->missing.push_back(missing);
    if (missing == 0) ready.push_back(s);
  }
  for (size_t s : ready) Submit(run, s);
}

void PipelineExecutor::Submit(const std::shared_ptr<RunState>& run, size_t index) {
  const Step& step = steps_[index];
  Servable& servable = *step.model.servable;
  InferRequest request;
  {
    std::lock_guard lock(run->mu);
    if (run->finished) return;
    const ModelConfig& model = servable.config();
    for (size_t i = 0; i < model.inputs.size(); ++i) {
      request.inputs.push_back({model.inputs[i].name, *run->slots[step.input_slots[i]]});
    }
  }
  Servable::Options options;
  options.deadline = run->deadline;
  options.stats = step.model.stats;
  if (run->device >= 0) {
    const Device& device = devices_[run->device];
    if (std::count(step.model.devices.begin(), step.model.devices.end(), device) > 0) {
      options.device = device;
    }
  }
  // Intermediates are checked against the model like a client's request: shapes declared
  // with -1 in the pipeline become concrete only at run time.
  Servable::Done done = [this, run, index](StatusOr<Servable::Outputs> outputs) {
    Finish(run, index,
           outputs.ok() ? StatusOr<std::vector<Tensor>>(std::move(outputs->tensors))
                        : StatusOr<std::vector<Tensor>>(outputs.status()));
  };
  if (!servable.Admit(request, options, done)) {
    // Only a pipeline that outlived its model's servable gets here; the engine retires a
    // pipeline before the models it uses.
    Finish(run, index, Unavailable("model '" + servable.config().name + "' was unloaded"));
  }
}

void PipelineExecutor::Finish(const std::shared_ptr<RunState>& run, size_t index,
                              StatusOr<std::vector<Tensor>> result) {
  const Step& step = steps_[index];
  std::vector<size_t> ready;
  std::optional<StatusOr<std::vector<Tensor>>> answer;
  {
    std::lock_guard lock(run->mu);
    if (run->finished) return;
    if (!result.ok()) {
      run->finished = true;
      answer.emplace(
          result.status().WithContext("pipeline '" + config_.name + "' step '" + step.name + "'"));
    } else {
      for (size_t i = 0; i < step.output_slots.size(); ++i) {
        if (step.output_slots[i] >= 0) run->slots[step.output_slots[i]] = std::move((*result)[i]);
      }
      for (size_t consumer : step.consumers) {
        int produced = 0;
        for (int out : step.output_slots) {
          const auto& in = steps_[consumer].input_slots;
          produced += out >= 0 ? static_cast<int>(std::count(in.begin(), in.end(), out)) : 0;
        }
        run->missing[consumer] -= produced;
        if (run->missing[consumer] == 0) ready.push_back(consumer);
      }
      if (--run->steps_left == 0) {
        run->finished = true;
        std::vector<Tensor> outputs;
        for (int slot : output_slots_) outputs.push_back(*run->slots[slot]);
        answer.emplace(std::move(outputs));
      }
    }
  }
  if (answer) {
    if (run->device >= 0) --in_flight_[run->device];
    run->done(std::move(*answer));
    return;
  }
  for (size_t s : ready) Submit(run, s);
}

}  // namespace tandem
