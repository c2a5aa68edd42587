#pragma once

// RelayServer: lockout-relay's listener. Accepts connections on a vsock, tcp or unix endpoint and
// serves each on its own thread (up to max_connections; past the cap a connection gets
// {"error": "relay busy"} and is closed), so a slow or silent peer stalls nobody else. A peer
// that holds connections open without sending is closed after read_timeout, so the cap frees
// up within that time. When accept fails (out of descriptors or memory) the loop pauses 100 ms,
// doubling to 1 s, and logs "relay_accept_failed" at most once per 10 s (net/accept_backoff.h)
// instead of spinning.
//
// Per connection: frames are read with net::FrameDecoder (v1 "$$$" or v2 length-prefixed, at
// most max_request_size bytes each) and answered in order by RelayService, so both the seed's
// one-request-per-connection client and a client sending several requests work. Failures below
// the protocol get {"error": "bad request"} and the connection is closed: garbage or an
// oversized frame (at once), a peer that closed its write side mid-frame, a frame not complete
// within read_timeout. A connection idle between frames for read_timeout is closed silently.
// Before closing after an error the server stops writing and drains (briefly, boundedly) what the
// peer still sends, so the peer reads the error reply instead of a connection reset.
//
// Thread-safety: Start/Stop from one thread. Stop is idempotent and also run by the destructor.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/net/accept_backoff.h"
#include "src/net/endpoint.h"
#include "src/net/socket.h"
#include "src/relay/relay_metrics.h"
#include "src/relay/relay_protocol.h"
#include "src/relay/relay_service.h"

namespace lockout::relay {

struct RelayServerOptions {
  net::Endpoint listen = net::Endpoint::Vsock(net::kVsockCidAny, 5011);
  size_t max_request_size = kMaxRequestSize;
  // Deadline for one frame (and for idling between frames).
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  int max_connections = 64;
  int backlog = 128;
};

class RelayServer final {
 public:
  // `service` and `metrics` must not be null and must outlive the server.
  RelayServer(RelayService* service, RelayMetrics* metrics, RelayServerOptions options);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Binds and starts accepting on a background thread. Errors from net::Listen (Unavailable for
  // an address in use or a host without vsock, InvalidArgument for an unusable endpoint);
  // FailedPrecondition if already started.
  absl::Status Start();
  // What the listener is bound to (tcp port 0 resolved). Valid after a successful Start.
  const net::Endpoint& local_endpoint() const;
  // Stops accepting, wakes and joins every connection thread.
  void Stop();

 private:
  struct Connection {
    UniqueFd fd;  // guarded by the server's mu_ once the thread runs
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void AcceptLoop();
  // After a failed accept: logs (rate-limited) and waits the back-off pause, or until Stop.
  void PauseAccepting(const absl::Status& error);
  void Serve(Connection* connection);
  void ReapFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RelayService* service_;
  RelayMetrics* metrics_;
  RelayServerOptions options_;
  std::optional<net::Listener> listener_;
  std::thread accept_thread_;
  net::AcceptBackoff accept_backoff_;  // accept thread only
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_request_id_{1};
  absl::Mutex mu_;
  std::list<std::unique_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::relay
