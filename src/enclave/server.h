#pragma once

// Server: the enclave's listening socket and its event loops (issue 4 items 3 and 8).
//
// One endpoint (vsock, tcp or unix) serves both protocols; each frame is classified by its first
// byte (src/net/frame_decoder.h) and handed to the RequestHandler. `threads` workers each run
// their own epoll loop; the listening socket sits in every loop (EPOLLEXCLUSIVE) and a worker
// keeps the connections it accepts, so there is no shared queue or lock on the request path.
//
// Fairness and abuse (no client can stall others, crash the server or grow it without bound;
// the rules themselves are in connection_rules.h):
//   * non-blocking sockets; per connection at most `max_frames_per_turn` requests per loop turn,
//     then the next connection;
//   * input: a connection is read only when all its complete frames are consumed, and never
//     past one largest frame (+ one read) of unprocessed input;
//   * replies queue per connection; beyond `max_pending_output` the connection's requests are
//     not processed (nor its socket read) until the peer drains its replies;
//   * one memory budget (`memory_budget`) for all buffered input, queued replies and requests
//     waiting on the blocking pool: a read that would not fit closes the biggest offenders
//     (connections over their fair share, biggest first) or waits;
//   * requests that block (attest: an NSM call; the key load of a first request; every request
//     in per-request mode) run on a small pool (`blocking_threads`, at most `blocking_queue`
//     waiting), never on the event loops that sign; when the pool is full the request gets the
//     error "busy". A connection's later requests wait for its blocking one (replies stay in
//     request order);
//   * timeouts: a started frame must complete within `frame_timeout`; a connection with no
//     complete request for `idle_timeout` (and nothing owed to it) is closed, whatever bytes it
//     trickles; queued output must move within `write_timeout`;
//   * at most `max_connections` (fitted to RLIMIT_NOFILE at start: the soft limit is raised, or
//     the cap lowered, and the log says which); more are accepted and closed at once;
//   * accept failures (out of descriptors or memory) pause accepting, 100 ms doubling to 1 s,
//     with at most one log line per 10 s (src/net/accept_backoff.h);
//   * framing errors (garbage, oversized frame) get one generic error reply, then the
//     connection is closed; other connections are unaffected.
// Connection lifetime has one owner, the worker that accepted it: everything that refers to a
// connection across loop turns (epoll events, the list of connections with work left, replies
// from the blocking pool) holds its id, never a pointer, and finds it gone once closed.
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
  // All connections' buffered input, queued replies and waiting blocking requests.
  size_t memory_budget = size_t{64} << 20;
  int blocking_threads = 2;
  size_t blocking_queue = 16;
  absl::Duration idle_timeout = absl::Seconds(120);
  absl::Duration frame_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
};

// The number of CPUs this process may run on (sched_getaffinity; honours taskset).
int AvailableCpus();

class Server final {
 public:
  // Binds and starts the workers. `handler` must outlive the server. Adjusts RLIMIT_NOFILE (or
  // lowers max_connections) as described above.
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
  // The connection cap in force (after fitting it to RLIMIT_NOFILE).
  int max_connections() const;
  // Bytes currently charged to the memory budget.
  size_t buffered_bytes() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::enclave
