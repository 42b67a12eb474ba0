// ModelControl: the model control modes (Triton's names) over the engine, and the control thread
// that loads and unloads while the server serves. Loads and unloads run on that thread, one at
// a time, in the order asked; callers get the outcome through a callback (the HTTP routes answer
// from it), so no I/O thread ever waits for a model to load.
//
//   none      everything in the repository loads at start; load and unload are refused.
//   explicit  the models named at start load (`*`: all, none named: none); load and unload on
//             request, of models and pipelines in the repository, by name.
//   poll      everything loads at start; then the repository is rescanned every poll interval:
//             new models load, changed ones reload, removed ones unload. Requests to load or
//             unload are refused (the repository is the truth).
//
// Loading is code execution (an AOTInductor package is a shared library), so nothing loads from
// anywhere but the repository, and only by name.
//
// Thread contract: Load, Unload and mode are thread-safe; Start and Stop run on the threads
// that start and stop the server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"
#include "engine/engine.h"

namespace tandem {

enum class ModelControlMode { kNone, kExplicit, kPoll };

// "none", "explicit", "poll".
StatusOr<ModelControlMode> ParseModelControlMode(std::string_view text);
std::string_view ModelControlModeName(ModelControlMode mode);

class ModelControl {
 public:
  using Done = std::function<void(Status)>;

  // `engine` must outlive this. `poll_interval` is used in poll mode only.
  ModelControl(Engine& engine, ModelControlMode mode, std::chrono::milliseconds poll_interval);
  ~ModelControl() { Stop(); }

  ModelControl(const ModelControl&) = delete;
  ModelControl& operator=(const ModelControl&) = delete;

  // Loads what the mode loads at start, on the calling thread, then starts the control thread
  // (and, in poll mode, its rescans). OK if everything loaded. Call once, before Stop.
  Status Start();

  // Finishes the load or unload under way, refuses those still waiting (UNAVAILABLE) and
  // stops the thread. Idempotent.
  void Stop();

  // Queues a load (or reload) or an unload of `name`; `done` gets the outcome, on the control
  // thread. Refused at once, with INVALID_ARGUMENT saying why, unless the mode is explicit.
  void Load(std::string name, Done done);
  void Unload(std::string name, Done done);

  // Runs `work` on the control thread, in turn with loads and unloads, whatever the mode (the
  // multi-model routes load and unload artifacts this way); `done` gets what it returns.
  void Enqueue(std::function<Status()> work, Done done);

  ModelControlMode mode() const { return mode_; }

 private:
  struct Task {
    std::function<Status()> work;
    Done done;
  };

  // Refuses `done` unless the mode takes load and unload requests.
  bool Refused(const Done& done) const;
  void Loop();
  // Poll mode: loads what is new or changed in the repository and unloads what went away.
  void Poll();

  Engine& engine_;
  const ModelControlMode mode_;
  const std::chrono::milliseconds poll_interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  // Poll mode: what each model's folder looked like when it was last loaded (control thread).
  std::map<std::string, std::string> fingerprints_;
  std::thread thread_;  // started by Start
};

}  // namespace tandem
