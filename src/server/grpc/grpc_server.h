// GrpcServer: the KServe v2 / Triton gRPC service (inference.GRPCInferenceService) over the
// engine, beside the HTTP server: health, metadata, config, statistics, the repository index and
// model control, ModelInfer and ModelStreamInfer. The service definition is generated at build
// time from the descriptors the tritonclient wheel ships (scripts/grpc_descriptors.py).
//
// Threading (docs/design/architecture.md §4): gRPC's asynchronous API, on `threads` completion
// queues with one thread each. A queue's thread runs each call's handler, which decodes, admits
// the request to the engine and returns without waiting; the worker that completes the request
// posts it back to that queue (an alarm due now), whose thread encodes the answer and finishes
// the call, as HTTP answers on the connection's strand. A load or unload comes back the same way
// from the model control thread. No thread waits for a request, and no worker encodes. One
// thread a queue: several threads on one queue would hand gRPC's polling to each other at every
// event, which costs a context switch or two a request where cores are few.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/engine.h"
#include "engine/model_control.h"
#include "server/request_memory.h"

namespace tandem {

struct GrpcServerOptions {
  std::string host = "0.0.0.0";
  int port = 8001;  // --grpc-port; 0: any free port
  // The largest request message (--max-body-bytes, as for HTTP bodies).
  uint64_t max_message_bytes = 64ull << 20;
  int threads = 1;  // completion queues, a thread each (--grpc-threads)
  // The budget request messages are held against (--max-inflight-bytes), with HTTP's bodies;
  // must outlive the server; never null.
  RequestMemory* request_memory = nullptr;
};

class GrpcServer {
 public:
  // `engine` and `control` must outlive the server.
  static StatusOr<std::unique_ptr<GrpcServer>> Start(const GrpcServerOptions& options,
                                                     Engine& engine, ModelControl& control);
  ~GrpcServer();

  int port() const { return port_; }

  // Refuses new calls and waits until `deadline` for those in progress, then cancels the rest.
  // Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  const int port_;
};

}  // namespace tandem
