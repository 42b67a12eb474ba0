#include "engine/multi_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "config/model_config.h"

namespace tandem {

namespace fs = std::filesystem;

MultiModel::MultiModel(Engine& engine, ModelControl& control, fs::path root)
    : engine_(engine), control_(control), root_(std::move(root)) {}

std::string MultiModel::BaseName(const std::string& name) {
  if (IsValidModelName(name)) return name;
  // SageMaker's names are opaque (an S3 key, say): one the repository rules refuse is served
  // under a name made from its FNV-1a hash.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : name) hash = (hash ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return std::string("model-") + hex;
}

StatusOr<fs::path> MultiModel::Resolve(const std::string& url) const {
  std::error_code ec;
  const fs::path root = fs::canonical(root_, ec);
  if (ec) return InvalidArgument("the multi-model root " + root_.string() + " cannot be read");
  const fs::path folder = fs::canonical(url, ec);
  if (ec) return InvalidArgument("url '" + url + "' cannot be read: " + ec.message());
  const auto [in_root, in_folder] =
      std::mismatch(root.begin(), root.end(), folder.begin(), folder.end());
  if (in_root != root.end() || folder == root) {
    return InvalidArgument("url '" + url + "' is not under the multi-model root " + root.string() +
                           " (once '..' and symbolic links are resolved): models load only "
                           "from there");
  }
  if (!fs::is_directory(folder, ec)) return InvalidArgument("url '" + url + "' is not a folder");
  return folder;
}

void MultiModel::Add(std::string name, std::string url, ModelControl::Done done) {
  control_.Enqueue(
      [this, name = std::move(name), url = std::move(url)]() -> Status {
        {
          std::lock_guard lock(mu_);
          if (artifacts_.count(name) > 0) {
            return AlreadyExists("model '" + name + "' is already loaded");
          }
        }
        ASSIGN_OR_RETURN(fs::path folder, Resolve(url));
        const std::string base = BaseName(name);
        auto served = engine_.LoadArtifact(base, folder);
        if (!served.ok()) return served.status().WithContext("model '" + name + "'");
        spdlog::info("multi-model: '{}' loaded from {} as {}", name, url, base);
        std::lock_guard lock(mu_);
        artifacts_[name] = {name, url, base, std::move(*served)};
        return Status::Ok();
      },
      std::move(done));
}

void MultiModel::Remove(std::string name, ModelControl::Done done) {
  control_.Enqueue(
      [this, name = std::move(name)]() -> Status {
        std::optional<Artifact> artifact = Find(name);
        if (!artifact) return NotFound("model '" + name + "' is not loaded");
        // Pipelines first: they hold the models they use.
        for (auto it = artifact->served.rbegin(); it != artifact->served.rend(); ++it) {
          if (Status unloaded = engine_.Unload(*it); !unloaded.ok()) {
            spdlog::warn("multi-model: unloading '{}': {}", *it, unloaded.message());
          }
        }
        std::lock_guard lock(mu_);
        artifacts_.erase(name);
        spdlog::info("multi-model: '{}' unloaded", name);
        return Status::Ok();
      },
      std::move(done));
}

std::vector<MultiModel::Artifact> MultiModel::List() const {
  std::lock_guard lock(mu_);
  std::vector<Artifact> out;
  for (const auto& [name, artifact] : artifacts_) out.push_back(artifact);
  return out;
}

std::optional<MultiModel::Artifact> MultiModel::Find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = artifacts_.find(name);
  if (it == artifacts_.end()) return std::nullopt;
  return it->second;
}

StatusOr<std::string> MultiModel::InvokeTarget(const Artifact& artifact,
                                               const std::string& inner) const {
  if (!inner.empty()) {
    const std::string wanted = artifact.base + "." + inner;
    if (std::find(artifact.served.begin(), artifact.served.end(), wanted) ==
        artifact.served.end()) {
      return NotFound("model '" + artifact.name + "' holds no model or pipeline '" + inner + "'");
    }
    return wanted;
  }
  if (artifact.served.size() == 1) return artifact.served.front();
  std::vector<std::string> pipelines;
  for (const std::string& name : artifact.served) {
    auto config = engine_.Config(name, "");
    if (config.ok() && (*config)->backend == "pipeline") pipelines.push_back(name);
  }
  if (pipelines.size() == 1) return pipelines.front();
  return InvalidArgument("model '" + artifact.name + "' holds " +
                         std::to_string(artifact.served.size()) +
                         " models and pipelines; name one with the "
                         "X-Amzn-SageMaker-Target-Model header");
}

}  // namespace tandem
