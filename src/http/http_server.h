#pragma once

// HttpServer: a small HTTP/1.1 server (Boost.Beast) for `lockout local-aws` and metrics.
//
// Keep-alive connections, a worker pool, per-connection read timeouts and a body limit that is
// enforced while reading (an oversized request never gets buffered). Each complete request is
// handed to the handler as an aws::HttpRequest (the type SigV4 verifies); the handler returns the
// response. Requests that cannot be parsed or exceed the limits get the response made by
// Options::error_response, and the connection is closed; the server keeps serving others.
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

  // Binds and starts serving on background threads.
  absl::Status Start(HttpHandler handler);
  // Stops accepting, closes connections, joins the workers. Idempotent.
  void Stop();
  // The bound port (valid after Start).
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::http
