// GrpcServer: the KServe v2 / Triton gRPC service (inference.GRPCInferenceService) over the
// engine, beside the HTTP server: health, metadata, config, statistics, the repository index and
// model control, ModelInfer and ModelStreamInfer. The service definition is generated at build
// time from the descriptors the tritonclient wheel ships (scripts/grpc_descriptors.py).
//
// Threading (docs/design/architecture.md §4): gRPC's callback API. Its own threads run each
// handler, which decodes, admits the request to the engine and returns without waiting. The
// worker that completes a request posts it to the server's answer threads, which encode it and
// finish the call; a load or unload is answered from the model control thread. No thread waits
// for a request, and no worker encodes.
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
  int answer_threads = 2;  // encode completed requests' answers (--http-threads)
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
