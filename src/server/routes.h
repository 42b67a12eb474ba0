// Routes: the HTTP API. SageMaker's /ping and /invocations, and the v2 REST routes, over the
// Engine. Handle() is the HttpServer's handler: it runs on an I/O thread, decodes, hands the
// request to the engine and encodes the answer back on the connection's I/O thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model_control.h"
#include "engine/multi_model.h"
#include "server/http_server.h"
#include "server/metrics_page.h"
#include "server/v2_codec.h"

namespace tandem {

struct RouteOptions {
  // The model /invocations serves when the request names none (--default-model). Empty: the
  // only model of the repository.
  std::string default_model;
  // The HTTP server's counters, for /metrics; must outlive the routes; never null.
  const HttpCounters* http_counters = nullptr;
  // Where load and unload requests go (POST /v2/repository/models/{m}/load|unload); must
  // outlive the routes; never null.
  ModelControl* control = nullptr;
  // SageMaker multi-model endpoints: set, /models routes serve and /ping reports liveness.
  MultiModel* multi_model = nullptr;
  // The request bodies' budget, for /metrics; must outlive the routes; never null.
  const RequestMemory* request_memory = nullptr;
};

class Routes {
 public:
  // `engine` must outlive the server that calls Handle.
  Routes(Engine& engine, RouteOptions options);

  void Handle(std::shared_ptr<HttpExchange> exchange);

 private:
  // kImage: the response's image when its only output is one (else v2, or a 406 when the client
  // accepts images only: kImageOnly).
  enum class ResponseFormat { kV2, kNpy, kPng, kImage, kImageOnly };

  void Ping(HttpExchange& exchange);
  HttpResponse Ready(bool ready) const;
  // /invocations, for `model` (the request's target or the default when empty).
  void Invocations(std::shared_ptr<HttpExchange> exchange, std::string model = "");
  void MultiModelRoute(const std::shared_ptr<HttpExchange>& exchange,
                       const std::vector<std::string>& parts);
  void ModelRoute(std::shared_ptr<HttpExchange> exchange, const std::vector<std::string>& parts);
  void ModelControlRoute(const std::shared_ptr<HttpExchange>& exchange, const std::string& model,
                         bool load);
  // /v2/models[/{m}[/versions/{v}]]/stats; empty model: every model.
  void Stats(HttpExchange& exchange, const std::string& model, const std::string& version);
  void V2Infer(std::shared_ptr<HttpExchange> exchange, const std::string& model,
               const std::string& version);
  // Queues a decoded request; the response is encoded in `format` on the I/O thread (for
  // SageMaker's routes, `sagemaker`, binary data's JSON length in its content type too).
  void RunInfer(std::shared_ptr<HttpExchange> exchange, InferRequest request,
                OutputEncoding encoding, ResponseFormat format, bool sagemaker);

  Engine& engine_;
  const RouteOptions options_;
  MetricsPage metrics_;
};

// The error response for a non-OK status, through the one status-to-HTTP mapping.
HttpResponse StatusResponse(const Status& status);

}  // namespace tandem
