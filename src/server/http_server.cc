#include "server/http_server.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>

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

namespace {

// One connection. Lives on its own strand; all members are touched only there.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler,
          std::atomic<int>& in_flight)
      : stream_(std::move(socket)), options_(options), handler_(handler), in_flight_(in_flight) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Sends `response` on the strand. `answers_exchange`: this is the answer to a request that was
  // handed to the handler (and counted in flight), not an error found while reading.
  void Send(HttpResponse response, bool answers_exchange = false) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "tandem");
    res->set(http::field::content_type, response.content_type);
    for (auto& [key, value] : response.headers) res->set(key, value);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(options_.idle_timeout_s));
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, answers_exchange](beast::error_code ec, size_t) {
          if (answers_exchange) --self->in_flight_;
          self->OnWrite(ec);
        });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(options_.idle_timeout_s));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
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
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    keep_alive_ = false;
    if (ec == http::error::body_limit) {
      return Send(ErrorResponse(413, "request body exceeds the limit of " +
                                         std::to_string(options_.max_body_bytes) +
                                         " bytes (--max-body-bytes)"));
    }
    if (ec.category() == beast::error_code(http::error::body_limit).category()) {
      return Send(ErrorResponse(400, "malformed HTTP request: " + ec.message()));
    }
    Close();
  }

  void OnRead(beast::error_code ec);

  void OnWrite(beast::error_code ec) {
    if (ec) return Close();
    if (!keep_alive_) return LingerThenClose();
    ReadHeader();
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
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  std::atomic<int>& in_flight_;  // requests handed to the handler and not yet answered
  bool keep_alive_ = true;
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

void Session::OnRead(beast::error_code ec) {
  if (ec) return OnReadError(ec);
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
  request.body = std::make_shared<const std::string>(std::move(req.body()));
  ++in_flight_;
  handler_(std::make_shared<Exchange>(shared_from_this(), std::move(request)));
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  std::vector<std::thread> threads;
  uint16_t port = 0;
  std::atomic<int> in_flight{0};

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), options, handler, in_flight)->Start();
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                        HttpHandler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  beast::error_code ec;
  auto address = net::ip::make_address(impl->options.host, ec);
  if (ec) return InvalidArgument("invalid listen address '" + impl->options.host + "'");
  tcp::endpoint endpoint(address, impl->options.port);
  auto fail = [&](const char* what) {
    return Unavailable(std::string("cannot ") + what + " " + impl->options.host + ":" +
                       std::to_string(impl->options.port) + ": " + ec.message());
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
  const int threads = std::max(1, impl->options.threads);
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::StopAccepting() {
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

bool HttpServer::WaitForInFlight(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->in_flight.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace tandem
