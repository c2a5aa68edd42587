#include "src/enclave/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/net/socket.h"

namespace lockout::enclave {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr int kMaxAcceptsPerTurn = 64;
constexpr absl::Duration kSweepInterval = absl::Milliseconds(250);
// After a v1 reply (or an error) we half-close and drain what the peer still sends for a moment,
// so that closing with unread input does not reset the connection before the peer read the reply.
constexpr absl::Duration kDrainTimeout = absl::Seconds(2);
constexpr uint64_t kListenerTag = 0;
constexpr uint64_t kWakeTag = 1;

struct Conn {
  net::UniqueFd fd;
  net::FrameDecoder decoder;
  uint64_t id = 0;
  std::string out;
  size_t out_off = 0;
  uint32_t interest = 0;  // registered epoll events
  bool eof = false;
  bool close_after_flush = false;
  bool draining = false;
  bool closed = false;
  bool pending = false;  // in the worker's pending list
  std::optional<net::FrameKind> last_kind;
  int first_byte = -1;
  absl::Time last_activity;
  std::optional<absl::Time> frame_started;
  std::optional<absl::Time> write_blocked_since;
  absl::Time drain_started;

  size_t pending_output() const { return out.size() - out_off; }
};

struct Worker {
  int index = 0;
  net::UniqueFd epoll;
  net::UniqueFd wake;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns;
  std::vector<Conn*> pending;
  std::vector<std::unique_ptr<Conn>> graveyard;
  WorkerState state;
  std::array<uint8_t, kReadChunk> buf{};
  std::thread thread;
};

}  // namespace

int AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

struct Server::Impl {
  Impl(ServerOptions o, RequestHandler& h, net::Listener l)
      : options(std::move(o)), handler(h), listener(std::move(l)) {}

  ServerOptions options;
  RequestHandler& handler;
  net::Listener listener;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<int> connections{0};
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> stopping{false};
  bool stopped = false;

  void Run(Worker& w);
  void AcceptSome(Worker& w, absl::Time now);
  void OnReadable(Worker& w, Conn& c, absl::Time now);
  void Process(Worker& w, Conn& c, absl::Time now);
  void Flush(Worker& w, Conn& c, absl::Time now);
  void UpdateInterest(Worker& w, Conn& c);
  void Close(Worker& w, Conn& c, std::string_view why);
  void Sweep(Worker& w, absl::Time now);
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      RequestHandler& handler) {
  if (options.threads < 1 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 1..1024, not ", options.threads));
  }
  if (options.max_frames_per_turn < 1 || options.max_connections < 1) {
    return absl::InvalidArgumentError("max_frames_per_turn and max_connections must be >= 1");
  }
  // Validates the size limit once; every connection's decoder is made the same way.
  absl::StatusOr<net::FrameDecoder> probe = net::FrameDecoder::Create(options.max_frame_size);
  if (!probe.ok()) return probe.status();

  absl::StatusOr<net::Listener> listener = net::Listen(options.listen, /*backlog=*/1024);
  if (!listener.ok()) return listener.status();
  auto impl = std::make_unique<Impl>(options, handler, *std::move(listener));

  for (int i = 0; i < options.threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->epoll.reset(epoll_create1(EPOLL_CLOEXEC));
    w->wake.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!w->epoll.valid() || !w->wake.valid()) {
      return absl::InternalError(absl::StrCat("epoll/eventfd: ", std::strerror(errno)));
    }
    epoll_event lev{};
    // Every worker waits on the listener; EPOLLEXCLUSIVE wakes one (or few) per connection.
    lev.events = EPOLLIN | EPOLLEXCLUSIVE;
    lev.data.u64 = kListenerTag;
    epoll_event wev{};
    wev.events = EPOLLIN;
    wev.data.u64 = kWakeTag;
    if (epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, impl->listener.fd(), &lev) != 0 ||
        epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, w->wake.get(), &wev) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
    }
    impl->workers.push_back(std::move(w));
  }
  Impl* raw = impl.get();
  for (auto& w : impl->workers) {
    Worker* wp = w.get();
    w->thread = std::thread([raw, wp] { raw->Run(*wp); });
  }
  LogInfo("server_listening", {{"listen", impl->listener.local_endpoint().ToString()},
                               {"threads", options.threads},
                               {"max_frame_size", options.max_frame_size}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

const net::Endpoint& Server::local_endpoint() const { return impl_->listener.local_endpoint(); }

int Server::connections() const { return impl_->connections.load(); }

void Server::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping.store(true);
  for (auto& w : impl_->workers) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(w->wake.get(), &one, sizeof(one));
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Server::Impl::Run(Worker& w) {
  std::array<epoll_event, kMaxEvents> events;
  absl::Time last_sweep = absl::Now();
  while (!stopping.load(std::memory_order_relaxed)) {
    const int timeout_ms =
        w.pending.empty() ? static_cast<int>(absl::ToInt64Milliseconds(kSweepInterval)) : 0;
    const int n = epoll_wait(w.epoll.get(), events.data(), kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) {
      LogError("epoll_wait_failed", {{"error", std::strerror(errno)}});
      break;
    }
    const absl::Time now = absl::Now();
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events[static_cast<size_t>(i)];
      if (ev.data.u64 == kListenerTag) {
        AcceptSome(w, now);
        continue;
      }
      if (ev.data.u64 == kWakeTag) continue;  // stopping is checked by the loop
      Conn& c = *static_cast<Conn*>(ev.data.ptr);
      if (c.closed) continue;
      if ((ev.events & EPOLLOUT) != 0) {
        Flush(w, c, now);
        if (!c.closed && c.pending_output() == 0 && !c.draining) Process(w, c, now);
        if (!c.closed) Flush(w, c, now);
      }
      if (!c.closed && (ev.events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0) {
        OnReadable(w, c, now);
      }
    }
    // Connections with complete frames left over from their last turn.
    std::vector<Conn*> again;
    again.swap(w.pending);
    for (Conn* c : again) {
      c->pending = false;
      if (c->closed) continue;
      Process(w, *c, now);
      if (!c->closed) Flush(w, *c, now);
    }
    if (now - last_sweep >= kSweepInterval) {
      Sweep(w, now);
      last_sweep = now;
    }
    w.graveyard.clear();
  }
  for (auto& [ptr, conn] : w.conns) {
    connections.fetch_sub(1);
    conn->closed = true;
  }
  w.conns.clear();
  w.pending.clear();
  w.graveyard.clear();
}

void Server::Impl::AcceptSome(Worker& w, absl::Time now) {
  for (int i = 0; i < kMaxAcceptsPerTurn; ++i) {
    const int fd = accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        LogWarn("accept_failed", {{"error", std::strerror(errno)}});
      }
      return;
    }
    net::UniqueFd owned(fd);
    if (connections.fetch_add(1) >= options.max_connections) {
      connections.fetch_sub(1);
      LogWarn("connection_refused",
              {{"reason", "max_connections"}, {"max_connections", options.max_connections}});
      continue;  // closed by `owned`
    }
    if (listener.local_endpoint().is_tcp()) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = std::move(owned);
    conn->decoder = *net::FrameDecoder::Create(options.max_frame_size);
    conn->id = next_id.fetch_add(1);
    conn->last_activity = now;
    conn->interest = EPOLLIN | EPOLLRDHUP;
    epoll_event ev{};
    ev.events = conn->interest;
    ev.data.ptr = conn.get();
    if (epoll_ctl(w.epoll.get(), EPOLL_CTL_ADD, conn->fd.get(), &ev) != 0) {
      connections.fetch_sub(1);
      LogWarn("epoll_add_failed", {{"error", std::strerror(errno)}});
      continue;
    }
    LogDebug("connection_open", {{"conn", conn->id}, {"worker", w.index}});
    Conn* key = conn.get();
    w.conns.emplace(key, std::move(conn));
  }
}

void Server::Impl::OnReadable(Worker& w, Conn& c, absl::Time now) {
  const ssize_t n = read(c.fd.get(), w.buf.data(), w.buf.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(w, c, "read error");
    return;
  }
  if (c.draining) {
    if (n == 0) Close(w, c, "done");
    return;  // input after the final reply is discarded
  }
  if (n == 0) {
    c.eof = true;
    Process(w, c, now);
    if (!c.closed) Flush(w, c, now);
    return;
  }
  c.last_activity = now;
  const ByteView data(w.buf.data(), static_cast<size_t>(n));
  if (c.first_byte < 0) {
    for (uint8_t b : data) {
      if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
        c.first_byte = b;
        break;
      }
    }
  }
  // A framing error is reported by Next() once the frames before it are delivered.
  [[maybe_unused]] absl::Status fed = c.decoder.Feed(data);
  Process(w, c, now);
  if (!c.closed) Flush(w, c, now);
}

void Server::Impl::Process(Worker& w, Conn& c, absl::Time now) {
  if (c.close_after_flush || c.draining) return;
  int frames = 0;
  bool drained = false;  // the decoder has no complete frame left
  while (frames < options.max_frames_per_turn && c.pending_output() < options.max_pending_output) {
    absl::StatusOr<std::optional<net::Frame>> next = c.decoder.Next();
    if (!next.ok()) {
      const net::FrameKind kind =
          c.last_kind.value_or(c.first_byte == '{' ? net::FrameKind::kV1 : net::FrameKind::kV2);
      RequestHandler::AppendFramingError(kind, next.status(), c.out);
      c.close_after_flush = true;
      return;
    }
    if (!next->has_value()) {
      drained = true;
      break;
    }
    ++frames;
    c.last_kind = (*next)->kind;
    if (handler.Handle(**next, w.state, c.out)) {
      c.close_after_flush = true;
      return;
    }
  }
  if (c.decoder.InFrame()) {
    if (!c.frame_started.has_value()) c.frame_started = now;
  } else {
    c.frame_started.reset();
  }
  if (!drained) {
    // More complete frames may be buffered: come back next turn (after other connections), or
    // once the peer has read enough of its replies (Flush re-runs Process).
    if (c.pending_output() < options.max_pending_output && !c.pending) {
      c.pending = true;
      w.pending.push_back(&c);
    }
    return;
  }
  if (c.eof) {
    absl::Status finish = c.decoder.Finish();
    if (!finish.ok()) {
      LogInfo("framing_error", {{"conn", c.id},
                                {"reason", "peer closed mid-frame"},
                                {"error", std::string(finish.message())}});
    }
    c.close_after_flush = true;
  }
}

void Server::Impl::Flush(Worker& w, Conn& c, absl::Time now) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      c.last_activity = now;
      c.write_blocked_since.reset();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.write_blocked_since.has_value()) c.write_blocked_since = now;
      break;
    }
    Close(w, c, "write error");
    return;
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
    c.write_blocked_since.reset();
    if (c.close_after_flush && !c.draining) {
      if (c.eof) {
        Close(w, c, "done");
        return;
      }
      // Half-close: the peer reads our last reply and EOF; we discard what it still sends.
      shutdown(c.fd.get(), SHUT_WR);
      c.draining = true;
      c.drain_started = now;
    }
  } else if (c.out_off > kReadChunk && c.out_off * 2 > c.out.size()) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  UpdateInterest(w, c);
}

void Server::Impl::UpdateInterest(Worker& w, Conn& c) {
  uint32_t want = 0;
  const bool backpressured = c.pending_output() >= options.max_pending_output;
  if (c.draining || (!c.eof && !c.close_after_flush && !backpressured)) {
    want |= EPOLLIN | EPOLLRDHUP;
  }
  if (c.pending_output() > 0) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = &c;
  if (epoll_ctl(w.epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) {
    Close(w, c, "epoll_ctl failed");
    return;
  }
  c.interest = want;
}

void Server::Impl::Close(Worker& w, Conn& c, std::string_view why) {
  if (c.closed) return;
  c.closed = true;
  epoll_ctl(w.epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  LogDebug("connection_close", {{"conn", c.id}, {"reason", why}});
  auto it = w.conns.find(&c);
  if (it != w.conns.end()) {
    // Destroyed at the end of the loop turn: events and the pending list may still point at it.
    w.graveyard.push_back(std::move(it->second));
    w.conns.erase(it);
    connections.fetch_sub(1);
  }
}

void Server::Impl::Sweep(Worker& w, absl::Time now) {
  std::vector<std::pair<Conn*, std::string_view>> expired;
  for (auto& [ptr, c] : w.conns) {
    if (c->draining) {
      if (now - c->drain_started > kDrainTimeout) expired.emplace_back(ptr, "done");
    } else if (c->write_blocked_since.has_value() &&
               now - *c->write_blocked_since > options.write_timeout) {
      expired.emplace_back(ptr, "write timeout");
    } else if (c->frame_started.has_value() && now - *c->frame_started > options.frame_timeout) {
      expired.emplace_back(ptr, "frame timeout");
    } else if (c->pending_output() == 0 && now - c->last_activity > options.idle_timeout) {
      expired.emplace_back(ptr, "idle timeout");
    }
  }
  for (auto& [ptr, why] : expired) {
    if (why != "done") LogInfo("connection_timeout", {{"conn", ptr->id}, {"reason", why}});
    Close(w, *ptr, why);
  }
}

}  // namespace lockout::enclave
