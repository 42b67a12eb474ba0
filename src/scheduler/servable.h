// Servable: what serves requests — a model version's instances, an op step's, or a pipeline —
// behind the one admission path. Client requests (the engine) and pipeline steps (the executor)
// both come in through Admit: validate against the config, count the request, hand it to the
// servable, answer and count a refusal.
//
// Lifetime: servables are shared. The engine's registry holds those it serves, a request holds
// the one it was admitted to until it is answered, a pipeline holds its models'. Retire, on the
// control thread, refuses new requests, waits until the admitted ones are answered and stops the
// servable's threads. Whoever publishes a servable retires it before dropping the last
// reference it controls (the engine does), so no thread of a servable's own ever destroys it.
//
// Thread contract: Admit and the getters are thread-safe; Retire runs on the control thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/model_config.h"
#include "core/inference.h"
#include "scheduler/infer_job.h"
#include "scheduler/model_stats.h"

namespace tandem {

class Servable {
 public:
  // An answer: every output in config order, and which of them the request asked for (indices
  // into config().outputs, in the request's order).
  struct Outputs {
    std::vector<Tensor> tensors;
    std::vector<size_t> requested;
  };
  using Done = std::function<void(StatusOr<Outputs>)>;

  struct Options {
    std::optional<SteadyClock::time_point> deadline;  // still queued then: DEADLINE_EXCEEDED
    std::optional<Device> device;  // only an instance on this device may run it (affinity)
    ModelStats* stats = nullptr;   // where the outcome is counted; null: this servable's stats
    // Copy the requested outputs to the host before answering (a client's request; pipeline
    // steps leave theirs where they were made).
    bool to_host = false;
  };

  // `version` is the model version it serves (0 for an op step or a pipeline's own).
  Servable(std::shared_ptr<const ModelConfig> config, int64_t version);
  virtual ~Servable() = default;

  Servable(const Servable&) = delete;
  Servable& operator=(const Servable&) = delete;

  // The one admission path. Returns false, leaving `request` and `done` untouched, once the
  // servable is retired: the caller may look the model up again (a reload replaces it).
  // Otherwise validates and runs `request` (its inputs are moved out) and calls `done` exactly
  // once, from any thread, with the outputs or why the request was refused or failed.
  bool Admit(InferRequest& request, const Options& options, Done& done);

  // Refuses new requests, waits until every admitted one is answered, then stops the
  // servable's threads. Idempotent.
  void Retire();

  const ModelConfig& config() const { return *config_; }
  const std::shared_ptr<const ModelConfig>& shared_config() const { return config_; }
  int64_t version() const { return version_; }
  ModelStats& stats() { return stats_; }
  const ModelStats& stats() const { return stats_; }

 protected:
  // Runs a validated request (inputs in config order). Returns a refusal, such as a full
  // queue, without calling `done`; else `done` is called exactly once with every output.
  virtual Status Start(std::vector<Tensor> inputs, const Options& options,
                       std::function<void(StatusOr<std::vector<Tensor>>)> done) = 0;
  // Stops the servable's threads. Called once, by Retire, when nothing is in flight.
  virtual void Stop() {}

 private:
  bool Enter();
  void Leave();

  const std::shared_ptr<const ModelConfig> config_;
  const int64_t version_;
  ModelStats stats_;
  std::mutex mu_;
  std::condition_variable idle_;
  bool retired_ = false;  // guarded by mu_
  int64_t admitted_ = 0;  // guarded by mu_: admitted and not yet answered
  bool stopped_ = false;  // control thread only
};

}  // namespace tandem
