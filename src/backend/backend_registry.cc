#include "backend/backend.h"
#include "backend/torch/torch_backend.h"

namespace tandem {

StatusOr<std::unique_ptr<Backend>> CreateBackend(const std::string& name) {
  if (name == "torchscript") return std::unique_ptr<Backend>(MakeTorchScriptBackend());
  if (name == "sim") return Unimplemented("the sim backend is not supported yet");
  return NotFound("unknown backend '" + name + "'");
}

}  // namespace tandem
