#include "scheduler/servable.h"

#include "config/request_validation.h"
#include "device/device_tensors.h"

namespace tandem {
namespace {

StatusOr<Servable::Outputs> Collect(std::vector<Tensor> tensors, std::vector<size_t> requested,
                                    bool to_host) {
  if (to_host) {
    for (size_t index : requested) {
      ASSIGN_OR_RETURN(tensors[index], ToHost(tensors[index]));
    }
  }
  return Servable::Outputs{std::move(tensors), std::move(requested)};
}

}  // namespace

Servable::Servable(std::shared_ptr<const ModelConfig> config, int64_t version)
    : config_(std::move(config)), version_(version) {}

bool Servable::Enter() {
  std::lock_guard lock(mu_);
  if (retired_) return false;
  ++admitted_;
  return true;
}

void Servable::Leave() {
  std::lock_guard lock(mu_);
  if (--admitted_ == 0 && retired_) idle_.notify_all();
}

bool Servable::Admit(InferRequest& request, const Options& options, Done& done) {
  if (!Enter()) return false;
  ModelStats* stats = options.stats != nullptr ? options.stats : &stats_;
  auto answer = std::make_shared<Done>(std::move(done));
  // Refused before admission (bad input, a full queue): counted as a failure, in no latency.
  auto refuse = [&](const Status& status) {
    stats->RecordRequest(status, std::nullopt);
    (*answer)(status);
    Leave();
  };
  auto validated = ValidateRequest(*config_, request);
  if (!validated.ok()) {
    refuse(validated.status());
    return true;
  }
  stats->AddInFlight(1);
  // Answers the request and counts it, whoever produced its outputs. Leave comes last, so that
  // Retire returns only once every admitted request has been answered.
  auto finish = [this, stats, answer, requested = std::move(validated->output_indices),
                 to_host = options.to_host,
                 start = SteadyClock::now()](StatusOr<std::vector<Tensor>> outputs) {
    StatusOr<Outputs> result = outputs.ok() ? Collect(std::move(*outputs), requested, to_host)
                                            : StatusOr<Outputs>(outputs.status());
    stats->AddInFlight(-1);
    stats->RecordRequest(result.status(), SteadyClock::now() - start);
    (*answer)(std::move(result));
    Leave();
  };
  Status started = Start(std::move(validated->inputs), options, std::move(finish));
  if (!started.ok()) {
    stats->AddInFlight(-1);
    refuse(started);
  }
  return true;
}

void Servable::Retire() {
  {
    std::unique_lock lock(mu_);
    retired_ = true;
    idle_.wait(lock, [&] { return admitted_ == 0; });
  }
  if (!stopped_) {
    stopped_ = true;
    Stop();
  }
}

}  // namespace tandem
