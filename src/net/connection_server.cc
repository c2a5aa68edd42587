#include "src/net/connection_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/post.hpp"
#include "src/common/logger.h"

namespace lockout::net {
namespace {

namespace asio = boost::asio;

// Connections accepted per readiness of the listener before other handlers get a turn.
constexpr int kMaxAcceptsPerTurn = 64;
// Refused connections are logged at most this often, with a count.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration()));
}

}  // namespace

Connection::Connection(StreamSocket socket) : socket_(std::move(socket)) {}

Connection::~Connection() = default;

void Connection::Close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(StreamProtocol::socket::shutdown_both, ignored);
  socket_.close(ignored);
  OnClosed(why);
  // Forget() drops the server's reference; the caller's (a handler's shared_from_this, or the
  // server's own copy during Stop) keeps this object alive until the call returns.
  if (server_ != nullptr) server_->Forget(id_);
}

ConnectionServer::ConnectionServer(Listener listener, Factory factory,
                                   ConnectionServerOptions options)
    : listener_(std::move(listener)),
      factory_(std::move(factory)),
      options_(std::move(options)),
      protocol_(AF_INET, 0),
      accept_pause_(io_),
      sweep_timer_(io_) {}

absl::StatusOr<std::unique_ptr<ConnectionServer>> ConnectionServer::Start(
    Listener listener, Factory factory, ConnectionServerOptions options) {
  if (options.threads < 1 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 1..1024, not ", options.threads));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("max_connections must be at least 1");
  }
  if (options.sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sweep interval must be positive");
  }
  if (options.clock == nullptr || factory == nullptr) {
    return absl::InvalidArgumentError("a clock and a connection factory are required");
  }
  std::unique_ptr<ConnectionServer> server(
      new ConnectionServer(std::move(listener), std::move(factory), std::move(options)));
  // The listener's address family decides the protocol of accepted sockets (tcp may be IPv6).
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(server->listener_.fd(), reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
    server->protocol_ = StreamProtocol(bound.ss_family, 0);
  }
  // Linux gives accepted TCP sockets the listener's TCP_NODELAY: set once here, it saves a system
  // call per connection (Admit sets it per connection where the listener refused it).
  if (server->options_.tcp_nodelay &&
      (server->protocol_.family() == AF_INET || server->protocol_.family() == AF_INET6)) {
    const int one = 1;
    server->listener_nodelay_ =
        setsockopt(server->listener_.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
  }
  // Watches the listener for readability only; Listener keeps owning the descriptor (released
  // from the watcher before it is destroyed).
  server->listen_watch_ =
      std::make_unique<asio::posix::stream_descriptor>(server->io_, server->listener_.fd());
  server->WaitForConnection();
  server->ScheduleSweep();
  for (int i = 0; i < server->options_.threads; ++i) {
    server->threads_.emplace_back([s = server.get()] {
      // A handler that throws is a bug; log it and keep serving rather than die silently.
      for (;;) {
        try {
          s->io_.run();
          return;
        } catch (const std::exception& e) {
          LogError(absl::StrCat(s->options_.name, "_handler_exception"), {{"error", e.what()}});
        }
      }
    });
  }
  return server;
}

ConnectionServer::~ConnectionServer() { Stop(); }

void ConnectionServer::Stop() {
  if (stopped_.exchange(true)) return;
  io_.stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  boost::system::error_code ignored;
  accept_pause_.cancel();
  sweep_timer_.cancel();
  if (listen_watch_ != nullptr) {
    listen_watch_->release();  // Listener owns the descriptor
    listen_watch_.reset();
  }
  // The threads are gone: closing on this thread cannot race a handler.
  std::vector<std::shared_ptr<Connection>> open = Snapshot();
  for (const std::shared_ptr<Connection>& c : open) c->Close("server stopping");
  absl::MutexLock lock(&mu_);
  connections_.clear();
}

int ConnectionServer::connections() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(connections_.size());
}

std::vector<std::shared_ptr<Connection>> ConnectionServer::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections_.size());
  for (const auto& [id, c] : connections_) out.push_back(c);
  return out;
}

void ConnectionServer::Close(uint64_t id, std::string why) {
  std::shared_ptr<Connection> c;
  {
    absl::MutexLock lock(&mu_);
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    c = it->second;
  }
  asio::post(c->strand(), [c, why = std::move(why)] { c->Close(why); });
}

void ConnectionServer::Forget(uint64_t id) {
  std::shared_ptr<Connection> last;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  last = std::move(it->second);
  connections_.erase(it);
}

void ConnectionServer::WaitForConnection() {
  listen_watch_->async_wait(asio::posix::stream_descriptor::wait_read,
                            [this](const boost::system::error_code& ec) {
                              if (ec == asio::error::operation_aborted || stopped_) return;
                              AcceptReady();
                            });
}

void ConnectionServer::AcceptReady() {
  for (int i = 0; i < kMaxAcceptsPerTurn; ++i) {
    absl::StatusOr<std::optional<UniqueFd>> accepted = AcceptNow(listener_);
    if (!accepted.ok()) {
      PauseAccepting(accepted.status());
      return;
    }
    if (!accepted->has_value()) break;
    accept_backoff_.OnSuccess();
    Admit(**std::move(accepted));
  }
  WaitForConnection();
}

void ConnectionServer::PauseAccepting(const absl::Status& error) {
  // The listener stays readable while accept fails (the connection stays queued): waiting on it
  // again at once would spin, so wait out the pause first.
  const AcceptBackoff::Decision d = accept_backoff_.OnFailure(absl::Now());
  if (d.log) {
    LogWarn(absl::StrCat(options_.name, "_accept_failed"),
            {{"error", std::string(error.message())},
             {"failures", d.failures_since_log},
             {"pause_ms", absl::ToInt64Milliseconds(d.pause)}});
  }
  accept_pause_.expires_after(ToChrono(d.pause));
  accept_pause_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    WaitForConnection();
  });
}

void ConnectionServer::Admit(UniqueFd fd) {
  if (connections() >= options_.max_connections) {
    if (options_.when_full == ConnectionServerOptions::WhenFull::kRefuse) {
      Refuse(std::move(fd));
      return;
    }
    if (!EvictIdlest()) {
      Refuse(std::move(fd));
      return;
    }
  }
  if (options_.tcp_nodelay && !listener_nodelay_ &&
      (protocol_.family() == AF_INET || protocol_.family() == AF_INET6)) {
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  StreamSocket socket(asio::make_strand(io_));
  boost::system::error_code ec;
  socket.assign(protocol_, fd.get(), ec);
  if (ec) {
    LogWarn(absl::StrCat(options_.name, "_accept_failed"), {{"error", ec.message()}});
    return;  // `fd` still owns the descriptor and closes it
  }
  fd.release();
  std::shared_ptr<Connection> connection = factory_(std::move(socket));
  if (connection == nullptr) return;  // refused by the server: its socket is closed with it
  connection->server_ = this;
  connection->id_ = next_id_.fetch_add(1);
  {
    absl::MutexLock lock(&mu_);
    connections_.emplace(connection->id_, connection);
  }
  asio::dispatch(connection->strand(), [connection] { connection->Start(); });
}

void ConnectionServer::Refuse(UniqueFd fd) {
  if (!options_.refusal_reply.empty()) {
    // Best effort, never waiting: a peer that does not read just misses the reason.
    [[maybe_unused]] ssize_t n = send(fd.get(), options_.refusal_reply.data(),
                                      options_.refusal_reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  ++refused_;
  if (options_.on_refused) options_.on_refused();
  const absl::Time now = absl::Now();
  if (now - refusal_logged_ >= kRefusalLogInterval) {
    LogWarn(absl::StrCat(options_.name, "_connection_refused"),
            {{"reason", "max_connections"},
             {"max_connections", options_.max_connections},
             {"refused", refused_}});
    refused_ = 0;
    refusal_logged_ = now;
  }
}

bool ConnectionServer::EvictIdlest() {
  std::shared_ptr<Connection> idlest;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, c] : connections_) {
      const absl::Time last = c->last_activity();
      if (last == absl::InfiniteFuture()) continue;  // busy now: never evicted
      if (idlest == nullptr || last < idlest->last_activity()) idlest = c;
    }
    if (idlest == nullptr) return false;
    // Forgotten now, so the newcomer fits at once; the close itself runs on its strand.
    connections_.erase(idlest->id_);
  }
  asio::post(idlest->strand(), [idlest] { idlest->Close(kEvictedReason); });
  return true;
}

void ConnectionServer::ScheduleSweep() {
  sweep_timer_.expires_after(ToChrono(options_.sweep_interval));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    const absl::Time now = options_.clock->Now();
    for (const std::shared_ptr<Connection>& c : Snapshot()) {
      asio::post(c->strand(), [c, now] {
        if (!c->closed()) c->Sweep(now);
      });
    }
    ScheduleSweep();
  });
}

}  // namespace lockout::net
