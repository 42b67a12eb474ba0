// Model repository scanning: which models a folder holds, their configs and versions.
//
//   repo/<model>/model.yaml     a model; versions are numeric subfolders holding the backend's
//                               file (<model>/1/model.pt)
//   repo/<name>/pipeline.yaml   a pipeline
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "config/config_problems.h"
#include "config/model_config.h"
#include "config/pipeline_config.h"

namespace tandem {

struct ModelSource {
  ModelConfig config;
  std::filesystem::path dir;
  std::vector<int64_t> versions;  // ascending; a backend that needs no file serves version 1
};

struct PipelineSource {
  PipelineConfig config;
  std::filesystem::path file;  // its pipeline.yaml
  // For each op step (by step name), the op's inputs and outputs as validation worked them out,
  // in the form of an unbatched model's config, so op steps are scheduled like models.
  std::map<std::string, ModelConfig> op_configs;
};

struct RepositoryScan {
  std::vector<ModelSource> models;        // sorted by name
  std::vector<PipelineSource> pipelines;  // sorted by name; checked as graphs only
  ConfigProblems problems;                // every problem found, in every file
  // The model and pipeline folders left out for their problems: name -> those problems.
  std::map<std::string, std::string> rejected;
};

// Reads every model and pipeline folder under `root`, models against `backends` (every
// registered backend's rules: backend/backend_registry.h). Those with problems are reported,
// not returned.
// One model or pipeline folder, read as if it were named `name` (whatever the folder is called).
RepositoryScan ScanFolderAs(const std::filesystem::path& dir, const std::string& name,
                            const std::vector<BackendRules>& backends);

// The folders of `root` that may hold a model or a pipeline (every folder not starting with '.'),
// sorted; none if `root` cannot be read.
std::vector<std::filesystem::path> RepositoryFolders(const std::filesystem::path& root);

RepositoryScan ScanRepository(const std::filesystem::path& root,
                              const std::vector<BackendRules>& backends);

}  // namespace tandem
