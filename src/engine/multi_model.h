// MultiModel: SageMaker multi-model endpoints. SageMaker loads and unloads artifacts by a name
// of its own (POST /models, DELETE /models/{name}); each is unpacked under the root
// (/opt/ml/models by default) and is one model or pipeline folder, or a repository of them.
// The engine serves a one-folder artifact under a name made from SageMaker's (`base`), and a
// repository's entries as `base`.<name>, so two artifacts never collide. Loads and unloads run
// on the model control thread.
//
// Nothing loads from outside the root: an artifact's url must lie under it once `..` and
// symbolic links are resolved, since loading a model runs its code.
//
// Thread contract: every method is thread-safe; `done` callbacks run on the control thread.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model_control.h"

namespace tandem {

class MultiModel {
 public:
  struct Artifact {
    std::string name;                 // SageMaker's model_name
    std::string url;                  // as SageMaker gave it
    std::string base;                 // the engine's name for it
    std::vector<std::string> served;  // the engine names it loaded, models first
  };

  // `engine` and `control` must outlive this.
  MultiModel(Engine& engine, ModelControl& control, std::filesystem::path root);

  // Loads the artifact at `url` as `name`: OK; ALREADY_EXISTS if `name` is loaded;
  // INVALID_ARGUMENT for a url outside the root or a bad artifact; what loading said else.
  void Add(std::string name, std::string url, ModelControl::Done done);
  // Unloads `name`, answering once the requests it admitted are answered; NOT_FOUND if it is
  // not loaded.
  void Remove(std::string name, ModelControl::Done done);

  std::vector<Artifact> List() const;  // sorted by name
  std::optional<Artifact> Find(const std::string& name) const;

  // What /models/{name}/invoke runs for `artifact`: the engine name of its only pipeline, else
  // of its only model; with `inner` (a name inside a repository artifact), that one. NOT_FOUND
  // or INVALID_ARGUMENT saying why otherwise.
  StatusOr<std::string> InvokeTarget(const Artifact& artifact, const std::string& inner) const;

 private:
  StatusOr<std::filesystem::path> Resolve(const std::string& url) const;
  static std::string BaseName(const std::string& name);

  Engine& engine_;
  ModelControl& control_;
  const std::filesystem::path root_;
  mutable std::mutex mu_;
  std::map<std::string, Artifact> artifacts_;  // guarded by mu_
};

}  // namespace tandem
