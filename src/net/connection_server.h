#pragma once

// ConnectionServer: the one event layer lockout's servers run on (Boost.Asio), and the one owner
// of accepted connections' lifetimes. The enclave's signing server, the relay and the local NSM
// service run on it.
//
// A server gives it a bound net::Listener and a factory that turns an accepted socket into a
// Connection. The server:
//   * runs `threads` threads on one io_context. Each connection's socket is bound to its own
//     strand, so a connection's handlers never run concurrently; work a connection posts to
//     executor() (not its strand) runs on whichever thread is free: this is how one pipelined
//     connection's requests are spread over every worker;
//   * accepts with the rules of net::AcceptNow (aborted connections skipped) and net::AcceptBackoff
//     (out of descriptors or memory: stop accepting for a growing pause, one log line per 10 s);
//   * caps open connections at `max_connections`: past the cap a new connection is refused
//     (`refusal_reply` written without waiting, then closed; one log line per 10 s with a count) or
//     the connection idle the longest is evicted (`when_full`);
//   * calls every connection's Sweep(now) every `sweep_interval`, `now` from the injected clock, so
//     timeouts are deadlines checked against a Clock that tests advance instead of sleeping;
//   * holds every connection (shared_ptr, by id) until the connection calls Close(); Stop() closes
//     all that remain and joins the threads. Asynchronous handlers hold shared_from_this(), so a
//     closed connection lives exactly until its last pending handler has run.
//
// Lifetimes: whatever the connections refer to (a request handler, a memory budget) must outlive
// the ConnectionServer; pending handlers, and with them closed connections, are destroyed with it.
//
// Thread-safety: Start/Stop from one thread (Stop is idempotent and run by the destructor); the
// accessors, Snapshot and Close(id) from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/generic/stream_protocol.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/posix/stream_descriptor.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "src/common/clock.h"
#include "src/net/accept_backoff.h"
#include "src/net/socket.h"

namespace lockout::net {

using StreamProtocol = boost::asio::generic::stream_protocol;
using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
// A connection's socket; its executor is the connection's strand.
using StreamSocket = boost::asio::basic_stream_socket<StreamProtocol, Strand>;

class ConnectionServer;

// The reason an evicted connection's OnClosed receives.
inline constexpr std::string_view kEvictedReason = "evicted: longest idle";

// One accepted connection. Subclasses implement the protocol; the base owns the socket, the id and
// the link to the server. Everything except id(), memory_usage() and last_activity() runs on the
// connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(StreamSocket socket);
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t id() const { return id_; }
  StreamSocket& socket() { return socket_; }
  Strand strand() { return socket_.get_executor(); }
  bool closed() const { return closed_; }

  // Ends the connection: closes the socket (pending operations complete with operation_aborted),
  // runs OnClosed(why) and makes the server forget it. Idempotent. Strand only.
  void Close(std::string_view why);

  // What the connection holds in memory (buffers, requests in flight), for budgets. Any thread.
  virtual size_t memory_usage() const { return 0; }
  // When the connection last did something useful (a complete request), for eviction;
  // InfiniteFuture while it must not be evicted (a request in progress). Any thread.
  virtual absl::Time last_activity() const { return absl::InfinitePast(); }

 protected:
  // Starts the connection's I/O. Called once, on the strand, once the server holds it.
  virtual void Start() = 0;
  // Periodic deadline check; `now` is the server's clock. Strand only.
  virtual void Sweep(absl::Time /*now*/) {}
  // After the socket is closed, before the server forgets the connection. Strand only.
  virtual void OnClosed(std::string_view /*why*/) {}

  // The server (valid while the connection is open).
  ConnectionServer& server() { return *server_; }

 private:
  friend class ConnectionServer;

  StreamSocket socket_;
  ConnectionServer* server_ = nullptr;
  uint64_t id_ = 0;
  bool closed_ = false;
};

struct ConnectionServerOptions {
  // Threads running the io_context (connections' I/O and the work posted to executor()).
  int threads = 1;
  int max_connections = 1024;
  enum class WhenFull {
    kRefuse,       // the new connection gets refusal_reply (if any) and is closed
    kEvictIdlest,  // the connection with the oldest last_activity() is closed to make room
                   // (reason kEvictedReason); one reporting InfiniteFuture (busy: mid-request) is
                   // never chosen, and if all are busy the newcomer is refused instead
  };
  WhenFull when_full = WhenFull::kRefuse;
  std::string refusal_reply{};
  // Called (on the accept path, one call at a time) for every connection refused because the
  // server is full, so a server's metrics can count what its log only summarises.
  std::function<void()> on_refused{};
  absl::Duration sweep_interval = absl::Milliseconds(250);
  // Source of `now` for Sweep (not owned; must outlive the server).
  const Clock* clock = &Clock::Real();
  // Prefix of log events: "<name>_accept_failed", "<name>_connection_refused".
  std::string name = "server";
  // TCP connections get TCP_NODELAY (request/reply protocols); set once on the listener, whose
  // accepted sockets inherit it.
  bool tcp_nodelay = true;
};

class ConnectionServer final {
 public:
  // Makes a Connection for an accepted socket; nullptr refuses it (the socket is closed).
  using Factory = std::function<std::shared_ptr<Connection>(StreamSocket socket)>;

  // Starts accepting on `listener` and the threads. Errors: InvalidArgument (options).
  static absl::StatusOr<std::unique_ptr<ConnectionServer>> Start(Listener listener, Factory factory,
                                                                 ConnectionServerOptions options);
  ~ConnectionServer();
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  // Stops accepting, stops the threads, then closes every connection still open (OnClosed runs
  // on the calling thread). Idempotent. Not from one of the server's threads.
  void Stop();

  const Endpoint& local_endpoint() const { return listener_.local_endpoint(); }
  // Runs work on any of the server's threads (not a strand).
  boost::asio::io_context::executor_type executor() { return io_.get_executor(); }
  const Clock& clock() const { return *options_.clock; }
  const ConnectionServerOptions& options() const { return options_; }

  // Connections open now.
  int connections() const;
  // The open connections (for budget relief); each must be touched on its own strand.
  std::vector<std::shared_ptr<Connection>> Snapshot() const;
  // Closes connection `id` on its strand, if still open.
  void Close(uint64_t id, std::string why);

 private:
  friend class Connection;  // Forget()
  ConnectionServer(Listener listener, Factory factory, ConnectionServerOptions options);
  void WaitForConnection();
  void AcceptReady();
  void PauseAccepting(const absl::Status& error);
  void Admit(UniqueFd fd);
  void Refuse(UniqueFd fd);
  // Closes the connection idle the longest; false if every connection is busy.
  bool EvictIdlest();
  void ScheduleSweep();
  void Forget(uint64_t id);

  // Declared first: destroyed last, after every socket and timer bound to it.
  boost::asio::io_context io_;
  Listener listener_;
  Factory factory_;
  ConnectionServerOptions options_;
  StreamProtocol protocol_;
  bool listener_nodelay_ = false;  // accepted TCP sockets inherit TCP_NODELAY from the listener
  // Waits for the listener to become readable (the listener's fd, not owned: Listener owns it).
  std::unique_ptr<boost::asio::posix::stream_descriptor> listen_watch_;
  boost::asio::steady_timer accept_pause_;
  boost::asio::steady_timer sweep_timer_;
  AcceptBackoff accept_backoff_;  // accept path only (one accept wait at a time)
  uint64_t refused_ = 0;          // accept path only: refused since the last log line
  absl::Time refusal_logged_ = absl::InfinitePast();
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> next_id_{1};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::net
