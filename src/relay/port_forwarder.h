#pragma once

// PortForwarder: `lockout-relay --forward LISTEN=TARGET`, a byte-for-byte forwarder from a port on
// the parent (e.g. tcp://0.0.0.0:5010) to the enclave's port (e.g. vsock://16:5010), so clients
// off the instance reach the enclave. It runs on the one event layer (net::ConnectionServer,
// Boost.Asio) and never parses what it carries: the enclave authenticates requests itself
// (docs/PROTOCOL.md, "Authenticated requests"), so the forwarder can read them but cannot forge,
// alter or replay one without the enclave refusing it (docs/SECURITY.md).
//
// Per accepted client: connect to TARGET (within connect_timeout; an unreachable target closes
// the client at once, counted as a refusal), then copy both directions. Each direction holds one
// buffer of buffer_size bytes: a read is issued only once the previous chunk has been written to
// the other side, so a peer that does not read stops the forwarder reading from the other peer
// (back-pressure through the kernel's socket buffers) and a connection never holds more than
// 2 × buffer_size. End of stream in one direction is passed on as a half-close (shutdown of the
// write side) after the buffered bytes; the connection ends when both directions have ended, on
// any error (reset), or when no byte moved either way for idle_timeout. At most max_connections
// clients are served at once; one beyond is closed without a byte written (a forwarder adds
// nothing to the stream). Deadlines are checked every sweep_interval against `clock`.
//
// Metrics (ForwardMetrics, appended to the relay's /metrics):
//   lockout_relay_forward_connections_active                gauge
//   lockout_relay_forward_connections_total                 counter: clients accepted
//   lockout_relay_forward_bytes_total{direction}            counter: to_target, to_client
//   lockout_relay_forward_refused_total{reason}             counter: max_connections,
//                                                            target_unreachable
//   lockout_relay_forward_closed_total{reason}              counter: done, idle_timeout, error,
//                                                            target_unreachable, stopped
//
// Thread-safety: Start/Stop from one thread; Stop is idempotent and run by the destructor.
// ForwardMetrics is thread-safe.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/net/connection_server.h"
#include "src/net/endpoint.h"
#include "src/net/socket.h"

namespace lockout::relay {

// What --forward takes: "LISTEN=TARGET".
struct ForwardSpec {
  net::Endpoint listen = *net::Endpoint::Parse("tcp://0.0.0.0:5010");
  net::Endpoint target = net::Endpoint::Vsock(16, 5010);
};

// Parses "LISTEN=TARGET": LISTEN a tcp:// or unix:// endpoint on this host (tcp port 0: any free
// port), TARGET a vsock://CID:PORT (CID not ANY), tcp://HOST:PORT or unix:///PATH endpoint with a
// port other than 0. InvalidArgument naming the part that is wrong.
absl::StatusOr<ForwardSpec> ParseForwardSpec(std::string_view spec);

// Counters of one forwarder. Thread-safe.
class ForwardMetrics final {
 public:
  void Opened() {
    active_.fetch_add(1, std::memory_order_relaxed);
    total_.fetch_add(1, std::memory_order_relaxed);
  }
  void Closed(std::string_view reason);
  void BytesToTarget(uint64_t n) { to_target_.fetch_add(n, std::memory_order_relaxed); }
  void BytesToClient(uint64_t n) { to_client_.fetch_add(n, std::memory_order_relaxed); }
  void RefusedFull() { refused_full_.fetch_add(1, std::memory_order_relaxed); }
  void RefusedUnreachable() { refused_unreachable_.fetch_add(1, std::memory_order_relaxed); }

  int64_t active() const { return active_.load(); }
  uint64_t total() const { return total_.load(); }
  uint64_t bytes_to_target() const { return to_target_.load(); }
  uint64_t bytes_to_client() const { return to_client_.load(); }
  uint64_t refused_full() const { return refused_full_.load(); }
  uint64_t refused_unreachable() const { return refused_unreachable_.load(); }
  uint64_t closed_idle() const { return closed_idle_.load(); }
  uint64_t closed_done() const { return closed_done_.load(); }
  uint64_t closed_error() const { return closed_error_.load(); }
  uint64_t closed_unreachable() const { return closed_unreachable_.load(); }
  uint64_t closed_stopped() const { return closed_stopped_.load(); }

  // The Prometheus text exposition (version 0.0.4) of the counters above.
  std::string RenderPrometheus() const;

 private:
  std::atomic<int64_t> active_{0};
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> to_target_{0};
  std::atomic<uint64_t> to_client_{0};
  std::atomic<uint64_t> refused_full_{0};
  std::atomic<uint64_t> refused_unreachable_{0};
  std::atomic<uint64_t> closed_done_{0};
  std::atomic<uint64_t> closed_idle_{0};
  std::atomic<uint64_t> closed_error_{0};
  std::atomic<uint64_t> closed_unreachable_{0};
  std::atomic<uint64_t> closed_stopped_{0};
};

struct PortForwarderOptions {
  ForwardSpec spec;
  int max_connections = 256;
  // Per direction; a connection holds at most twice this.
  size_t buffer_size = 64 * 1024;
  absl::Duration connect_timeout = absl::Seconds(5);
  // A connection on which no byte moved either way for this long is closed.
  absl::Duration idle_timeout = absl::Seconds(300);
  int io_threads = 1;
  int backlog = 128;
  const Clock* clock = &Clock::Real();
  absl::Duration sweep_interval = absl::Milliseconds(250);
};

class PortForwarder final {
 public:
  // `metrics` must not be null and must outlive the forwarder.
  PortForwarder(PortForwarderOptions options, ForwardMetrics* metrics);
  ~PortForwarder();
  PortForwarder(const PortForwarder&) = delete;
  PortForwarder& operator=(const PortForwarder&) = delete;

  // Resolves the target (tcp: once, now), binds the listener and starts serving. Errors:
  // InvalidArgument for bad options or an unresolvable target, net::Listen's errors,
  // FailedPrecondition if already started.
  absl::Status Start();
  // The bound listener (tcp port 0 resolved). Valid after a successful Start.
  const net::Endpoint& local_endpoint() const;
  // Clients connected now.
  int connections() const;
  // Bytes the open connections hold in their buffers now (at most 2 × buffer_size each).
  size_t memory_usage() const;
  // Stops accepting and closes every connection (both sides).
  void Stop();

 private:
  friend class ForwardConnection;

  PortForwarderOptions options_;
  ForwardMetrics* metrics_;
  std::vector<net::SocketAddress> target_addresses_;
  std::unique_ptr<net::ConnectionServer> server_;
  bool started_ = false;
};

}  // namespace lockout::relay
