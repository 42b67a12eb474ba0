#include "backend/backend_registry.h"

#include "backend/aoti/aoti_backend.h"
#include "backend/sim/sim_backend.h"
#include "backend/torch/torch_backend.h"

namespace tandem {

const std::vector<BackendDescription>& Backends() {
  static const std::vector<BackendDescription> kBackends = {
      AotiBackendDescription(), TorchScriptBackendDescription(), SimBackendDescription()};
  return kBackends;
}

const BackendDescription* FindBackend(std::string_view name) {
  for (const BackendDescription& backend : Backends()) {
    if (backend.rules.name == name) return &backend;
  }
  return nullptr;
}

uint64_t ExpectedInstanceBytes(const BackendDescription& backend, const ModelConfig& config,
                               const std::filesystem::path& version_dir) {
  if (backend.expected_bytes) return backend.expected_bytes(config, version_dir);
  if (backend.rules.artifact.empty()) return 0;
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(version_dir / backend.rules.artifact, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

const std::vector<BackendRules>& AllBackendRules() {
  static const std::vector<BackendRules> kRules = [] {
    std::vector<BackendRules> rules;
    for (const BackendDescription& backend : Backends()) rules.push_back(backend.rules);
    return rules;
  }();
  return kRules;
}

RepositoryScan ScanModelRepository(const std::filesystem::path& root) {
  return ScanRepository(root, AllBackendRules());
}

RepositoryScan ScanModelFolder(const std::filesystem::path& dir, const std::string& name) {
  return ScanFolderAs(dir, name, AllBackendRules());
}

}  // namespace tandem
