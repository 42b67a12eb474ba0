#include "backend/backend.h"
#include "config/request_validation.h"
#include "device/device_stream.h"

namespace tandem {

Status WarmUp(const ModelConfig& config, Instance& instance,
              const std::vector<int64_t>& batch_sizes) {
  // On a stream of its own, like a worker: the default stream cannot be captured.
  DeviceStream stream(instance.device());
  for (int64_t batch : batch_sizes) {
    ASSIGN_OR_RETURN(std::vector<Tensor> inputs, MakeWarmupInputs(config, batch));
    const Status status = stream.Run([&] { return instance.Execute(inputs).status(); });
    if (!status.ok()) {
      return status.WithContext("warm-up with batch size " + std::to_string(batch) + " on " +
                                instance.device().ToString());
    }
  }
  return Status::Ok();
}

}  // namespace tandem
