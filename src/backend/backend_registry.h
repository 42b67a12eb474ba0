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
};

// Every backend, in the order docs and messages list them.
const std::vector<BackendDescription>& Backends();

// The backend named `name`, or nullptr.
const BackendDescription* FindBackend(std::string_view name);

// Every backend's config rules, for ParseModelConfig.
const std::vector<BackendRules>& AllBackendRules();

// ScanRepository and ScanFolderAs against every registered backend.
RepositoryScan ScanModelRepository(const std::filesystem::path& root);
RepositoryScan ScanModelFolder(const std::filesystem::path& dir, const std::string& name);

}  // namespace tandem
