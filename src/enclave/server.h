#pragma once

// Server: the enclave's listening socket and its connections (issue 4 items 3 and 8; issue 12).
//
// One endpoint (vsock, tcp or unix) serves both protocols; each frame is classified by its first
// byte (src/net/frame_decoder.h) and handed to the RequestHandler. The server runs on
// net::ConnectionServer, the one Boost.Asio event layer: `threads` threads run one io_context,
// so connections are spread over every thread by construction, and the ConnectionServer alone
// owns each connection's lifetime (a closed connection lives until its last pending handler has
// run). Each connection (signing_connection.h) reads and decodes its frames on its own strand and
// hands its requests, in batches of at most 16 (and at least one per worker unless the workers
// already have batches waiting), to a queue the threads drain round-robin across connections,
// one batch at a time, with at most one batch per thread in the event loop's queue so I/O stays
// prompt: one pipelined connection is signed by every worker. A request that arrives alone (a v1
// request; a v2 client sending one at a time) while no batch waits for a worker is signed by the
// thread that read it, and its reply written in the same turn: no hand-off, no wake-up. Each worker
// signs with its own WorkerState (a SigningContext; leased, one per thread at a time). Replies come
// back in any order and are written in request order (each request holds a sequence slot; the
// completed prefix is written), as docs/PROTOCOL.md promises. v1 is unchanged: one request per
// connection, its reply, then the connection is closed.
//
// Fairness and abuse (no client can stall others, crash the server or grow it without bound;
// the rules themselves are in connection_rules.h):
//   * requests in flight per connection (handed to workers or the blocking pool, or answered and
//     waiting for an earlier reply) are bounded in number (`max_in_flight`) and bytes
//     (`max_in_flight_bytes`, charged to the memory budget): past them the connection's frames
//     wait in its decoder and its socket is not read;
//   * input: a connection is read only when all its complete frames are handed out, and never
//     past one largest frame (+ one read) of unprocessed input;
//   * replies queue per connection; beyond `max_pending_output` the connection's requests are
//     not handed out (nor its socket read) until the peer drains its replies;
//   * one memory budget (`memory_budget`) for all buffered input, queued replies and requests in
//     flight: a read that would not fit closes the biggest offenders (connections over their fair
//     share, biggest first) or waits;
//   * requests that block (attest: an NSM call; the key load of a first request; every request
//     in per-request mode) run on a small pool (`blocking_threads`, at most `blocking_queue`
//     waiting), never on the threads that sign; when the pool is full the request gets the
//     error "busy". Later requests of the connection go on; their replies wait for its reply;
//   * timeouts, checked every `sweep_interval` against `clock` (tests advance a FakeClock): a
//     started frame must complete within `frame_timeout`; a connection with no complete request
//     for `idle_timeout` (and nothing owed to it) is closed, whatever bytes it trickles; queued
//     output must move within `write_timeout`;
//   * at most `max_connections` (fitted to RLIMIT_NOFILE at start: the soft limit is raised, or
//     the cap lowered, and the log says which); more are accepted and closed at once;
//   * accept failures (out of descriptors or memory) pause accepting, 100 ms doubling to 1 s,
//     with at most one log line per 10 s (net::ConnectionServer, src/net/accept_backoff.h);
//   * framing errors (garbage, oversized frame) get one generic error reply, then the
//     connection is closed; other connections are unaffected. After a v1 reply (or such an
//     error) the connection is half-closed and its input drained for at most 2 s, so that the
//     peer reads the reply rather than a reset.
//
// Thread-safety: Start/Stop from one thread; Stop is idempotent and called by the destructor;
// the accessors from any thread.

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/enclave/request_handler.h"
#include "src/net/endpoint.h"
#include "src/net/frame_decoder.h"

namespace lockout::enclave {

struct ServerOptions {
  net::Endpoint listen = net::Endpoint::Vsock(net::kVsockCidAny, 5010);
  int threads = 1;
  size_t max_frame_size = net::kDefaultMaxFrameSize;
  int max_connections = 4096;
  size_t max_pending_output = 1 << 20;
  // Requests in flight per connection: at most this many, and this many bytes (one request is
  // always allowed, whatever its size).
  size_t max_in_flight = 256;
  size_t max_in_flight_bytes = 1 << 20;
  // All connections' buffered input, queued replies and requests in flight.
  size_t memory_budget = size_t{64} << 20;
  int blocking_threads = 2;
  size_t blocking_queue = 16;
  absl::Duration idle_timeout = absl::Seconds(120);
  absl::Duration frame_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  // How often deadlines are checked, and the clock they are checked against (not owned; must
  // outlive the server).
  absl::Duration sweep_interval = absl::Milliseconds(250);
  const Clock* clock = &Clock::Real();
};

// The number of CPUs this process may run on (sched_getaffinity; honours taskset).
int AvailableCpus();

class Server final {
 public:
  // Binds and starts the threads. `handler` must outlive the server. Adjusts RLIMIT_NOFILE (or
  // lowers max_connections) as described above.
  // Errors: InvalidArgument (options), Unavailable/InvalidArgument from net::Listen.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // What the kernel bound (tcp port 0 -> the real port).
  const net::Endpoint& local_endpoint() const;
  // Stops accepting, closes every connection and joins the threads. Idempotent.
  void Stop();

  // Connections currently open.
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
