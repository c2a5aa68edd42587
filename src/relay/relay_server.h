#pragma once

// RelayServer: lockout-relay's listener, on the one event layer (net::ConnectionServer, Asio).
// Accepts connections on a vsock, tcp or unix endpoint; `io_threads` threads do all socket I/O
// without blocking, and the requests themselves (RelayService::Handle: IMDS and Secrets Manager
// calls that may block for seconds) run on a bounded pool of `worker_threads` (common/
// blocking_pool.h), whose results are posted back to the connection. So a slow or silent peer, or
// a slow upstream, stalls nobody else's I/O.
//
// Limits. At most max_connections are open; past the cap a new connection gets
// {"error": "relay busy"} (written without waiting) and is closed, and "relay_connection_refused"
// is logged at most once per 10 s with a count (such connections are not in
// lockout_relay_errors_total: net::ConnectionServer does not report refusals to its owner). At most
// worker_threads + worker_queue requests are accepted and unanswered across all connections; a
// request beyond that is answered {"error": "relay busy"} at once and the connection stays usable.
// A connection reads nothing while its request is being handled or its reply written, so it holds
// at most one request (max_request_size), one read chunk and one reply. When accept fails (out of
// descriptors or memory) the server stops accepting for 100 ms, doubling to 1 s, and logs
// "relay_accept_failed" at most once per 10 s (net/accept_backoff.h) instead of spinning.
//
// Per connection: frames are read with net::FrameDecoder (v1 "$$$" or v2 length-prefixed, at
// most max_request_size bytes each, or max_audit_request_size for an append_audit: see
// RelayServerOptions; an oversized frame gets {"error": "request too large"}) and answered in order
// by RelayService, so both the seed's one-request-per-connection client and a client sending
// several requests work. Failures below the protocol get {"error": "bad request"} (in the failed
// frame's kind: v2 once its first byte, 0x00, is in; v1 for a v1 frame and for garbage whose
// framing is unknown) and the connection is closed: garbage or an oversized frame (at once), a
// peer that closed its write side mid-frame, a frame not complete within read_timeout. A connection idle between frames for
// read_timeout is closed silently (the timer restarts only with a reply, so bytes trickled without
// completing a frame do not keep a connection). A reply not written within write_timeout closes the
// connection. Before closing after an error the server stops writing and drains (at most 500 ms and
// 1 MiB) what the peer still sends, so the peer reads the error reply instead of a connection
// reset. Deadlines are checked every sweep_interval against `clock` (tests advance a FakeClock).
//
// Thread-safety: Start/Stop from one thread. Stop is idempotent and also run by the destructor.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/common/blocking_pool.h"
#include "src/common/clock.h"
#include "src/net/connection_server.h"
#include "src/net/endpoint.h"
#include "src/relay/relay_metrics.h"
#include "src/relay/relay_protocol.h"
#include "src/relay/relay_service.h"

namespace lockout::relay {

struct RelayServerOptions {
  net::Endpoint listen = net::Endpoint::Vsock(net::kVsockCidAny, 5011);
  // The largest request payload, for every op but append_audit.
  size_t max_request_size = kMaxRequestSize;
  // The largest append_audit payload (lockout-relay --audit-log: kMaxAuditRequestSize); 0: held
  // to max_request_size too. A frame over max_request_size must start with kAppendAuditPrefix,
  // which is checked as its bytes arrive.
  size_t max_audit_request_size = 0;
  // Deadline for one frame (and for idling between frames), counted from the previous reply.
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  int max_connections = 64;
  int backlog = 128;
  // Threads doing the socket I/O.
  int io_threads = 1;
  // Threads running requests (upstream calls), and how many more requests may wait for one.
  int worker_threads = 8;
  size_t worker_queue = 64;
  // Source of time for the deadlines above (not owned; must outlive the server), and how often
  // they are checked.
  const Clock* clock = &Clock::Real();
  absl::Duration sweep_interval = absl::Milliseconds(250);
};

class RelayServer final {
 public:
  // `service` and `metrics` must not be null and must outlive the server.
  RelayServer(RelayService* service, RelayMetrics* metrics, RelayServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Binds and starts serving. Errors from net::Listen (Unavailable for an address in use or a
  // host without vsock, InvalidArgument for an unusable endpoint); InvalidArgument for bad
  // options; FailedPrecondition if already started.
  absl::Status Start();
  // What the listener is bound to (tcp port 0 resolved). Valid after a successful Start.
  const net::Endpoint& local_endpoint() const;
  // Connections open now (0 before Start and after Stop).
  int connections() const;
  // Stops accepting, closes every connection, waits for requests being handled.
  void Stop();

 private:
  friend class RelayConnection;

  RelayService* service_;
  RelayMetrics* metrics_;
  RelayServerOptions options_;
  std::atomic<uint64_t> next_request_id_{1};
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<net::ConnectionServer> server_;
  bool started_ = false;
};

}  // namespace lockout::relay
