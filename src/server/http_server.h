// HttpServer: HTTP/1.1 with keep-alive over Boost.Beast, on a fixed pool of I/O threads.
//
// Threading (docs/design/architecture.md §4): each connection lives on one strand of the I/O pool.
// The handler is called on that strand; it must not block. It may answer later from any thread:
// HttpExchange posts the reply back to the connection's strand.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "server/request_memory.h"

namespace tandem {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  // The request id: the client's X-Request-Id when it is usable (1 to 128 printable ASCII
  // characters), else one the server made. Echoed in the response's X-Request-Id and named in
  // every log line about the request.
  std::string id;
  std::vector<std::pair<std::string, std::string>> headers;
  // Shared so that tensors can be zero-copy views of the body and outlive the exchange.
  std::shared_ptr<const std::string> body;
  // The body's bytes against --max-inflight-bytes: owned by the body's buffer, so valid while
  // `body` is; null when the server keeps no budget (tests that build requests by hand).
  RequestMemory::Hold* memory = nullptr;

  // The first header with this name (case-insensitive): null / empty when absent.
  const std::string* FindHeader(std::string_view name) const;
  std::string_view Header(std::string_view name) const;
};

// A request id that may travel in a header and a log line: 1 to 128 printable ASCII
// characters, no spaces.
bool IsUsableRequestId(std::string_view id);

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

// What the server counts about its connections and responses, for /metrics.
// Thread contract: atomics, written on I/O threads, read anywhere.
struct HttpCounters {
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // over max_connections: answered 503, closed
  std::atomic<uint64_t> timeouts{0};             // header or body not received in time: 408
  std::atomic<int64_t> requests_in_flight{0};    // handed to the handler, not yet written back
  std::array<std::atomic<uint64_t>, 600> responses{};  // by status code

  std::vector<std::pair<int, uint64_t>> ResponsesByCode() const;  // codes with a count
};

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;  // 0: any free port; see HttpServer::port()
  int threads = 4;
  uint64_t max_body_bytes = 64ull << 20;
  uint32_t max_header_bytes = 64 << 10;  // request line and headers; more gets 431
  int max_connections = 1024;            // more are answered 503 and closed at once
  // A keep-alive connection may wait this long for its next request before it is closed.
  std::chrono::seconds idle_timeout{60};
  // Once a request's first byte arrives, its headers must arrive within header_timeout and
  // its body within body_timeout after them, or the client gets 408 and the connection closes:
  // a slow client holds no more than its connection.
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  HttpCounters* counters = nullptr;  // where to count; must outlive the server; never null
  // The budget request bodies are held against (--max-inflight-bytes); must outlive the
  // server; never null.
  RequestMemory* request_memory = nullptr;
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

  // Starts the drain: no new connections, and keep-alive ends: an open connection closes after
  // its next response (requests on it are still read and answered).
  void StopAccepting();
  // After StopAccepting: waits until every request handed to the handler has been answered and
  // its response written, and every connection has closed (idle ones are closed once nothing is
  // in flight), or `timeout` passes (then returns false). Runs on the control thread.
  bool WaitUntilDrained(std::chrono::milliseconds timeout);
  // Stops the I/O threads and joins them.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
