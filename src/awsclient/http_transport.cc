#include "src/awsclient/http_transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "boost/asio/generic/stream_protocol.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/socket.h"

namespace lockout::awsclient {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using GenericSocket = asio::generic::stream_protocol::socket;
using TlsStream = ssl::stream<GenericSocket>;
using SteadyClock = std::chrono::steady_clock;

// An allocator that wipes memory before freeing it: the transport's read buffer holds raw
// response bytes, which may include a plaintext (KMS Decrypt) or a credential (IMDS), and the
// request's header fields hold the session token (X-Amz-Security-Token).
template <typename T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>& /*other*/) noexcept {}  // NOLINT(runtime/explicit)
  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    WipeBytes(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  friend bool operator==(const WipingAllocator&, const WipingAllocator&) { return true; }
  friend bool operator!=(const WipingAllocator&, const WipingAllocator&) { return false; }
};
using WipingBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;

absl::Duration Left(SteadyClock::time_point deadline) {
  return absl::FromChrono(deadline - SteadyClock::now());
}

// One connection: its own io_context, driven by the calling thread during Send.
struct Connection {
  asio::io_context ioc{1};
  std::unique_ptr<GenericSocket> plain;
  std::unique_ptr<TlsStream> tls;
  WipingBuffer buffer;

  GenericSocket& lowest() { return tls ? tls->next_layer() : *plain; }
  void Close() {
    beast::error_code ignored;
    lowest().close(ignored);
  }
  void ReleaseBuffer() {
    buffer.clear();
    buffer.shrink_to_fit();
  }
  ~Connection() {
    if (tls || plain) Close();
  }
};

// Starts one asynchronous operation with `start(handler)` and runs the connection's io_context
// until it completes or `deadline` passes (then the socket is closed and timed_out returned).
template <typename Start>
beast::error_code RunUntil(Connection& c, SteadyClock::time_point deadline, Start start) {
  std::optional<beast::error_code> result;
  start([&result](beast::error_code ec, auto&&... /*ignored*/) { result = ec; });
  c.ioc.restart();
  c.ioc.run_until(deadline);
  if (!result.has_value()) {
    c.Close();
    c.ioc.restart();
    c.ioc.run();  // lets the aborted operation's handler run
    return asio::error::timed_out;
  }
  return *result;
}

bool IsConnectionLost(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected || ec == bhttp::error::end_of_stream ||
         ec == bhttp::error::partial_message || ec == ssl::error::stream_truncated;
}

absl::Status IoError(const EndpointConfig& endpoint, std::string_view what,
                     const beast::error_code& ec) {
  const std::string where = absl::StrCat(Absl(what), " ", endpoint.ToString());
  if (ec == asio::error::timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("timed out ", where));
  }
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
      ec == bhttp::error::buffer_overflow) {
    return absl::ResourceExhaustedError(
        absl::StrCat("response too large ", where, ": ", ec.message()));
  }
  if (IsConnectionLost(ec)) {
    return absl::UnavailableError(absl::StrCat("connection closed ", where, ": ", ec.message()));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return absl::InternalError(absl::StrCat("malformed HTTP response ", where, ": ", ec.message()));
  }
  return absl::UnavailableError(absl::StrCat("I/O error ", where, ": ", ec.message()));
}

// True when a kept-alive idle connection is no longer usable: the server closed it (EOF is
// readable), reset it, or sent something unsolicited.
bool IdleConnectionIsStale(Connection& c) {
  pollfd p{};
  p.fd = c.lowest().native_handle();
  p.events = POLLIN;
  const int n = ::poll(&p, 1, 0);
  return n != 0;  // readable, error or hang-up: none of them is an idle healthy connection
}

using Request =
    bhttp::request<bhttp::span_body<const char>, bhttp::basic_fields<WipingAllocator<char>>>;

struct ExchangeOutcome {
  absl::StatusOr<HttpResponse> response;
  bool connection_lost_before_response = false;
  bool reusable = false;
};

}  // namespace

// Moves copy the body and wipe the source in place: moving a short std::string leaves its bytes
// in the source's inline buffer, where a later wipe of the (now empty) string would miss them.
HttpResponse::HttpResponse(HttpResponse&& other) noexcept
    : status(other.status), headers(std::move(other.headers)) {
  body.assign(other.body);
  WipeString(other.body);
}

HttpResponse& HttpResponse::operator=(HttpResponse&& other) noexcept {
  if (this != &other) {
    WipeString(body);
    status = other.status;
    headers = std::move(other.headers);
    body.assign(other.body);
    WipeString(other.body);
  }
  return *this;
}

HttpResponse::~HttpResponse() { WipeString(body); }

std::optional<std::string_view> HttpResponse::FindHeader(std::string_view name) const {
  for (const aws::HttpHeader& h : headers) {
    if (aws::HeaderNameEquals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

struct HttpTransport::Impl {
  Impl(EndpointConfig e, HttpTransportOptions o)
      : endpoint(std::move(e)), options(std::move(o)), connect_to(endpoint.ConnectEndpoint()) {}

  EndpointConfig endpoint;
  HttpTransportOptions options;
  net::Endpoint connect_to;
  std::unique_ptr<ssl::context> tls_context;  // https only
  std::atomic<uint64_t> opened{0};

  absl::Mutex mu;
  std::vector<std::unique_ptr<Connection>> idle ABSL_GUARDED_BY(mu);

  std::unique_ptr<Connection> TakeIdle() {
    while (true) {
      std::unique_ptr<Connection> c;
      {
        absl::MutexLock lock(&mu);
        if (idle.empty()) return nullptr;
        c = std::move(idle.back());
        idle.pop_back();
      }
      if (!IdleConnectionIsStale(*c)) return c;
    }
  }

  void ReturnIdle(std::unique_ptr<Connection> c) {
    absl::MutexLock lock(&mu);
    if (idle.size() < options.max_idle_connections) idle.push_back(std::move(c));
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(SteadyClock::time_point deadline) {
    const absl::Duration left = Left(deadline);
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out before connecting to ", endpoint.ToString()));
    }
    ASSIGN_OR_RETURN(UniqueFd fd, net::Connect(connect_to, left));
    opened.fetch_add(1, std::memory_order_relaxed);

    sockaddr_storage local{};
    socklen_t local_len = sizeof(local);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
      return absl::UnavailableError(absl::StrCat("getsockname failed for ", endpoint.ToString()));
    }
    const int family = local.ss_family;
    const bool is_tcp = family == AF_INET || family == AF_INET6;
    if (is_tcp) {
      // Requests are small and sent in one write; do not let Nagle hold the last segment.
      const int one = 1;
      (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }

    auto c = std::make_unique<Connection>();
    GenericSocket socket(c->ioc);
    beast::error_code ec;
    socket.assign(asio::generic::stream_protocol(family, is_tcp ? IPPROTO_TCP : 0), fd.get(), ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot use the socket to ", endpoint.ToString(), ": ", ec.message()));
    }
    fd.release();  // the Asio socket owns it now
    if (!tls_context) {
      c->plain = std::make_unique<GenericSocket>(std::move(socket));
      return c;
    }

    c->tls = std::make_unique<TlsStream>(std::move(socket), *tls_context);
    SSL* ssl_handle = c->tls->native_handle();
    const std::string& host = endpoint.url.host();
    if (endpoint.url.host_is_ip_literal()) {
      // RFC 6066 §3: SNI carries host names only; the certificate must name the IP address.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), host.c_str()) != 1) {
        return absl::InternalError("cannot set the expected certificate IP address");
      }
    } else {
      if (SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(host.c_str())) != 1) {
        return absl::InternalError("cannot set TLS SNI host name");
      }
      SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(ssl_handle, host.c_str()) != 1) {
        return absl::InternalError("cannot set the expected certificate host name");
      }
    }
    ec = RunUntil(*c, deadline, [&](auto handler) {
      c->tls->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK && ec != asio::error::timed_out) {
        return absl::FailedPreconditionError(absl::StrCat(
            "TLS certificate of ", endpoint.ToString(), " rejected: ",
            X509_verify_cert_error_string(verify), " (CA bundle ", endpoint.ca_bundle_path, ")"));
      }
      return IoError(endpoint, "in TLS handshake with", ec);
    }
    return c;
  }

  template <typename Stream>
  ExchangeOutcome Exchange(Connection& c, Stream& stream, Request& request,
                           SteadyClock::time_point deadline) {
    ExchangeOutcome out;
    beast::error_code ec = RunUntil(c, deadline, [&](auto handler) {
      bhttp::async_write(stream, request, std::move(handler));
    });
    if (ec) {
      out.connection_lost_before_response = IsConnectionLost(ec);
      out.response = IoError(endpoint, "sending to", ec);
      return out;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_body_bytes);
    parser.header_limit(static_cast<uint32_t>(options.max_response_header_bytes));
    // Header first: Boost 1.74's eager response parser does not enforce body_limit against a
    // Content-Length (the error from finish_header is overwritten while the body is parsed), so
    // the declared length is checked here before any of the body is read.
    ec = RunUntil(c, deadline, [&](auto handler) {
      bhttp::async_read_header(stream, c.buffer, parser, std::move(handler));
    });
    if (!ec) {
      const boost::optional<std::uint64_t> length = parser.content_length();
      if (length.has_value() && *length > options.max_response_body_bytes) {
        ec = bhttp::error::body_limit;
      }
    }
    if (!ec) {
      ec = RunUntil(c, deadline, [&](auto handler) {
        bhttp::async_read(stream, c.buffer, parser, std::move(handler));
      });
    }
    if (ec) {
      out.connection_lost_before_response =
          IsConnectionLost(ec) && !parser.got_some() && c.buffer.size() == 0;
      WipeString(parser.get().body());
      out.response = IoError(endpoint, "reading the response from", ec);
      return out;
    }
    auto& message = parser.get();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.push_back(
          aws::HttpHeader{std::string(field.name_string()), std::string(field.value())});
    }
    // Copy, then wipe the parser's string in place (a move would leave short bodies behind in
    // the moved-from string's inline buffer).
    response.body.assign(message.body());
    WipeString(message.body());
    out.reusable =
        parser.is_done() && message.keep_alive() && !parser.need_eof() && c.buffer.size() == 0;
    out.response = std::move(response);
    return out;
  }
};

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTransport::~HttpTransport() = default;

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(EndpointConfig endpoint,
                                                                     HttpTransportOptions options) {
  auto impl = std::make_unique<Impl>(std::move(endpoint), std::move(options));
  if (impl->endpoint.url.tls()) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
      return absl::InternalError("cannot require TLS 1.2");
    }
    beast::error_code ec;
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!ec) ctx->load_verify_file(impl->endpoint.ca_bundle_path, ec);
    if (ec) {
      ERR_clear_error();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot load CA bundle \"", impl->endpoint.ca_bundle_path, "\" for ",
                       impl->endpoint.ToString(), ": ", ec.message()));
    }
    impl->tls_context = std::move(ctx);
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

absl::StatusOr<HttpResponse> HttpTransport::Send(const aws::HttpRequest& request,
                                                 absl::Duration timeout) {
  const SteadyClock::time_point deadline =
      SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                               absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration())));

  Request message;
  message.method_string(request.method);
  message.target(request.target);
  message.version(11);
  for (const aws::HttpHeader& h : request.headers) {
    if (aws::HeaderNameEquals(h.name, "Content-Length")) continue;
    message.insert(h.name, h.value);
  }
  if (!request.FindHeader("Host").has_value()) {
    message.set(bhttp::field::host, impl_->endpoint.url.HostHeader());
  }
  if (!request.FindHeader("User-Agent").has_value() && !impl_->options.user_agent.empty()) {
    message.set(bhttp::field::user_agent, impl_->options.user_agent);
  }
  message.body() = beast::span<const char>(request.body.data(), request.body.size());
  if (!request.body.empty() || (request.method != "GET" && request.method != "HEAD")) {
    message.content_length(request.body.size());
  }

  for (int pass = 0; pass < 2; ++pass) {
    std::unique_ptr<Connection> c = pass == 0 ? impl_->TakeIdle() : nullptr;
    const bool reused = c != nullptr;
    if (!c) {
      ASSIGN_OR_RETURN(c, impl_->Connect(deadline));
    }
    ExchangeOutcome out = c->tls ? impl_->Exchange(*c, *c->tls, message, deadline)
                                 : impl_->Exchange(*c, *c->plain, message, deadline);
    c->ReleaseBuffer();
    if (out.response.ok()) {
      if (out.reusable) impl_->ReturnIdle(std::move(c));
      return std::move(out.response);
    }
    // A kept-alive connection the server closed just as we used it: the request never reached
    // an application (no response byte came back), so send it once more on a new connection.
    if (reused && out.connection_lost_before_response && Left(deadline) > absl::ZeroDuration()) {
      continue;
    }
    return out.response.status();
  }
  return absl::UnavailableError(absl::StrCat("connection closed by ", impl_->endpoint.ToString()));
}

const EndpointConfig& HttpTransport::endpoint() const { return impl_->endpoint; }

uint64_t HttpTransport::connections_opened() const {
  return impl_->opened.load(std::memory_order_relaxed);
}

void HttpTransport::CloseIdleConnections() {
  std::vector<std::unique_ptr<Connection>> doomed;
  {
    absl::MutexLock lock(&impl_->mu);
    doomed.swap(impl_->idle);
  }
}

}  // namespace lockout::awsclient
