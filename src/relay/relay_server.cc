#include "src/relay/relay_server.h"

// clang-format off
#include <sys/socket.h>
#include <linux/vm_sockets.h>
// clang-format on
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/logger.h"
#include "src/net/frame_decoder.h"

namespace lockout::relay {
namespace {

constexpr absl::Duration kAcceptTick = absl::Milliseconds(200);
// After an error reply: how long and how much to drain before closing (see the header).
constexpr absl::Duration kDrainTime = absl::Milliseconds(500);
constexpr size_t kDrainBytes = size_t{1} << 20;

// "tcp://127.0.0.1:41234", "vsock://20:1037", "unix" — for logs.
std::string PeerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  switch (addr.ss_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      char buf[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      return absl::StrCat("tcp://", buf, ":", ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      char buf[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
      return absl::StrCat("tcp://[", buf, "]:", ntohs(in6->sin6_port));
    }
    case AF_VSOCK: {
      const auto* vm = reinterpret_cast<const sockaddr_vm*>(&addr);
      return absl::StrCat("vsock://", vm->svm_cid, ":", vm->svm_port);
    }
    case AF_UNIX:
      return "unix";
    default:
      return "unknown";
  }
}

// Stops writing, then reads and discards what the peer still sends (bounded in time and bytes),
// so that closing does not turn unread input into a reset that destroys our error reply.
void DrainBeforeClose(int fd) {
  (void)net::ShutdownWrite(fd);
  const absl::Time deadline = absl::Now() + kDrainTime;
  std::array<char, 4096> buf;
  size_t drained = 0;
  while (drained < kDrainBytes) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return;
    const ssize_t n = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

}  // namespace

RelayServer::RelayServer(RelayService* service, RelayMetrics* metrics, RelayServerOptions options)
    : service_(service), metrics_(metrics), options_(std::move(options)) {}

RelayServer::~RelayServer() { Stop(); }

absl::Status RelayServer::Start() {
  if (listener_.has_value()) return absl::FailedPreconditionError("relay server already started");
  absl::StatusOr<net::Listener> listener = net::Listen(options_.listen, options_.backlog);
  if (!listener.ok()) return listener.status();
  listener_ = *std::move(listener);
  stopping_ = false;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

const net::Endpoint& RelayServer::local_endpoint() const { return listener_->local_endpoint(); }

void RelayServer::Stop() {
  stopping_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    absl::MutexLock lock(&mu_);
    // Wake every connection thread blocked in poll(): it sees EOF (or an error) and returns.
    for (auto& c : connections_) {
      if (c->fd.valid()) shutdown(c->fd.get(), SHUT_RDWR);
    }
    connections.swap(connections_);
  }
  for (auto& c : connections) {
    if (c->thread.joinable()) c->thread.join();
  }
  listener_.reset();
}

void RelayServer::ReapFinished() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void RelayServer::PauseAccepting(const absl::Status& error) {
  const net::AcceptBackoff::Decision d = accept_backoff_.OnFailure(absl::Now());
  if (d.log) {
    LogWarn("relay_accept_failed", {{"detail", std::string(error.message())},
                                    {"failures", d.failures_since_log},
                                    {"pause_ms", absl::ToInt64Milliseconds(d.pause)}});
  }
  // In ticks, so Stop() is not held up by a long pause.
  while (!stopping_.load() && absl::Now() < d.resume_at) {
    absl::SleepFor(std::min(kAcceptTick, d.resume_at - absl::Now()));
  }
}

void RelayServer::AcceptLoop() {
  while (!stopping_.load()) {
    absl::StatusOr<UniqueFd> accepted = net::Accept(*listener_, kAcceptTick);
    if (!accepted.ok()) {
      // e.g. EMFILE: the connection stays queued and the listener readable, so accepting again
      // at once would spin (net/accept_backoff.h).
      if (!absl::IsDeadlineExceeded(accepted.status())) PauseAccepting(accepted.status());
      absl::MutexLock lock(&mu_);
      ReapFinished();
      continue;
    }
    accept_backoff_.OnSuccess();
    absl::MutexLock lock(&mu_);
    ReapFinished();
    if (stopping_.load()) break;
    if (connections_.size() >= static_cast<size_t>(options_.max_connections)) {
      SecretBytes busy = service_->ConnectionError(kKindBusy, kErrorBusy);
      (void)net::WriteAll(accepted->get(), busy.Reveal(), absl::Milliseconds(100));
      LogWarn("relay_connection_rejected", {{"peer", PeerName(accepted->get())},
                                            {"reason", "busy"},
                                            {"max_connections", options_.max_connections}});
      continue;  // closes the socket
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = *std::move(accepted);
    Connection* raw = connection.get();
    connections_.push_back(std::move(connection));
    metrics_->ConnectionOpened();
    raw->thread = std::thread([this, raw] { Serve(raw); });
  }
}

void RelayServer::Serve(Connection* connection) {
  const int fd = connection->fd.get();  // stays open until this function closes it below
  const std::string peer = PeerName(fd);
  absl::StatusOr<net::FrameDecoder> decoder = net::FrameDecoder::Create(options_.max_request_size);
  bool drain = false;
  while (decoder.ok() && !stopping_.load()) {
    absl::StatusOr<std::optional<net::Frame>> frame =
        net::ReadFrame(fd, *decoder, options_.read_timeout);
    if (frame.ok() && !frame->has_value()) break;  // peer closed between frames
    if (frame.ok()) {
      SecretBytes reply = service_->Handle(**frame, next_request_id_.fetch_add(1), peer);
      absl::Status written = net::WriteAll(fd, reply.Reveal(), options_.write_timeout);
      if (!written.ok()) {
        metrics_->RecordError(kKindWrite);
        LogWarn("relay_connection_error",
                {{"peer", peer}, {"kind", kKindWrite}, {"detail", std::string(written.message())}});
        break;
      }
      continue;
    }
    const absl::Status& status = frame.status();
    if (stopping_.load()) break;
    if (absl::IsUnavailable(status)) break;  // reset by peer: nobody to answer
    std::string_view kind = kKindFraming;
    if (absl::IsDeadlineExceeded(status)) {
      if (!decoder->InFrame()) {
        LogDebug("relay_connection_idle", {{"peer", peer}});
        break;
      }
      kind = kKindTimeout;
    }
    LogWarn("relay_connection_error",
            {{"peer", peer}, {"kind", kind}, {"detail", std::string(status.message())}});
    SecretBytes reply = service_->ConnectionError(kind, kErrorBadRequest);
    (void)net::WriteAll(fd, reply.Reveal(), options_.write_timeout);
    drain = true;
    break;
  }
  if (drain) DrainBeforeClose(fd);
  {
    absl::MutexLock lock(&mu_);
    connection->fd.reset();
  }
  metrics_->ConnectionClosed();
  connection->done = true;
}

}  // namespace lockout::relay
