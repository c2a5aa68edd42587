#pragma once

// HttpTransport: sends HTTP/1.1 requests to one AWS endpoint, over TCP, vsock or a Unix socket,
// in clear or TLS (Boost.Beast over Boost.Asio, OpenSSL).
//
//   ASSIGN_OR_RETURN(auto transport, HttpTransport::Create(endpoint));
//   ASSIGN_OR_RETURN(HttpResponse r, transport->Send(request, absl::Seconds(5)));
//
// Connections: the socket is opened with net::Connect() to EndpointConfig::ConnectEndpoint() (so
// vsock://3:8000 reaches the parent's vsock-proxy) and handed to Asio. For https the TLS session
// runs end to end over that socket: SNI and certificate verification use the URL's host (peer
// verification against the CA bundle, RFC 6125 host name or IP address check, TLS 1.2+).
// Idle keep-alive connections are kept (up to max_idle_connections) and reused; a reused
// connection that the server has meanwhile closed is detected before use, or, if the failure
// shows only when sending, the request is sent once more on a fresh connection (only when no
// byte of a response had arrived).
//
// Limits: one deadline (`timeout`) covers connect, TLS handshake, write and read; the response
// header and body sizes are bounded while reading (an oversized reply is never buffered whole).
//
// Secrets: request bodies are written straight from the caller's buffer; the response body is
// wiped when the HttpResponse is destroyed, and the transport's read buffers are wiped when
// released. (OpenSSL's and the kernel's own buffers are outside our reach.) Errors never carry
// request or response bytes.
//
// Errors: Unavailable (cannot connect, connection reset/closed, TLS handshake failed for a
// transport reason), DeadlineExceeded (timeout), FailedPrecondition (server certificate not
// trusted or not for this host; unusable CA bundle at Create), ResourceExhausted (response over
// the limits), Internal (malformed HTTP response).
//
// Thread-safety: Send is thread-safe; concurrent calls use separate connections.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/aws/http_request.h"
#include "src/awsclient/endpoint_config.h"

namespace lockout::awsclient {

// A received response. Move-only; the body is wiped on destruction (it may hold a plaintext).
struct HttpResponse {
  int status = 0;
  std::vector<aws::HttpHeader> headers;
  std::string body;

  HttpResponse() = default;
  HttpResponse(HttpResponse&& other) noexcept;
  HttpResponse& operator=(HttpResponse&& other) noexcept;
  HttpResponse(const HttpResponse&) = delete;
  HttpResponse& operator=(const HttpResponse&) = delete;
  ~HttpResponse();

  // The first value of header `name` (ASCII case-insensitive), nullopt when absent.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
};

struct HttpTransportOptions {
  size_t max_response_body_bytes = 1 << 20;
  size_t max_response_header_bytes = 16 << 10;
  size_t max_idle_connections = 4;
  std::string user_agent = "lockout/0.1";
};

class HttpTransport final {
 public:
  // Validates the endpoint and, for https, loads the CA bundle. Opens no connection.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Create(EndpointConfig endpoint,
                                                               HttpTransportOptions options = {});
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Sends `request` and returns the response, whatever its status code. The request-target is
  // sent as is; Host (the URL's) and User-Agent are added when absent, Content-Length is set
  // from the body; every other header is sent as given (in order).
  absl::StatusOr<HttpResponse> Send(const aws::HttpRequest& request, absl::Duration timeout);

  const EndpointConfig& endpoint() const;
  // Connections opened so far (for tests and metrics).
  uint64_t connections_opened() const;
  // Closes idle connections.
  void CloseIdleConnections();

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::awsclient
