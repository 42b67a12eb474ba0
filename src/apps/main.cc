// The tandem binary: `serve`, `check` and `version`. Only wiring lives here.
#include <sched.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include "apps/logging.h"
#include "backend/backend_registry.h"
#include "config/repository.h"
#include "device/host_memory.h"
#include "engine/engine.h"
#include "engine/model_control.h"
#include "engine/multi_model.h"
#include "pipeline/pipeline_validation.h"
#include "server/grpc/grpc_server.h"
#include "server/http_server.h"
#include "server/model_json.h"
#include "server/routes.h"

namespace {

using namespace tandem;

constexpr const char* kSageMakerRepository = "/opt/ml/model";

struct ServeFlags {
  std::string repository;
  std::string host = "0.0.0.0";
  int port = -1;  // -1: SAGEMAKER_BIND_TO_PORT or 8080
  int http_threads = 0;
  uint64_t max_body_bytes = 64ull << 20;
  uint32_t max_header_bytes = 64 << 10;
  int max_connections = 1024;
  int idle_timeout_s = 60;
  int header_timeout_s = 10;
  int body_timeout_s = 60;
  // SageMaker sends SIGKILL 30 s after SIGTERM: the default drain ends before that.
  int drain_timeout_s = 25;
  bool strict = false;
  std::string log_format = "text";
  std::string log_level = "info";
  std::string default_model;
  std::vector<std::string> devices;
  int sim_gpus = 0;
  double sim_copy_gbps = 25;
  std::string model_control_mode = "none";
  std::vector<std::string> load_models;  // explicit mode: loaded at start; "*" = all
  int repository_poll_secs = 15;
  bool multi_model = false;  // also SAGEMAKER_MULTI_MODEL=true, as SageMaker sets it
  std::string multi_model_root = "/opt/ml/models";
  std::vector<std::string> memory_limits;  // DEVICE=BYTES or DEVICE=FRACTION
  uint64_t max_inflight_bytes = 0;         // 0: a quarter of the host's memory
  int grpc_port = 8001;
  int grpc_threads = 0;
  std::optional<bool> allow_grpc;  // unset: on, except in SageMaker mode
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The cores this process may run on (its CPU affinity, as taskset or a container's cpuset set
// it), at least 1.
int CoresAllowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// Loads every version of every model whose backend reads a file, on the CPU, and warms it up as
// the server will (or with one batch of one where the config asks for no warm-up), so that a
// model file that cannot load, or whose outputs differ from its model.yaml, is found here and
// not at serving time. Adds what fails to `scan`.
void CheckModelFilesLoad(RepositoryScan& scan) {
  auto cpu_only = DeviceSet::Create(/*cuda_count=*/0, {});
  if (!cpu_only.ok()) return;
  for (const ModelSource& m : scan.models) {
    const BackendDescription* description = FindBackend(m.config.backend);
    if (description == nullptr || description->rules.artifact.empty()) continue;
    std::unique_ptr<Backend> backend = description->make(*cpu_only);
    for (int64_t v : m.versions) {
      const std::filesystem::path dir = m.dir / std::to_string(v);
      auto instance = backend->CreateInstance(m.config, dir, Device::Cpu());
      if (!instance.ok()) {
        scan.problems.Add(dir.string(), "", instance.status().message());
        continue;
      }
      const std::vector<int64_t> batches = m.config.warmup_batch_sizes.empty()
                                               ? std::vector<int64_t>{1}
                                               : m.config.warmup_batch_sizes;
      if (Status warm = WarmUp(m.config, **instance, batches); !warm.ok()) {
        scan.problems.Add(dir.string(), "", warm.message());
      }
    }
  }
}

int Check(const std::string& repository) {
  RepositoryScan scan = ScanModelRepository(repository);
  ValidatePipelines(scan);
  CheckModelFilesLoad(scan);
  for (const ConfigProblem& p : scan.problems.all()) std::cout << p.ToString() << "\n";
  if (!scan.problems.empty()) {
    std::cout << scan.problems.size() << " problem(s) found in " << repository << "\n";
    return 1;
  }
  for (const ModelSource& m : scan.models) {
    std::cout << m.config.name << ": " << m.config.backend << ", versions";
    for (int64_t v : m.versions) std::cout << " " << v;
    std::cout << "\n";
  }
  for (const PipelineSource& p : scan.pipelines) {
    std::cout << p.config.name << ": pipeline of " << p.config.steps.size() << " steps\n";
  }
  std::cout << repository << " is valid: " << scan.models.size() << " model(s), "
            << scan.pipelines.size() << " pipeline(s)\n";
  return 0;
}

int Serve(ServeFlags flags) {
  if (Status logging = SetUpLogging(flags.log_format, flags.log_level); !logging.ok()) {
    spdlog::error("{}", logging.message());
    return 2;
  }
  // Before any thread starts: the allocator's arenas are fixed then.
  spdlog::info("{}", KeepHostMemoryForReuse());
  // With no repository flag, behave as a SageMaker container: /opt/ml/model on
  // SAGEMAKER_BIND_TO_PORT or 8080, and nothing else (SageMaker routes only that port).
  const bool sagemaker_mode = flags.repository.empty();
  if (flags.repository.empty()) flags.repository = kSageMakerRepository;
  if (flags.port < 0) {
    const std::string env_port = Env("SAGEMAKER_BIND_TO_PORT");
    flags.port = env_port.empty() ? 8080 : std::atoi(env_port.c_str());
  }
  if (flags.port < 0 || flags.port > 65535) {
    spdlog::error("port {} is out of range", flags.port);
    return 2;
  }
  if (flags.default_model.empty()) flags.default_model = Env("SAGEMAKER_TANDEM_DEFAULT_MODEL");
  const int threads_by_default = std::clamp(CoresAllowed(), 1, 16);  // HTTP's and gRPC's
  if (flags.http_threads <= 0) flags.http_threads = threads_by_default;
  if (flags.grpc_threads <= 0) flags.grpc_threads = threads_by_default;

  EngineOptions engine_options;
  engine_options.repository = flags.repository;
  for (const std::string& d : flags.devices) {
    auto device = Device::Parse(d);
    if (!device.ok()) {
      spdlog::error("--devices: {}", device.status().message());
      return 2;
    }
    engine_options.devices.allow.push_back(*device);
  }
  engine_options.devices.sim_gpus = flags.sim_gpus;
  engine_options.devices.sim_copy_gbps = flags.sim_copy_gbps;
  auto mode = ParseModelControlMode(flags.model_control_mode);
  if (!mode.ok()) {
    spdlog::error("{}", mode.status().message());
    return 2;
  }
  if (!flags.load_models.empty() && *mode != ModelControlMode::kExplicit) {
    spdlog::error("--load-model needs --model-control-mode explicit (mode {} loads everything)",
                  flags.model_control_mode);
    return 2;
  }
  if (Env("SAGEMAKER_MULTI_MODEL") == "true") flags.multi_model = true;
  if (flags.multi_model) {
    // SageMaker loads and unloads the models: the server starts with none, in explicit mode.
    if (*mode == ModelControlMode::kPoll) {
      spdlog::error("a multi-model endpoint cannot poll its repository");
      return 2;
    }
    mode = ModelControlMode::kExplicit;
  }
  if (*mode == ModelControlMode::kExplicit) engine_options.models = flags.load_models;
  for (const std::string& item : flags.memory_limits) {
    auto limit = ParseMemoryLimit(item);
    if (!limit.ok()) {
      spdlog::error("{}", limit.status().message());
      return 2;
    }
    engine_options.memory_limits.push_back(*limit);
  }
  auto engine = Engine::Create(engine_options);
  if (!engine.ok()) {
    spdlog::error("cannot serve {}: {}", flags.repository, engine.status().message());
    return 1;
  }
  if (flags.strict && !(*engine)->rejected().empty()) {
    spdlog::error("--strict: {} has {} model(s) or pipeline(s) with problems (listed above)",
                  flags.repository, (*engine)->rejected().size());
    return 1;
  }
  // In explicit mode the default model may be loaded later, on request.
  if (!flags.default_model.empty() && *mode != ModelControlMode::kExplicit &&
      (*engine)->Versions(flags.default_model).status().code() == StatusCode::kNotFound) {
    spdlog::error("--default-model '{}' is not in {}", flags.default_model, flags.repository);
    return 2;
  }

  // Block the stop signals before any thread starts, so that only the waits below see them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  HttpCounters counters;
  if (flags.max_inflight_bytes == 0) flags.max_inflight_bytes = HostMemoryBytes() / 4;
  RequestMemory request_memory(flags.max_inflight_bytes);
  ModelControl control(**engine, *mode, std::chrono::seconds(flags.repository_poll_secs));
  MultiModel multi_model(**engine, control, flags.multi_model_root);
  Routes routes(**engine,
                RouteOptions{flags.default_model, &counters, &control,
                             flags.multi_model ? &multi_model : nullptr, &request_memory});
  if (flags.multi_model) {
    spdlog::info("multi-model endpoint: artifacts load from under {}", flags.multi_model_root);
  }
  HttpServerOptions server_options;
  server_options.host = flags.host;
  server_options.port = static_cast<uint16_t>(flags.port);
  server_options.threads = flags.http_threads;
  server_options.max_body_bytes = flags.max_body_bytes;
  server_options.max_header_bytes = flags.max_header_bytes;
  server_options.max_connections = flags.max_connections;
  server_options.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  server_options.header_timeout = std::chrono::seconds(flags.header_timeout_s);
  server_options.body_timeout = std::chrono::seconds(flags.body_timeout_s);
  server_options.counters = &counters;
  server_options.request_memory = &request_memory;
  // Listen before loading, so that connections are accepted at once and /ping tells the truth
  // (503) while models load.
  auto server = HttpServer::Start(
      server_options, [&routes](std::shared_ptr<HttpExchange> e) { routes.Handle(std::move(e)); });
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return 1;
  }
  spdlog::info("listening on {}:{}", flags.host, (*server)->port());
  std::unique_ptr<GrpcServer> grpc;
  if (flags.allow_grpc.value_or(!sagemaker_mode && !flags.multi_model)) {
    auto started = GrpcServer::Start(
        {flags.host, flags.grpc_port, flags.max_body_bytes, flags.grpc_threads, &request_memory},
        **engine, control);
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return 1;
    }
    grpc = std::move(*started);
    spdlog::info("gRPC: inference.GRPCInferenceService on {}:{}", flags.host, grpc->port());
  }

  // The main thread is the control thread: it loads the models, then waits for a stop signal.
  std::atomic<bool> loaded{false};
  std::atomic<bool> refused{false};  // --strict and something did not load
  std::thread loader([&] {
    // Load failures are logged per model as they happen; readiness reports them. Then the
    // control thread takes load and unload requests (explicit mode) or polls (poll mode).
    const bool all_ready = control.Start().ok() && (*engine)->Ready();
    if (all_ready) {
      spdlog::info("all models ready");
    } else if (flags.strict) {
      spdlog::error("--strict: not every model loaded; shutting down");
      refused = true;
      kill(getpid(), SIGTERM);
    } else {
      spdlog::warn("serving, but some models are unavailable (see /v2/repository/index)");
    }
    loaded = true;
  });
  int signal = 0;
  sigwait(&stop_signals, &signal);

  // Drain (docs/design/architecture.md §4): readiness turns 503, no new connections, idle
  // connections close; requests already read are answered, then their connections close. A second
  // signal exits at once.
  if (!refused) {
    spdlog::info("received signal {}: draining for up to {} s (a second signal exits at once)",
                 signal, flags.drain_timeout_s);
  }
  (*engine)->BeginDrain();
  (*server)->StopAccepting();
  // gRPC refuses new calls and finishes those in progress, within the same drain time.
  std::thread grpc_drain;
  if (grpc) {
    grpc_drain = std::thread([&] {
      grpc->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(flags.drain_timeout_s));
    });
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(flags.drain_timeout_s);
  bool drained = false;
  while (true) {
    drained = (*server)->WaitUntilDrained(std::chrono::milliseconds(100)) && loaded;
    if (drained || std::chrono::steady_clock::now() >= deadline) break;
    const timespec no_wait{0, 0};
    const int second = sigtimedwait(&stop_signals, nullptr, &no_wait);
    if (second > 0) {
      spdlog::warn("received signal {} while draining: exiting now", second);
      std::_Exit(128 + second);
    }
  }
  if (!drained) {
    spdlog::error("the drain timed out after {} s with {} request(s) unanswered; exiting",
                  flags.drain_timeout_s, counters.requests_in_flight.load());
    std::_Exit(1);
  }
  if (grpc_drain.joinable()) grpc_drain.join();
  loader.join();
  control.Stop();
  (*engine)->Shutdown();
  (*server)->Stop();
  spdlog::info("drained; exiting");
  return refused ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr, as a server's should; stdout stays for command output (check, version).
  spdlog::set_default_logger(spdlog::stderr_color_mt("tandem"));
  CLI::App app{"Tandem: serves PyTorch models and pipelines on every device of a host"};
  app.require_subcommand(0, 1);

  ServeFlags flags;
  CLI::App* serve = app.add_subcommand("serve", "serve a model repository over HTTP");
  serve->add_option("--model-repository", flags.repository,
                    "model repository folder (default: /opt/ml/model, SageMaker mode)");
  serve->add_option("--host", flags.host, "address to listen on")->capture_default_str();
  serve->add_option(
      "--port", flags.port,
      "port to listen on; 0 picks a free one (default: SAGEMAKER_BIND_TO_PORT or 8080)");
  serve->add_option("--http-threads", flags.http_threads,
                    "I/O threads (default: one per core this process may run on, 1 to 16)");
  serve
      ->add_option("--max-body-bytes", flags.max_body_bytes,
                   "largest request body accepted; larger ones get 413")
      ->capture_default_str();
  serve->add_option("--max-inflight-bytes", flags.max_inflight_bytes,
                    "the most bytes of request bodies (and the inputs decoded from them) held at "
                    "once, over HTTP and gRPC; a request that would pass it gets 503 (default: a "
                    "quarter of the host's memory)");
  serve
      ->add_option("--max-header-bytes", flags.max_header_bytes,
                   "largest request line and headers accepted; larger get 431")
      ->capture_default_str();
  serve
      ->add_option("--max-connections", flags.max_connections,
                   "open connections allowed; more are answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout", flags.idle_timeout_s,
                   "seconds a keep-alive connection may wait for its next request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--header-timeout", flags.header_timeout_s,
                   "seconds a request's headers may take to arrive once it starts (then 408)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--body-timeout", flags.body_timeout_s,
                   "seconds a request's body may take to arrive after its headers (then 408)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--drain-timeout", flags.drain_timeout_s,
                   "seconds to finish requests in flight after SIGTERM or SIGINT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--log-format", flags.log_format, "text, or json for one object a line")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serve
      ->add_option("--log-level", flags.log_level,
                   "trace, debug (logs every request with its id), info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->add_flag("--strict", flags.strict,
                  "refuse to start when any model or pipeline has a problem or fails to load");
  serve->add_option("--default-model", flags.default_model,
                    "model /invocations serves when the request names none "
                    "(default: SAGEMAKER_TANDEM_DEFAULT_MODEL, or the only model)");
  serve->add_option("--devices", flags.devices, "devices to use, e.g. cpu,cuda:0 (default: all)")
      ->delimiter(',');
  serve
      ->add_option("--model-control-mode", flags.model_control_mode,
                   "none: load everything at start, refuse load/unload; explicit: load the "
                   "--load-model names, then load and unload on request; poll: load "
                   "everything, then follow the repository's changes")
      ->check(CLI::IsMember({"none", "explicit", "poll"}))
      ->capture_default_str();
  serve->add_option("--load-model", flags.load_models,
                    "explicit mode: a model or pipeline to load at start (repeatable; * = all)");
  serve
      ->add_option("--repository-poll-secs", flags.repository_poll_secs,
                   "poll mode: seconds between rescans of the repository")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_flag("--multi-model", flags.multi_model,
                  "a SageMaker multi-model endpoint: start with no models; SageMaker loads and "
                  "unloads them (POST /models, DELETE /models/{name}); also "
                  "SAGEMAKER_MULTI_MODEL=true");
  serve
      ->add_option("--multi-model-root", flags.multi_model_root,
                   "multi-model endpoints: the folder artifacts must lie under")
      ->capture_default_str();
  serve
      ->add_option("--model-load-memory-limit", flags.memory_limits,
                   "the most bytes of model weights a device may hold, e.g. "
                   "cpu=8000000000,cuda:0=0.9 (a number with a point: a fraction of the "
                   "device's memory); a load past it is refused (default: no limit)")
      ->delimiter(',');
  serve
      ->add_option("--grpc-port", flags.grpc_port,
                   "port of the v2 gRPC service; 0 picks a free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve->add_option("--grpc-threads", flags.grpc_threads,
                    "gRPC completion queues, a thread each (default: one per core this process "
                    "may run on, 1 to 16)");
  serve->add_option("--allow-grpc", flags.allow_grpc,
                    "serve the v2 gRPC service, true or false (default: true, except in SageMaker "
                    "mode, where only the HTTP port is routed)");
  serve
      ->add_option("--sim-gpus", flags.sim_gpus,
                   "add N simulated GPUs sim:0..N-1 for `backend: sim` models")
      ->check(CLI::NonNegativeNumber);
  serve
      ->add_option("--sim-copy-gbps", flags.sim_copy_gbps,
                   "copy bandwidth between simulated GPUs, in GB/s")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  std::string check_repository;
  CLI::App* check = app.add_subcommand("check", "validate a model repository and list problems");
  check->add_option("repository", check_repository, "model repository folder")->required();

  CLI::App* version = app.add_subcommand("version", "print the version");

  CLI11_PARSE(app, argc, argv);
  if (*check) return Check(check_repository);
  if (*version) {
    std::cout << "tandem " << kServerVersion << "\n";
    return 0;
  }
  // `serve`, or no subcommand at all (a SageMaker container runs `serve`).
  return Serve(flags);
}
