#include "engine/model_control.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "config/repository.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;

// The model and pipeline folders of `root`, models first (a changed pipeline may need a model
// that changed with it): name -> folder.
std::vector<std::pair<std::string, fs::path>> Folders(const fs::path& root) {
  std::vector<std::pair<std::string, fs::path>> models, pipelines;
  for (const fs::path& folder : RepositoryFolders(root)) {
    std::error_code ec;
    auto& list = fs::exists(folder / "model.yaml", ec) ? models : pipelines;
    list.emplace_back(folder.filename().string(), folder);
  }
  models.insert(models.end(), pipelines.begin(), pipelines.end());
  return models;
}

// What a folder holds: every folder's path and every file's path, size and modification time,
// sorted. Equal fingerprints mean nothing to reload.
std::string Fingerprint(const fs::path& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           folder, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code stat;
    if (it->is_directory(stat)) {  // a version folder, even an empty one
      files.push_back(fs::relative(it->path(), folder, stat).string() + "/");
      continue;
    }
    if (!it->is_regular_file(stat)) continue;
    const auto size = it->file_size(stat);
    const auto mtime = it->last_write_time(stat).time_since_epoch().count();
    files.push_back(fs::relative(it->path(), folder, stat).string() + ":" + std::to_string(size) +
                    ":" + std::to_string(mtime));
  }
  std::sort(files.begin(), files.end());
  std::string out;
  for (const std::string& f : files) out += f + "\n";
  return out;
}

}  // namespace

StatusOr<ModelControlMode> ParseModelControlMode(std::string_view text) {
  if (text == "none") return ModelControlMode::kNone;
  if (text == "explicit") return ModelControlMode::kExplicit;
  if (text == "poll") return ModelControlMode::kPoll;
  return InvalidArgument("--model-control-mode must be none, explicit or poll, not '" +
                         std::string(text) + "'");
}

std::string_view ModelControlModeName(ModelControlMode mode) {
  switch (mode) {
    case ModelControlMode::kNone:
      return "none";
    case ModelControlMode::kExplicit:
      return "explicit";
    case ModelControlMode::kPoll:
      return "poll";
  }
  return "none";
}

ModelControl::ModelControl(Engine& engine, ModelControlMode mode,
                           std::chrono::milliseconds poll_interval)
    : engine_(engine), mode_(mode), poll_interval_(poll_interval) {}

void ModelControl::Stop() {
  std::deque<Task> refused;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    refused.swap(tasks_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Task& task : refused) task.done(Unavailable("the server is shutting down"));
}

Status ModelControl::Start() {
  Status loaded = engine_.LoadAll();
  if (mode_ == ModelControlMode::kPoll) {
    for (const auto& [name, folder] : Folders(engine_.repository())) {
      fingerprints_[name] = Fingerprint(folder);
    }
  }
  thread_ = std::thread([this] { Loop(); });
  return loaded;
}

void ModelControl::Load(std::string name, Done done) {
  if (Refused(done)) return;
  Enqueue([this, name = std::move(name)] { return engine_.Load(name); }, std::move(done));
}

void ModelControl::Unload(std::string name, Done done) {
  if (Refused(done)) return;
  Enqueue([this, name = std::move(name)] { return engine_.Unload(name); }, std::move(done));
}

bool ModelControl::Refused(const Done& done) const {
  if (mode_ == ModelControlMode::kExplicit) return false;
  done(InvalidArgument(
      std::string("models are not loaded or unloaded on request in model control mode ") +
      std::string(ModelControlModeName(mode_)) +
      (mode_ == ModelControlMode::kPoll
           ? " (the repository is rescanned instead)"
           : "; start the server with --model-control-mode explicit")));
  return true;
}

void ModelControl::Enqueue(std::function<Status()> work, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      tasks_.push_back({std::move(work), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(Unavailable("the server is shutting down"));
}

void ModelControl::Loop() {
  auto next_poll = std::chrono::steady_clock::now() + poll_interval_;
  while (true) {
    Task task;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return stopping_ || !tasks_.empty(); };
      if (mode_ == ModelControlMode::kPoll) {
        if (!wake_.wait_until(lock, next_poll, ready)) {
          lock.unlock();
          Poll();
          next_poll = std::chrono::steady_clock::now() + poll_interval_;
          continue;
        }
      } else {
        wake_.wait(lock, ready);
      }
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task.done(task.work());
  }
}

void ModelControl::Poll() {
  std::map<std::string, std::string> seen;
  for (const auto& [name, folder] : Folders(engine_.repository())) {
    std::string fingerprint = Fingerprint(folder);
    auto known = fingerprints_.find(name);
    if (known == fingerprints_.end() || known->second != fingerprint) {
      // A failed load is logged and not retried until the folder changes again.
      if (Status loaded = engine_.Load(name); !loaded.ok()) {
        spdlog::error("repository poll: {}", loaded.message());
      }
    }
    seen[name] = std::move(fingerprint);
  }
  for (const auto& [name, fingerprint] : fingerprints_) {
    if (seen.count(name) == 0) {
      if (Status unloaded = engine_.Unload(name); !unloaded.ok()) {
        spdlog::error("repository poll: {}", unloaded.message());
      }
    }
  }
  fingerprints_ = std::move(seen);
}

}  // namespace tandem
