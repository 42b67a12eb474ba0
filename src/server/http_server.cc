#include "server/http_server.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <list>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "server/content_encoding.h"
#include "server/http_status.h"
#include "server/json_util.h"

namespace tandem {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string* HttpRequest::FindHeader(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
      return &value;
    }
  }
  return nullptr;
}

std::string_view HttpRequest::Header(std::string_view name) const {
  const std::string* value = FindHeader(name);
  return value ? std::string_view(*value) : std::string_view();
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

std::vector<std::pair<int, uint64_t>> HttpCounters::ResponsesByCode() const {
  std::vector<std::pair<int, uint64_t>> out;
  for (size_t code = 0; code < responses.size(); ++code) {
    const uint64_t n = responses[code].load();
    if (n > 0) out.emplace_back(static_cast<int>(code), n);
  }
  return out;
}

bool IsUsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

namespace {

class Session;

// 16 hex digits: a per-process random prefix and a counter, unique within this server's life.
std::string NewRequestId() {
  static const uint64_t prefix = std::random_device{}() & 0xffffffffull;
  static std::atomic<uint32_t> counter{0};
  char id[17];
  std::snprintf(id, sizeof id, "%08llx%08x", static_cast<unsigned long long>(prefix),
                counter.fetch_add(1));
  return id;
}

// What every connection shares: options, handler, counters, and the drain state.
struct Shared {
  Shared(HttpServerOptions options, HttpHandler handler)
      : options(std::move(options)),
        handler(std::move(handler)),
        counters(*this->options.counters) {}

  const HttpServerOptions options;
  const HttpHandler handler;
  HttpCounters& counters;
  std::atomic<bool> draining{false};
  std::mutex sessions_mu;
  std::list<std::weak_ptr<Session>> sessions;  // guarded by sessions_mu; expired ones pruned
};

// One connection. Lives on its own strand; all members are touched only there.
//
// A request goes through three timed phases: waiting for its first byte (idle_timeout), reading
// its headers (header_timeout), reading its body (body_timeout); then the handler has as long as
// the model needs, and the response is written (idle_timeout).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared)
      : stream_(std::move(socket)), read_deadline_(stream_.get_executor()), shared_(shared) {
    ++shared_.counters.connections_open;
  }
  ~Session() { --shared_.counters.connections_open; }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }

  // Answers 503 and closes: the server holds max_connections already.
  void Refuse() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      self->Send(ErrorResponse(503, "too many connections (the server holds its limit of " +
                                        std::to_string(self->shared_.options.max_connections) +
                                        "); retry later"));
    });
  }

  // Drain: a connection waiting for its next request closes now; one reading or serving a
  // request closes after answering it (Send ends keep-alive while draining).
  void CloseIfIdle() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }

  // Sends `response` on the strand. `answers_exchange`: this is the answer to a request that was
  // handed to the handler (and counted in flight), not an error found while reading.
  void Send(HttpResponse response, bool answers_exchange = false) {
    if (shared_.draining) keep_alive_ = false;
    ++shared_.counters.responses[response.status < 600 ? response.status : 0];
    if (answers_exchange) {
      const bool has_id = std::any_of(response.headers.begin(), response.headers.end(),
                                      [](const auto& h) { return h.first == "X-Request-Id"; });
      if (!has_id) response.headers.emplace_back("X-Request-Id", current_.id);
      spdlog::debug("request {}: {} {} -> {} in {:.3f} ms", current_.id, current_.method,
                    current_.target, response.status,
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                              current_.started)
                        .count());
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "tandem");
    res->set(http::field::content_type, response.content_type);
    for (auto& [key, value] : response.headers) res->set(key, value);
    if (answers_exchange && current_.answer_with != ContentEncoding::kIdentity &&
        !response.body.empty()) {
      res->set(http::field::content_encoding,
               std::string(ContentEncodingName(current_.answer_with)));
      res->set(http::field::vary, "Accept-Encoding");
      res->body() = Compress(current_.answer_with, response.body);
    } else {
      res->body() = std::move(response.body);
    }
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, answers_exchange](beast::error_code ec, size_t) {
          if (answers_exchange) --self->shared_.counters.requests_in_flight;
          self->OnWrite(ec);
        });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  // Idle phase: wait for the first byte of the next request (or use what is buffered already).
  void WaitForRequest() {
    if (buffer_.size() > 0) return ReadHeader();
    idle_ = true;
    stream_.expires_after(shared_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->idle_ = false;
                              if (ec)
                                return self->Close();  // idle timeout, drain, or the client left
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  // The header and body phases are timed by read_deadline_, not by the stream's own expiry
  // (which closes the socket), so that a late client still gets its 408.
  void StartReadDeadline(std::chrono::seconds limit) {
    stream_.expires_never();
    timed_out_ = false;
    reading_ = true;
    read_deadline_.expires_after(limit);
    read_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // cancelled: the read finished in time
      // A wait that completed just as its read did is stale: the read is over, or the deadline
      // was re-armed for the next phase.
      if (!self->reading_ || self->read_deadline_.expiry() > net::steady_timer::clock_type::now()) {
        return;
      }
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(shared_.options.max_body_bytes);
    parser_->header_limit(shared_.options.max_header_bytes);
    StartReadDeadline(shared_.options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // A timed read finished (or failed): its deadline no longer applies.
  void EndReadDeadline() {
    reading_ = false;
    read_deadline_.cancel();
  }

  void OnHeader(beast::error_code ec) {
    EndReadDeadline();
    if (ec) return OnReadError(ec, "headers", shared_.options.header_timeout);
    // A body is held against the budget from its announced length, before any of it is read
    // (one over --max-body-bytes is left to the parser's 413).
    uint64_t announced = parser_->content_length().value_or(0);
    if (announced > shared_.options.max_body_bytes) announced = 0;
    hold_ = shared_.options.request_memory->TryHold(announced);
    if (!hold_) return RefuseForMemory(announced);
    const auto& req = parser_->get();
    // Clients such as curl wait for "100 Continue" before sending a large body.
    if (req[http::field::expect] == "100-continue") {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRead();  // no body
    StartReadDeadline(shared_.options.body_timeout);
    ReadSomeBody();
  }

  // Reads the body as it arrives; a body of unannounced length (chunked) grows its hold as it
  // does, and is refused once that would pass the budget.
  void ReadSomeBody() {
    http::async_read_some(
        stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) {
            self->EndReadDeadline();
            return self->OnReadError(ec, "body", self->shared_.options.body_timeout);
          }
          const uint64_t arrived = self->parser_->get().body().size();
          if (arrived > self->hold_->bytes() && !self->hold_->Resize(arrived)) {
            self->EndReadDeadline();
            return self->RefuseForMemory(arrived);
          }
          if (!self->parser_->is_done()) return self->ReadSomeBody();
          self->EndReadDeadline();
          self->OnRead();
        });
  }

  // 503 for a body that does not fit --max-inflight-bytes; what is left of it is not read.
  void RefuseForMemory(uint64_t bytes) {
    hold_.reset();
    keep_alive_ = false;
    HttpResponse refused =
        ErrorResponse(503, shared_.options.request_memory->RefusalMessage(bytes));
    refused.headers.emplace_back("Retry-After", "1");
    Send(std::move(refused));
  }

  void OnReadError(beast::error_code ec, const char* part, std::chrono::seconds limit) {
    if (timed_out_) {
      ++shared_.counters.timeouts;
      keep_alive_ = false;
      return Send(ErrorResponse(408, std::string("the request's ") + part +
                                         " did not arrive within " + std::to_string(limit.count()) +
                                         " s"));
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return Send(ErrorResponse(413, "request body exceeds the limit of " +
                                         std::to_string(shared_.options.max_body_bytes) +
                                         " bytes (--max-body-bytes)"));
    }
    if (ec == http::error::header_limit) {
      return Send(ErrorResponse(431, "request headers exceed the limit of " +
                                         std::to_string(shared_.options.max_header_bytes) +
                                         " bytes (--max-header-bytes)"));
    }
    if (ec.category() == beast::error_code(http::error::body_limit).category()) {
      return Send(ErrorResponse(400, "malformed HTTP request: " + ec.message()));
    }
    Close();
  }

  void OnRead();

  void OnWrite(beast::error_code ec) {
    if (ec) return Close();
    if (!keep_alive_) return LingerThenClose();
    WaitForRequest();
  }

  // A client may still be sending the body we refused (413, say). Closing at once would reset
  // the connection and lose our answer, so stop writing, read and discard what arrives for a
  // bounded time and amount, then close.
  void LingerThenClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(5));
    Discard(0);
  }

  void Discard(size_t discarded) {
    constexpr size_t kMaxDiscard = 256ull << 20;
    if (discarded > kMaxDiscard) return Close();
    auto scratch = std::make_shared<std::array<char, 64 * 1024>>();
    stream_.async_read_some(net::buffer(*scratch), [self = shared_from_this(), scratch, discarded](
                                                       beast::error_code ec, size_t n) {
      if (ec) return self->Close();
      self->Discard(discarded + n);
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer read_deadline_;
  bool reading_ = false;    // a read timed by read_deadline_ is pending
  bool timed_out_ = false;  // read_deadline_ fired and cancelled the read
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<RequestMemory::Hold> hold_;  // the body being read, against the budget
  Shared& shared_;
  bool keep_alive_ = true;
  bool idle_ = false;  // waiting for the first byte of a request
  struct {
    std::string id, method, target;
    std::chrono::steady_clock::time_point started;
    ContentEncoding answer_with = ContentEncoding::kIdentity;  // from its Accept-Encoding
  } current_;  // the request being served, for its response and log line
  unsigned version_ = 11;
};

class Exchange final : public HttpExchange {
 public:
  Exchange(std::shared_ptr<Session> session, HttpRequest request)
      : session_(std::move(session)), request_(std::move(request)) {}

  ~Exchange() override {
    if (!replied_.exchange(true)) {
      // A handler that dropped its exchange unanswered is a bug; the client still gets an answer.
      spdlog::error("no response was produced for {} {}", request_.method, request_.target);
      auto session = session_;
      net::post(session->executor(), [session] {
        session->Send(ErrorResponse(500, "the server produced no response"), true);
      });
    }
  }

  const HttpRequest& request() const override { return request_; }

  void Post(std::function<void()> fn) override { net::post(session_->executor(), std::move(fn)); }

  void Reply(HttpResponse response) override {
    if (replied_.exchange(true)) {
      spdlog::error("second response for {} {} dropped", request_.method, request_.target);
      return;
    }
    net::post(session_->executor(), [session = session_, r = std::move(response)]() mutable {
      session->Send(std::move(r), true);
    });
  }

 private:
  std::shared_ptr<Session> session_;
  HttpRequest request_;
  std::atomic<bool> replied_{false};
};

void Session::OnRead() {
  stream_.expires_never();  // the exchange may take as long as the model needs
  http::request<http::string_body> req = parser_->release();
  keep_alive_ = req.keep_alive();
  version_ = req.version();
  HttpRequest request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  for (const auto& field : req) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  const std::string_view client_id = request.Header("X-Request-Id");
  request.id = IsUsableRequestId(client_id) ? std::string(client_id) : NewRequestId();
  current_ = {request.id, request.method, request.target, std::chrono::steady_clock::now(),
              PreferredEncoding(request.Header("Accept-Encoding"))};
  // A compressed body is inflated here, within the same limit as a plain one, so nothing past
  // this point sees the difference.
  auto encoding = ParseContentEncoding(request.Header("Content-Encoding"));
  if (!encoding.ok()) return Send(ErrorResponse(415, encoding.status().message()));
  if (*encoding != ContentEncoding::kIdentity) {
    auto inflated = Decompress(*encoding, req.body(), shared_.options.max_body_bytes);
    if (!inflated.ok()) {
      const Status& failed = inflated.status();
      return Send(ErrorResponse(HttpStatusFor(failed.code()), failed.message()));
    }
    if (!hold_->Resize(hold_->bytes() + inflated->size())) {
      return RefuseForMemory(inflated->size());
    }
    req.body() = std::move(*inflated);
    hold_->Resize(req.body().size());  // the compressed bytes are gone
    std::erase_if(request.headers, [](const auto& header) {
      return strcasecmp(header.first.c_str(), "Content-Encoding") == 0;
    });
  }
  // The hold goes with the body: it lasts until the last tensor viewing the body is gone.
  request.memory = hold_.get();
  request.body = RequestMemory::Owning(std::move(req.body()), std::move(hold_));
  ++shared_.counters.requests_in_flight;
  shared_.handler(std::make_shared<Exchange>(shared_from_this(), std::move(request)));
}

}  // namespace

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions options, HttpHandler handler)
      : shared(std::move(options), std::move(handler)) {}

  Shared shared;
  net::io_context ioc;
  // Keeps the I/O threads running while no operation is pending (a drain with the acceptor
  // closed and every request at the engine), until Stop.
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{net::make_strand(ioc)};
  std::vector<std::thread> threads;
  uint16_t port = 0;

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        ++shared.counters.connections_accepted;
        auto session = std::make_shared<Session>(std::move(socket), shared);
        if (shared.counters.connections_open > shared.options.max_connections) {
          ++shared.counters.connections_refused;
          session->Refuse();
        } else {
          Track(session);
          session->Start();
        }
      }
      Accept();
    });
  }

  void Track(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(shared.sessions_mu);
    shared.sessions.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
    shared.sessions.push_back(session);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                        HttpHandler handler) {
  if (options.counters == nullptr) return Internal("HttpServerOptions.counters is not set");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  beast::error_code ec;
  auto address = net::ip::make_address(impl->shared.options.host, ec);
  if (ec) return InvalidArgument("invalid listen address '" + impl->shared.options.host + "'");
  tcp::endpoint endpoint(address, impl->shared.options.port);
  auto fail = [&](const char* what) {
    return Unavailable(std::string("cannot ") + what + " " + impl->shared.options.host + ":" +
                       std::to_string(impl->shared.options.port) + ": " + ec.message());
  };
  impl->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  impl->acceptor.bind(endpoint, ec);
  if (ec) return fail("bind");
  impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  const int threads = std::max(1, impl->shared.options.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::StopAccepting() {
  impl_->shared.draining = true;
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

bool HttpServer::WaitUntilDrained(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const HttpCounters& counters = impl_->shared.counters;
  auto last_sweep = std::chrono::steady_clock::time_point();
  while (counters.requests_in_flight.load() > 0 || counters.connections_open.load() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    // Once nothing is in flight, idle connections have nothing left to wait for.
    if (counters.requests_in_flight.load() == 0 &&
        now - last_sweep > std::chrono::milliseconds(100)) {
      last_sweep = now;
      std::lock_guard lock(impl_->shared.sessions_mu);
      for (const std::weak_ptr<Session>& weak : impl_->shared.sessions) {
        if (auto session = weak.lock()) session->CloseIfIdle();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->work.reset();
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace tandem
