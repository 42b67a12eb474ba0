// Each backend described once: its name and file, the checks it adds to model.yaml validation,
// the v2 `platform` it reports, the device kind it accelerates on and its factory. Config
// validation, `tandem check`, the metadata routes and the engine read a backend's identity from
// here and nowhere else, so adding a backend is a folder under backend/ and one entry in
// Backends().
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "backend/backend.h"
#include "config/model_config.h"
#include "config/repository.h"
#include "core/device.h"
#include "core/status.h"
#include "device/device_set.h"

namespace tandem {

struct BackendDescription {
  BackendRules rules;    // name, the file a version folder holds, config checks
  std::string platform;  // v2 model metadata `platform` (Triton's name where it has one)
  // The devices `instances: {devices: auto | gpu}` means for this backend's models: CUDA
  // devices for real backends, sim devices for the simulated one.
  Device::Kind accelerator = Device::Kind::kCuda;
  // Makes the backend; `devices` outlives it.
  std::function<std::unique_ptr<Backend>(const DeviceSet& devices)> make;
  // The bytes one instance of the version in `version_dir` will hold on its device, known
  // before it loads, so that a load over --model-load-memory-limit is refused before it starts.
  // Unset: the size of the version's artifact file (weights dominate it).
  std::function<uint64_t(const ModelConfig& config, const std::filesystem::path& version_dir)>
      expected_bytes;
};

// Every backend, in the order docs and messages list them.
const std::vector<BackendDescription>& Backends();

// The backend named `name`, or nullptr.
const BackendDescription* FindBackend(std::string_view name);

// What one instance of `config`'s version in `version_dir` is expected to hold on its device
// (BackendDescription::expected_bytes); 0 if its file cannot be read (the load then fails).
uint64_t ExpectedInstanceBytes(const BackendDescription& backend, const ModelConfig& config,
                               const std::filesystem::path& version_dir);

// Every backend's config rules, for ParseModelConfig.
const std::vector<BackendRules>& AllBackendRules();

// ScanRepository and ScanFolderAs against every registered backend.
RepositoryScan ScanModelRepository(const std::filesystem::path& root);
RepositoryScan ScanModelFolder(const std::filesystem::path& dir, const std::string& name);

}  // namespace tandem
