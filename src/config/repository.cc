#include "config/repository.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace tandem {
namespace {

namespace fs = std::filesystem;

std::optional<int64_t> VersionNumber(const std::string& name) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc() || end != name.data() + name.size() || v < 1) return std::nullopt;
  return v;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Finds the version folders of one model and checks each holds the backend's file.
std::vector<int64_t> ScanVersions(const fs::path& dir, const ModelConfig& config,
                                  const BackendRules& rules, ConfigProblems& problems) {
  const std::string& artifact = rules.artifact;
  std::vector<int64_t> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_directory()) continue;
    auto v = VersionNumber(entry.path().filename().string());
    if (!v) continue;
    if (!artifact.empty() && !fs::is_regular_file(entry.path() / artifact)) {
      problems.Add((entry.path() / artifact).string(), "",
                   "missing: each version folder of a model with backend: " + config.backend +
                       " holds " + artifact);
      continue;
    }
    versions.push_back(*v);
  }
  std::sort(versions.begin(), versions.end());
  if (versions.empty()) {
    if (artifact.empty()) {
      versions.push_back(1);
    } else {
      problems.Add(dir.string(), "",
                   "no version folder: expected " + dir.filename().string() + "/1/" + artifact);
    }
  }
  return versions;
}

// Reads one model or pipeline folder into `scan`: the source on success, problems otherwise.
void ScanFolder(const fs::path& dir, const std::string& name,
                const std::vector<BackendRules>& backends, RepositoryScan& scan) {
  const fs::path model_file = dir / "model.yaml";
  const fs::path pipeline_file = dir / "pipeline.yaml";
  if (fs::exists(pipeline_file) && fs::exists(model_file)) {
    scan.problems.Add(dir.string(), "", "holds both model.yaml and pipeline.yaml; keep one");
    return;
  }
  if (!IsValidModelName(name)) {
    scan.problems.Add(dir.string(), "",
                      "'" + name +
                          "' is not a valid model name: use 1 to 128 letters, digits, "
                          "'_', '-' and '.', not starting with '.'");
    return;
  }
  const size_t before = scan.problems.size();
  if (fs::exists(pipeline_file)) {
    PipelineSource source{
        ParsePipelineConfig(ReadFile(pipeline_file), name, pipeline_file.string(), scan.problems),
        pipeline_file,
        {}};
    if (scan.problems.size() == before) scan.pipelines.push_back(std::move(source));
    return;
  }
  if (!fs::exists(model_file)) {
    scan.problems.Add(dir.string(), "", "holds neither model.yaml nor pipeline.yaml");
    return;
  }
  ModelSource source;
  source.config =
      ParseModelConfig(ReadFile(model_file), name, model_file.string(), scan.problems, backends);
  source.dir = dir;
  if (scan.problems.size() != before) return;
  source.versions =
      ScanVersions(dir, source.config, *FindRules(backends, source.config.backend), scan.problems);
  if (scan.problems.size() != before) return;
  scan.models.push_back(std::move(source));
}

}  // namespace

RepositoryScan ScanFolderAs(const fs::path& dir, const std::string& name,
                            const std::vector<BackendRules>& backends) {
  RepositoryScan scan;
  ScanFolder(dir, name, backends, scan);
  if (!scan.problems.empty()) scan.rejected[name] = scan.problems.JoinedSince(0);
  return scan;
}

std::vector<fs::path> RepositoryFolders(const fs::path& root) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::error_code kind;
    if (entry.is_directory(kind) && entry.path().filename().string().front() != '.') {
      dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

RepositoryScan ScanRepository(const fs::path& root, const std::vector<BackendRules>& backends) {
  RepositoryScan scan;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    scan.problems.Add(root.string(), "", "not a directory");
    return scan;
  }
  const std::vector<fs::path> dirs = RepositoryFolders(root);
  for (const fs::path& dir : dirs) {
    const size_t before = scan.problems.size();
    ScanFolder(dir, dir.filename().string(), backends, scan);
    if (scan.problems.size() != before) {
      scan.rejected[dir.filename().string()] = scan.problems.JoinedSince(before);
    }
  }
  if (dirs.empty()) scan.problems.Add(root.string(), "", "holds no model folders");
  return scan;
}

}  // namespace tandem
