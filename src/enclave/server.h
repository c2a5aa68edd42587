#pragma once

// Server: the enclave's listening socket and its event loops (issue 4 items 3 and 8).
//
// One endpoint (vsock, tcp or unix) serves both protocols; each frame is classified by its first
// byte (src/net/frame_decoder.h) and handed to the RequestHandler. `threads` workers each run
// their own epoll loop; the listening socket sits in every loop (EPOLLEXCLUSIVE) and a worker
// keeps the connections it accepts, so there is no shared queue or lock on the request path.
//
// Fairness and abuse (a slow or malicious client cannot stall others):
//   * non-blocking sockets, per-connection buffers; one read (<= 64 KiB) and at most
//     `max_frames_per_turn` requests per connection per loop turn, then the next connection;
//   * replies queue per connection; beyond `max_pending_output` the connection is not read
//     until the peer drains its replies (pipelining without reading cannot grow memory);
//   * timeouts: a started frame must complete within `frame_timeout`, a connection with nothing
//     to do is closed after `idle_timeout`, queued output must move within `write_timeout`;
//   * at most `max_connections`; more are accepted and closed at once;
//   * framing errors (garbage, oversized frame) get one generic error reply, then the
//     connection is closed; other connections are unaffected.
// Requests that block (attest: an NSM call; the first request in first-request mode; every
// request in per-request mode) occupy their worker for that time: give the server several
// threads when using them.
//
// Thread-safety: Start/Stop from one thread; Stop is idempotent and called by the destructor.

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/enclave/request_handler.h"
#include "src/net/endpoint.h"
#include "src/net/frame_decoder.h"

namespace lockout::enclave {

struct ServerOptions {
  net::Endpoint listen = net::Endpoint::Vsock(net::kVsockCidAny, 5010);
  int threads = 1;
  size_t max_frame_size = net::kDefaultMaxFrameSize;
  int max_connections = 4096;
  int max_frames_per_turn = 64;
  size_t max_pending_output = 1 << 20;
  absl::Duration idle_timeout = absl::Seconds(120);
  absl::Duration frame_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
};

// The number of CPUs this process may run on (sched_getaffinity; honours taskset).
int AvailableCpus();

class Server final {
 public:
  // Binds and starts the workers. `handler` must outlive the server.
  // Errors: InvalidArgument (options), Unavailable/InvalidArgument from net::Listen, Internal
  // (epoll/eventfd creation).
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // What the kernel bound (tcp port 0 -> the real port).
  const net::Endpoint& local_endpoint() const;
  // Stops accepting, closes every connection and joins the workers. Idempotent.
  void Stop();

  // Connections currently open (all workers).
  int connections() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::enclave
