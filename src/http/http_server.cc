#include "src/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/version.hpp"
#include "src/common/logger.h"
#include "src/net/accept_backoff.h"

namespace lockout::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

std::chrono::milliseconds ToChrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

HttpResponse DefaultErrorResponse(HttpServerError error) {
  switch (error) {
    case HttpServerError::kBodyTooLarge:
      return HttpResponse::Text(413, "request body too large\n");
    case HttpServerError::kHeaderTooLarge:
      return HttpResponse::Text(431, "request headers too large\n");
    case HttpServerError::kMalformed:
      break;
  }
  return HttpResponse::Text(400, "malformed HTTP request\n");
}

// Counts a connection as open for as long as it lives.
class OpenConnection {
 public:
  explicit OpenConnection(std::atomic<int>& open) : open_(open) { open_.fetch_add(1); }
  ~OpenConnection() { open_.fetch_sub(1); }
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;

 private:
  std::atomic<int>& open_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const HttpServerOptions& options, const HttpHandler& handler,
          std::atomic<int>& open)
      : open_(open), stream_(std::move(socket)), options_(options), handler_(handler) {}

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    stream_.expires_after(ToChrono(options_.idle_timeout));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return Close();
    }
    if (ec) {
      // Tell the peer what was wrong with its request, then close: the stream position is lost.
      HttpServerError kind = HttpServerError::kMalformed;
      if (ec == bhttp::error::body_limit) kind = HttpServerError::kBodyTooLarge;
      if (ec == bhttp::error::header_limit) kind = HttpServerError::kHeaderTooLarge;
      if (ec == bhttp::error::partial_message) return Close();
      HttpResponse r =
          options_.error_response ? options_.error_response(kind) : DefaultErrorResponse(kind);
      return Write(std::move(r), /*keep_alive=*/false);
    }
    const auto& req = parser_->get();
    aws::HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      request.headers.push_back(
          aws::HttpHeader{std::string(field.name_string()), std::string(field.value())});
    }
    request.body = req.body();
    bool keep_alive = req.keep_alive();
    HttpResponse response = handler_(request);
    Write(std::move(response), keep_alive);
  }

  void Write(HttpResponse r, bool keep_alive) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(r.status));
    res->version(11);
    res->set(bhttp::field::server, "lockout");
    for (auto& h : r.headers) res->insert(h.name, h.value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(ToChrono(options_.idle_timeout));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                         if (ec || !keep_alive) return self->Close();
                         self->DoRead();
                       });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  OpenConnection open_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
};

}  // namespace

HttpResponse HttpResponse::Json(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", std::move(content_type)});
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.body = std::move(body);
  return r;
}

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions o) : options(std::move(o)) {}

  // One accept is outstanding at a time, so the handlers below never run concurrently and own
  // `backoff`, `refused` and the timer.
  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      if (ec) return PauseAccepting(ec);
      backoff.OnSuccess();
      if (open.load() >= options.max_connections) {
        Refuse(std::move(s));
      } else {
        std::make_shared<Session>(std::move(s), options, handler, open)->Start();
      }
      Accept();
    });
  }

  // accept() failed (e.g. EMFILE): the connection is still queued and the acceptor readable, so
  // accepting again at once would spin. Wait, then try again.
  void PauseAccepting(const beast::error_code& ec) {
    const lockout::net::AcceptBackoff::Decision d = backoff.OnFailure(absl::Now());
    if (d.log) {
      LogWarn("http_accept_failed", {{"port", port},
                                     {"error", std::strerror(ec.value())},
                                     {"failures", d.failures_since_log},
                                     {"pause_ms", absl::ToInt64Milliseconds(d.pause)}});
    }
    accept_timer->expires_after(ToChrono(d.pause));
    // Only a cancelled wait fails. (Few calls into error_code here: in a sanitizer build every
    // uncached vptr check needs a pipe, which a process out of descriptors cannot make.)
    accept_timer->async_wait([this](beast::error_code wait_ec) {
      if (wait_ec || !acceptor->is_open()) return;
      Accept();
    });
  }

  void Refuse(tcp::socket s) {
    beast::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
    ++refused_since_log;
    const absl::Time now = absl::Now();
    if (now - last_refusal_log >= kRefusalLogInterval) {
      LogWarn("http_connection_refused", {{"port", port},
                                          {"reason", "too many connections"},
                                          {"max_connections", options.max_connections},
                                          {"refused", refused_since_log}});
      refused_since_log = 0;
      last_refusal_log = now;
    }
  }

  static constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);

  HttpServerOptions options;
  HttpHandler handler;
  std::atomic<int> open{0};  // outlives the io_context (and so every Session)
  lockout::net::AcceptBackoff backoff;
  uint64_t refused_since_log = 0;
  absl::Time last_refusal_log = absl::InfinitePast();
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_timer;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start(HttpHandler handler) {
  if (impl_->running) return absl::FailedPreconditionError("server already started");
  if (impl_->options.max_connections < 1) {
    return absl::InvalidArgumentError("max_connections must be at least 1");
  }
  impl_->handler = std::move(handler);
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("not an IP address: ", impl_->options.host));
  }
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(endpoint, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", impl_->options.host, ":",
                                               impl_->options.port, ": ", ec.message()));
  }
  impl_->port = impl_->acceptor->local_endpoint().port();
  impl_->accept_timer.emplace(impl_->ioc);
  impl_->Accept();
  int n = impl_->options.threads > 0
              ? impl_->options.threads
              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->running = true;
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_->running) return;
  impl_->running = false;
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
    impl_->accept_timer->cancel();
  });
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

uint16_t HttpServer::port() const { return impl_->port; }

int HttpServer::open_connections() const { return impl_->open.load(); }

}  // namespace lockout::http
