#include "backend/backend.h"
#include "backend/sim/sim_backend.h"
#include "backend/torch/torch_backend.h"

namespace tandem {

StatusOr<std::unique_ptr<Backend>> CreateBackend(const std::string& name,
                                                 const DeviceSet& devices) {
  if (name == "torchscript") return MakeTorchScriptBackend();
  if (name == "sim") return MakeSimBackend(devices);
  return NotFound("unknown backend '" + name + "'");
}

Device::Kind AcceleratorOf(const std::string& backend) {
  return backend == "sim" ? Device::Kind::kSim : Device::Kind::kCuda;
}

}  // namespace tandem
