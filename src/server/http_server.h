// HttpServer: HTTP/1.1 with keep-alive over Boost.Beast, on a fixed pool of I/O threads.
//
// Threading (DESIGN.md §2): each connection lives on one strand of the I/O pool. The handler is
// called on that strand; it must not block. It may answer later from any thread: HttpExchange
// posts the reply back to the connection's strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tandem {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;
  // Shared so that tensors can be zero-copy views of the body and outlive the exchange.
  std::shared_ptr<const std::string> body;

  // The first header with this name (case-insensitive): null / empty when absent.
  const std::string* FindHeader(std::string_view name) const;
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// {"error": "<message>"} with the given HTTP status.
HttpResponse ErrorResponse(int status, std::string_view message);

// One request awaiting its response.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;
  // Runs `fn` on the connection's I/O strand (to encode a response there, say).
  virtual void Post(std::function<void()> fn) = 0;
  // Sends the response. Call exactly once, from any thread.
  virtual void Reply(HttpResponse response) = 0;
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange>)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;  // 0: any free port; see HttpServer::port()
  int threads = 4;
  uint64_t max_body_bytes = 64ull << 20;
  int idle_timeout_s = 60;
};

class HttpServer {
 public:
  // Binds and listens (so connections are accepted as soon as this returns), then starts the
  // I/O threads. Fails if the address cannot be bound.
  static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                     HttpHandler handler);
  ~HttpServer();

  // The bound port (the real one when options.port was 0).
  uint16_t port() const;

  // Stops accepting connections; open connections finish their current exchange.
  void StopAccepting();
  // Waits until every request handed to the handler has been answered and its response
  // written, or `timeout` passes (then returns false). Runs on the control thread.
  bool WaitForInFlight(std::chrono::milliseconds timeout);
  // Stops the I/O threads and joins them.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
