#pragma once

// HttpServer: a small HTTP/1.1 server (Boost.Beast) for `lockout local-aws` and metrics.
//
// Keep-alive connections, a worker pool, per-connection read timeouts and a body limit that is
// enforced while reading (an oversized request never gets buffered). Each complete request is
// handed to the handler as an aws::HttpRequest (the type SigV4 verifies); the handler returns the
// response. Requests that cannot be parsed or exceed the limits get the response made by
// Options::error_response, and the connection is closed; the server keeps serving others.
//
// Abuse limits: at most `max_connections` connections are open at once; one accepted beyond that
// is closed at once (its client sees the connection close and may retry), so the server keeps
// descriptors for the connections it serves. When accept itself fails (out of descriptors or
// memory: the connection stays queued), the server stops accepting for a pause that grows from
// 100 ms to 1 s (net/accept_backoff.h) instead of retrying in a busy loop, and logs one
// "http_accept_failed" line per 10 s at most. Refused connections are logged the same way
// ("http_connection_refused", with the count).
//
// Thread-safety: Start/Stop from one thread; the handler is called concurrently from the worker
// threads and must be thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/aws/http_request.h"

namespace lockout::http {

struct HttpResponse {
  int status = 200;
  std::vector<aws::HttpHeader> headers;
  std::string body;

  static HttpResponse Json(int status, std::string body,
                           std::string content_type = "application/x-amz-json-1.1");
  static HttpResponse Text(int status, std::string body);
};

enum class HttpServerError {
  kBodyTooLarge,  // Content-Length or chunked body over max_body_bytes
  kHeaderTooLarge,
  kMalformed,  // not HTTP/1.x
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port; port() tells which
  int threads = 0;    // 0: one per core
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  absl::Duration idle_timeout = absl::Seconds(60);
  int max_connections = 512;  // open at once; at least 1
  // Builds the reply for requests the server rejects itself.
  std::function<HttpResponse(HttpServerError)> error_response;
};

using HttpHandler = std::function<HttpResponse(const aws::HttpRequest&)>;

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stops.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. InvalidArgument for a host that is not an
  // IP address or max_connections < 1; Unavailable if the address cannot be bound.
  absl::Status Start(HttpHandler handler);
  // Stops accepting, closes connections, joins the workers. Idempotent.
  void Stop();
  // The bound port (valid after Start).
  uint16_t port() const;
  // Connections open now (for tests and metrics).
  int open_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::http
