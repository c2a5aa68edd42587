#include "src/enclave/server.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/common/blocking_pool.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/enclave/connection_rules.h"
#include "src/net/accept_backoff.h"
#include "src/net/socket.h"

// AddressSanitizer's allocator interface (sanitizer/allocator_interface.h, absent from GCC 12's
// headers); weak, so it is null in builds without ASan.
extern "C" void __sanitizer_purge_allocator() __attribute__((weak));

namespace lockout::enclave {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxEvents = 256;
constexpr int kMaxAcceptsPerTurn = 64;
// Connections from the pending list served per loop turn, so that a turn stays short however
// many connections have work queued and new events (a fresh client) are seen promptly.
constexpr size_t kPendingPerTurn = 32;
constexpr absl::Duration kSweepInterval = absl::Milliseconds(250);
// After a v1 reply (or an error) we half-close and drain what the peer still sends for a moment,
// so that closing with unread input does not reset the connection before the peer read the reply.
constexpr absl::Duration kDrainTimeout = absl::Seconds(2);
// Refused connections (over max_connections) are logged at most this often, with a count.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);
// A reply buffer that grew past this is given back once it is sent.
constexpr size_t kKeepOutputCapacity = 64 * 1024;
// Freed connection buffers are returned to the OS (malloc_trim) once this much was released.
constexpr size_t kTrimAfterReleased = size_t{4} << 20;
// Descriptors kept for what is not a client connection (listener, epoll/eventfd, NSM, relay and
// KMS sockets, log files), plus two per worker.
constexpr int kDescriptorHeadroom = 64;
// epoll tags: connection ids start above these.
constexpr uint64_t kListenerTag = 0;
constexpr uint64_t kWakeTag = 1;
constexpr uint64_t kFirstConnectionId = 16;

struct Conn {
  explicit Conn(absl::Time now) : idle(now) {}

  UniqueFd fd;
  net::FrameDecoder decoder;
  uint64_t id = 0;
  std::string out;
  size_t out_off = 0;
  uint32_t interest = 0;  // registered epoll events
  bool eof = false;
  bool close_after_flush = false;
  bool draining = false;
  bool closed = false;
  bool has_frames = false;  // complete frames may be left in the decoder: not read meanwhile
  bool queued = false;      // in the worker's pending list
  bool starved = false;     // waiting for the memory budget; retried by the sweep
  size_t job_bytes = 0;     // a request on the blocking pool (its payload); 0 if none
  size_t charged = 0;       // bytes charged to the memory budget for this connection
  std::optional<net::FrameKind> last_kind;
  int first_byte = -1;
  IdleTimer idle;
  std::optional<absl::Time> frame_started;
  std::optional<absl::Time> write_blocked_since;
  absl::Time drain_started;

  size_t pending_output() const { return out.size() - out_off; }
  bool job_in_flight() const { return job_bytes > 0; }
  // What this connection holds that the budget counts.
  size_t usage() const {
    // Capacity, not just content: a drained buffer still holds its memory.
    return decoder.memory_size() + out.capacity() + job_bytes;
  }
};

// A reply computed on the blocking pool, for connection `id` of a worker.
struct Completion {
  uint64_t id = 0;
  std::string reply;
  bool close = false;
};

struct Worker {
  int index = 0;
  UniqueFd epoll;
  UniqueFd wake;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::deque<uint64_t> pending;  // connections with complete frames left over, round-robin
  // Closed this turn; destroyed at its end (references within the turn stay valid).
  std::vector<std::unique_ptr<Conn>> graveyard;
  WorkerState state;
  std::array<uint8_t, kReadChunk> buf{};
  net::AcceptBackoff accept_backoff;
  std::optional<absl::Time> accept_paused_until;
  uint64_t refused = 0;  // over max_connections, since the last log line
  absl::Time refusal_logged = absl::InfinitePast();
  size_t released_since_trim = 0;
  absl::Mutex completions_mu;
  std::vector<Completion> completions ABSL_GUARDED_BY(completions_mu);
  std::thread thread;
};

epoll_event Event(uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return ev;
}

// Gives freed memory back to the OS: malloc_trim for glibc's allocator; under AddressSanitizer,
// whose allocator replaces malloc and ignores malloc_trim, its purge (quarantine and free pages),
// so sanitizer builds show the same behaviour the abuse tests measure.
void ReturnFreedMemory() {
  malloc_trim(0);
  if (__sanitizer_purge_allocator != nullptr) __sanitizer_purge_allocator();
}

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
      : options(std::move(o)),
        handler(h),
        listener(std::move(l)),
        budget(options.memory_budget),
        max_unprocessed(MaxUnprocessedInput(options.max_frame_size, kReadChunk)) {}

  ServerOptions options;
  RequestHandler& handler;
  net::Listener listener;
  MemoryBudget budget;
  const size_t max_unprocessed;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<BlockingPool> pool;
  std::vector<WorkerState> pool_states;  // one per pool thread
  std::atomic<int> connections{0};
  std::atomic<uint64_t> next_id{kFirstConnectionId};
  std::atomic<bool> stopping{false};
  // Set when a read found no room in the budget that its own worker could free: every worker
  // then closes its own biggest offenders (Relieve) until a read fits again.
  std::atomic<bool> pressure{false};
  bool stopped = false;

  void Run(Worker& w);
  void AcceptSome(Worker& w, absl::Time now);
  void PauseAccepting(Worker& w, const absl::Status& error, absl::Time now);
  void ResumeAccepting(Worker& w);
  void OnEvent(Worker& w, Conn& c, uint32_t events, absl::Time now);
  void OnReadable(Worker& w, Conn& c, absl::Time now);
  void Process(Worker& w, Conn& c, absl::Time now);
  void StartBlocking(Worker& w, Conn& c, net::Frame frame);
  void OnCompletions(Worker& w, absl::Time now);
  void Flush(Worker& w, Conn& c, absl::Time now);
  void UpdateInterest(Worker& w, Conn& c);
  void Account(Conn& c);
  bool EnforceBudget(Worker& w, size_t needed, uint64_t reading);
  void RequestRelief();
  void Relieve(Worker& w);
  void Close(Worker& w, Conn& c, std::string_view why);
  void Sweep(Worker& w, absl::Time now);
  // The budget divided by the open connections.
  size_t FairShare() const {
    return budget.limit() / static_cast<size_t>(std::max(connections.load(), 1));
  }
  Conn* Find(Worker& w, uint64_t id) {
    auto it = w.conns.find(id);
    return it == w.conns.end() || it->second->closed ? nullptr : it->second.get();
  }
};

namespace {

// Makes RLIMIT_NOFILE and max_connections agree (connection_rules.h), and says what it did.
int FitDescriptors(int max_connections, int extra_headroom) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return max_connections;
  const DescriptorPlan plan = FitDescriptorLimit(max_connections, limit.rlim_cur, limit.rlim_max,
                                                 kDescriptorHeadroom + extra_headroom);
  const rlim_t old_soft = limit.rlim_cur;
  if (plan.soft_limit != limit.rlim_cur) {
    limit.rlim_cur = plan.soft_limit;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      LogWarn("descriptor_limit", {{"error", std::strerror(errno)}});
    }
  }
  const std::string what = plan.Describe(max_connections, old_soft);
  if (plan.lowered) {
    LogWarn("descriptor_limit", {{"detail", what}});
  } else {
    LogInfo("descriptor_limit", {{"detail", what}});
  }
  return plan.max_connections;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      RequestHandler& handler) {
  if (options.threads < 1 || options.threads > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads must be 1..1024, not ", options.threads));
  }
  if (options.max_frames_per_turn < 1 || options.max_connections < 1) {
    return absl::InvalidArgumentError("max_frames_per_turn and max_connections must be >= 1");
  }
  const BlockingPoolOptions pool_options{.threads = options.blocking_threads,
                                         .queue_limit = options.blocking_queue};
  if (absl::Status s = BlockingPool::Validate(pool_options); !s.ok()) return s;
  // The budget must hold at least one connection's largest frame and a reply.
  const size_t min_budget = MaxUnprocessedInput(options.max_frame_size, kReadChunk) + (64 << 10);
  if (options.memory_budget < min_budget) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory budget of ", options.memory_budget, " bytes is below one largest frame (",
        min_budget, " bytes with max_frame_size ", options.max_frame_size, ")"));
  }
  if (options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("idle timeout must be positive");
  }
  // Validates the size limit once; every connection's decoder is made the same way.
  absl::StatusOr<net::FrameDecoder> probe = net::FrameDecoder::Create(options.max_frame_size);
  if (!probe.ok()) return probe.status();

  options.max_connections =
      FitDescriptors(options.max_connections, 2 * options.threads + options.blocking_threads);

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
    // Every worker waits on the listener; EPOLLEXCLUSIVE wakes one (or few) per connection.
    epoll_event lev = Event(EPOLLIN | EPOLLEXCLUSIVE, kListenerTag);
    epoll_event wev = Event(EPOLLIN, kWakeTag);
    if (epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, impl->listener.fd(), &lev) != 0 ||
        epoll_ctl(w->epoll.get(), EPOLL_CTL_ADD, w->wake.get(), &wev) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
    }
    impl->workers.push_back(std::move(w));
  }
  impl->pool_states.resize(static_cast<size_t>(options.blocking_threads));
  impl->pool = std::make_unique<BlockingPool>(pool_options);
  Impl* raw = impl.get();
  for (auto& w : impl->workers) {
    Worker* wp = w.get();
    w->thread = std::thread([raw, wp] { raw->Run(*wp); });
  }
  LogInfo("server_listening", {{"listen", impl->listener.local_endpoint().ToString()},
                               {"threads", options.threads},
                               {"max_frame_size", options.max_frame_size},
                               {"max_connections", options.max_connections},
                               {"memory_budget", options.memory_budget},
                               {"blocking_threads", options.blocking_threads},
                               {"blocking_queue", options.blocking_queue}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

const net::Endpoint& Server::local_endpoint() const { return impl_->listener.local_endpoint(); }

int Server::connections() const { return impl_->connections.load(); }
int Server::max_connections() const { return impl_->options.max_connections; }
size_t Server::buffered_bytes() const { return impl_->budget.used(); }

void Server::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping.store(true);
  // Blocking requests first: running ones finish (their replies go to worker queues that still
  // exist), queued ones are dropped.
  impl_->pool->Stop();
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
    int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(kSweepInterval));
    if (!w.pending.empty()) timeout_ms = 0;
    if (w.accept_paused_until.has_value()) {
      const int64_t until = absl::ToInt64Milliseconds(
          absl::Ceil(*w.accept_paused_until - absl::Now(), absl::Milliseconds(1)));
      timeout_ms =
          std::clamp(static_cast<int>(std::min<int64_t>(until, timeout_ms)), 0, timeout_ms);
    }
    const int n = epoll_wait(w.epoll.get(), events.data(), kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) {
      LogError("epoll_wait_failed", {{"error", std::strerror(errno)}});
      break;
    }
    const absl::Time now = absl::Now();
    if (w.accept_paused_until.has_value() && now >= *w.accept_paused_until) ResumeAccepting(w);
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events[static_cast<size_t>(i)];
      if (ev.data.u64 == kListenerTag) {
        AcceptSome(w, now);
      } else if (ev.data.u64 == kWakeTag) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t r = read(w.wake.get(), &count, sizeof(count));
        OnCompletions(w, now);
        if (pressure.load(std::memory_order_relaxed)) Relieve(w);
      } else if (Conn* c = Find(w, ev.data.u64); c != nullptr) {
        OnEvent(w, *c, ev.events, now);
      }
    }
    // Connections with complete frames left over from their last turn (a few per loop turn;
    // those with more go to the back).
    for (size_t served = 0; served < kPendingPerTurn && !w.pending.empty(); ++served) {
      const uint64_t id = w.pending.front();
      w.pending.pop_front();
      Conn* c = Find(w, id);
      if (c == nullptr) continue;
      c->queued = false;
      Process(w, *c, now);
      if (!c->closed) Flush(w, *c, now);
    }
    if (now - last_sweep >= kSweepInterval) {
      Sweep(w, now);
      last_sweep = now;
    }
    w.graveyard.clear();
  }
  for (auto& [id, conn] : w.conns) {
    connections.fetch_sub(1);
    budget.Release(conn->charged);
  }
  w.conns.clear();
  w.pending.clear();
  w.graveyard.clear();
}

void Server::Impl::AcceptSome(Worker& w, absl::Time now) {
  for (int i = 0; i < kMaxAcceptsPerTurn && !w.accept_paused_until.has_value(); ++i) {
    absl::StatusOr<std::optional<UniqueFd>> accepted = net::AcceptNow(listener);
    if (!accepted.ok()) {
      PauseAccepting(w, accepted.status(), now);
      return;
    }
    if (!accepted->has_value()) return;
    w.accept_backoff.OnSuccess();
    UniqueFd owned = **std::move(accepted);
    if (connections.fetch_add(1) >= options.max_connections) {
      connections.fetch_sub(1);
      ++w.refused;
      if (now - w.refusal_logged >= kRefusalLogInterval) {
        LogWarn("connection_refused", {{"reason", "max_connections"},
                                       {"max_connections", options.max_connections},
                                       {"refused", w.refused}});
        w.refused = 0;
        w.refusal_logged = now;
      }
      continue;  // closed by `owned`
    }
    if (listener.local_endpoint().is_tcp()) {
      const int one = 1;
      setsockopt(owned.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto conn = std::make_unique<Conn>(now);
    conn->fd = std::move(owned);
    conn->decoder = *net::FrameDecoder::Create(options.max_frame_size);
    conn->id = next_id.fetch_add(1);
    conn->interest = EPOLLIN | EPOLLRDHUP;
    epoll_event ev = Event(conn->interest, conn->id);
    if (epoll_ctl(w.epoll.get(), EPOLL_CTL_ADD, conn->fd.get(), &ev) != 0) {
      connections.fetch_sub(1);
      LogWarn("epoll_add_failed", {{"error", std::strerror(errno)}});
      continue;
    }
    LogDebug("connection_open", {{"conn", conn->id}, {"worker", w.index}});
    const uint64_t id = conn->id;
    w.conns.emplace(id, std::move(conn));
  }
}

void Server::Impl::PauseAccepting(Worker& w, const absl::Status& error, absl::Time now) {
  // The listener stays readable while accept fails (the connection stays queued): take it out of
  // this worker's epoll set until the pause ends, or the loop would spin.
  const net::AcceptBackoff::Decision d = w.accept_backoff.OnFailure(now);
  if (d.log) {
    LogWarn("accept_failed", {{"error", std::string(error.message())},
                              {"failures", d.failures_since_log},
                              {"pause_ms", absl::ToInt64Milliseconds(d.pause)},
                              {"worker", w.index}});
  }
  epoll_ctl(w.epoll.get(), EPOLL_CTL_DEL, listener.fd(), nullptr);
  w.accept_paused_until = d.resume_at;
}

void Server::Impl::ResumeAccepting(Worker& w) {
  w.accept_paused_until.reset();
  epoll_event lev = Event(EPOLLIN | EPOLLEXCLUSIVE, kListenerTag);
  if (epoll_ctl(w.epoll.get(), EPOLL_CTL_ADD, listener.fd(), &lev) != 0) {
    // Try again after another pause rather than never accepting again on this worker.
    PauseAccepting(w, absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno))),
                   absl::Now());
  }
}

void Server::Impl::OnEvent(Worker& w, Conn& c, uint32_t events, absl::Time now) {
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    // Reset, or closed in both directions: nobody can read a reply. Reported whatever the
    // interest, so it must end the connection now (or the loop would spin on it).
    Close(w, c, (events & EPOLLERR) != 0 ? "reset" : "hangup");
    return;
  }
  if ((events & EPOLLOUT) != 0) {
    Flush(w, c, now);
    if (!c.closed && c.pending_output() == 0 && !c.draining) Process(w, c, now);
    if (!c.closed) Flush(w, c, now);
  }
  if (!c.closed && (events & (EPOLLIN | EPOLLRDHUP)) != 0) OnReadable(w, c, now);
}

void Server::Impl::OnReadable(Worker& w, Conn& c, absl::Time now) {
  size_t want = kReadChunk;
  if (!c.draining) {
    want = ReadAllowance(c.decoder.buffered_size(), max_unprocessed, kReadChunk);
    if (want == 0 || c.has_frames || c.job_in_flight()) {
      UpdateInterest(w, c);  // not read until its frames are consumed
      return;
    }
    if (!budget.TryCharge(want)) {
      if (!EnforceBudget(w, want, c.id) || c.closed || !budget.TryCharge(want)) {
        if (!c.closed) {
          c.starved = true;
          UpdateInterest(w, c);
          RequestRelief();  // the memory may be held by another worker's connections
        }
        return;
      }
    }
    c.charged += want;
  }
  const ssize_t n = read(c.fd.get(), w.buf.data(), want);
  if (n < 0) {
    Account(c);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(w, c, "read error");
    return;
  }
  if (c.draining) {
    if (n == 0) Close(w, c, "done");
    return;  // input after the final reply is discarded
  }
  if (n == 0) {
    Account(c);
    c.eof = true;
    Process(w, c, now);
    if (!c.closed) Flush(w, c, now);
    return;
  }
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
  Account(c);
  Process(w, c, now);
  if (!c.closed) Flush(w, c, now);
}

void Server::Impl::Process(Worker& w, Conn& c, absl::Time now) {
  if (c.close_after_flush || c.draining || c.job_in_flight()) return;
  c.has_frames = false;
  int frames = 0;
  bool drained = false;  // the decoder has no complete frame left
  bool starved = false;
  while (frames < options.max_frames_per_turn && c.pending_output() < options.max_pending_output) {
    if (budget.over() && c.usage() > FairShare()) {
      // Over budget, a connection holding more than its share must not grow it further (the
      // sweep comes back); one within its share goes on, so newcomers are served.
      starved = true;
      break;
    }
    absl::StatusOr<std::optional<net::Frame>> next = c.decoder.Next();
    if (!next.ok()) {
      const net::FrameKind kind =
          c.last_kind.value_or(c.first_byte == '{' ? net::FrameKind::kV1 : net::FrameKind::kV2);
      RequestHandler::AppendFramingError(kind, next.status(), c.out);
      c.close_after_flush = true;
      Account(c);
      return;
    }
    if (!next->has_value()) {
      drained = true;
      c.decoder.Trim();
      break;
    }
    ++frames;
    c.idle.OnCompleteFrame(now);
    c.last_kind = (*next)->kind;
    const RequestHandler::Outcome outcome = handler.HandleWithoutBlocking(**next, w.state, c.out);
    if (outcome == RequestHandler::Outcome::kClose) {
      c.close_after_flush = true;
      Account(c);
      return;
    }
    if (outcome == RequestHandler::Outcome::kWouldBlock) {
      StartBlocking(w, c, **std::move(next));
      if (c.close_after_flush || c.job_in_flight()) {
        Account(c);
        return;
      }
    }
  }
  Account(c);
  if (c.decoder.InFrame()) {
    if (!c.frame_started.has_value()) c.frame_started = now;
  } else {
    c.frame_started.reset();
  }
  if (starved) {
    c.starved = true;
    c.has_frames = true;  // not read meanwhile; the sweep processes it
    return;
  }
  if (!drained) {
    // More complete frames may be buffered: come back next turn (after other connections), or
    // once the peer has read enough of its replies (Flush re-runs Process).
    c.has_frames = true;
    if (c.pending_output() < options.max_pending_output && !c.queued) {
      c.queued = true;
      w.pending.push_back(c.id);
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

void Server::Impl::StartBlocking(Worker& w, Conn& c, net::Frame frame) {
  const size_t bytes = std::max<size_t>(frame.payload.size(), 1);
  auto request = std::make_shared<const net::Frame>(std::move(frame));
  Worker* wp = &w;
  const uint64_t id = c.id;
  Impl* self = this;
  absl::Status submitted = pool->Submit([self, wp, id, request](int thread_index) {
    Completion done;
    done.id = id;
    done.close = self->handler.Handle(
        *request, self->pool_states[static_cast<size_t>(thread_index)], done.reply);
    {
      absl::MutexLock lock(&wp->completions_mu);
      wp->completions.push_back(std::move(done));
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wp->wake.get(), &one, sizeof(one));
  });
  if (submitted.ok()) {
    c.job_bytes = bytes;  // later frames of this connection wait for its reply
    return;
  }
  // Pool full (or stopping): a clear "busy" now, in request order, instead of an unbounded queue.
  if (handler.AppendBusyError(*request, c.out)) c.close_after_flush = true;
}

void Server::Impl::OnCompletions(Worker& w, absl::Time now) {
  std::vector<Completion> done;
  {
    absl::MutexLock lock(&w.completions_mu);
    done.swap(w.completions);
  }
  for (Completion& d : done) {
    Conn* c = Find(w, d.id);
    if (c == nullptr) continue;  // closed meanwhile: the reply has nowhere to go
    c->job_bytes = 0;
    c->out += d.reply;
    if (d.close) c->close_after_flush = true;
    Account(*c);
    Process(w, *c, now);
    if (!c->closed) Flush(w, *c, now);
  }
}

void Server::Impl::Flush(Worker& w, Conn& c, absl::Time now) {
  while (c.out_off < c.out.size()) {
    const ssize_t n = send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
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
    if (c.out.capacity() > kKeepOutputCapacity) {
      std::string().swap(c.out);
    } else {
      c.out.clear();
    }
    c.out_off = 0;
    c.write_blocked_since.reset();
    if (c.close_after_flush && !c.draining && !c.job_in_flight()) {
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
  Account(c);
  UpdateInterest(w, c);
}

void Server::Impl::UpdateInterest(Worker& w, Conn& c) {
  if (c.closed) return;
  uint32_t want = 0;
  const bool backpressured = c.pending_output() >= options.max_pending_output;
  const bool may_read = !c.eof && !c.close_after_flush && !backpressured && !c.has_frames &&
                        !c.starved && !c.job_in_flight() &&
                        ReadAllowance(c.decoder.buffered_size(), max_unprocessed, kReadChunk) > 0;
  if (c.draining || may_read) want |= EPOLLIN | EPOLLRDHUP;
  if (c.pending_output() > 0) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev = Event(want, c.id);
  if (epoll_ctl(w.epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) {
    Close(w, c, "epoll_ctl failed");
    return;
  }
  c.interest = want;
}

void Server::Impl::Account(Conn& c) {
  const size_t usage = c.closed ? 0 : c.usage();
  if (usage > c.charged) {
    budget.ForceCharge(usage - c.charged);
  } else if (usage < c.charged) {
    budget.Release(c.charged - usage);
  }
  c.charged = usage;
}

bool Server::Impl::EnforceBudget(Worker& w, size_t needed, uint64_t reading) {
  const size_t used = budget.used();
  if (used + needed <= budget.limit()) return true;
  // Free down to three quarters of the budget, not just to the limit: other connections refill
  // what is freed at once, and a newcomer needs room for its first read.
  const size_t low_water = budget.limit() / 4 * 3;
  const size_t to_free = used + needed - low_water;
  // Only connections over their fair share are closed: one that holds less waits instead.
  const size_t fair_share = FairShare();
  std::vector<ConnectionUsage> usages;
  for (const auto& [id, c] : w.conns) {
    if (c->closed) continue;
    const size_t bytes = c->usage();
    if (bytes > fair_share) usages.push_back({.id = id, .bytes = bytes});
  }
  const std::vector<uint64_t> victims = ChooseVictims(std::move(usages), to_free);
  if (victims.empty()) return false;
  size_t freed = 0;
  for (uint64_t id : victims) {
    Conn* c = Find(w, id);
    if (c == nullptr) continue;
    freed += c->usage();
    Close(w, *c, "memory budget");
  }
  LogWarn("memory_budget_exceeded", {{"closed", victims.size()},
                                     {"freed", freed},
                                     {"used", budget.used()},
                                     {"limit", budget.limit()},
                                     {"reader_closed", Find(w, reading) == nullptr}});
  return budget.used() + needed <= budget.limit();
}

void Server::Impl::RequestRelief() {
  if (pressure.exchange(true)) return;
  for (auto& w : workers) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(w->wake.get(), &one, sizeof(one));
  }
}

void Server::Impl::Relieve(Worker& w) {
  if (budget.used() + kReadChunk <= budget.limit() || EnforceBudget(w, kReadChunk, /*reading=*/0)) {
    pressure.store(false);
  }
}

void Server::Impl::Close(Worker& w, Conn& c, std::string_view why) {
  if (c.closed) return;
  c.closed = true;
  epoll_ctl(w.epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  LogDebug("connection_close", {{"conn", c.id}, {"reason", why}});
  w.released_since_trim += c.charged;
  budget.Release(c.charged);
  c.charged = 0;
  auto it = w.conns.find(c.id);
  if (it != w.conns.end()) {
    // Destroyed at the end of the loop turn: this turn's callers may still hold a reference.
    // Nothing refers to it across turns except by id.
    w.graveyard.push_back(std::move(it->second));
    w.conns.erase(it);
    connections.fetch_sub(1);
  }
}

void Server::Impl::Sweep(Worker& w, absl::Time now) {
  std::vector<std::pair<uint64_t, std::string_view>> expired;
  std::vector<uint64_t> starved;
  for (auto& [id, c] : w.conns) {
    const bool busy = c->pending_output() > 0 || c->job_in_flight() || c->has_frames;
    if (c->draining) {
      if (now - c->drain_started > kDrainTimeout) expired.emplace_back(id, "done");
    } else if (c->write_blocked_since.has_value() &&
               now - *c->write_blocked_since > options.write_timeout) {
      expired.emplace_back(id, "write timeout");
    } else if (c->frame_started.has_value() && now - *c->frame_started > options.frame_timeout) {
      expired.emplace_back(id, "frame timeout");
    } else if (c->idle.Expired(now, options.idle_timeout, busy)) {
      expired.emplace_back(id, "idle timeout");
    } else if (c->starved) {
      starved.push_back(id);
    }
  }
  for (auto& [id, why] : expired) {
    Conn* c = Find(w, id);
    if (c == nullptr) continue;
    if (why != "done") LogInfo("connection_timeout", {{"conn", id}, {"reason", why}});
    Close(w, *c, why);
  }
  for (uint64_t id : starved) {
    Conn* c = Find(w, id);
    if (c == nullptr) continue;
    c->starved = false;
    Process(w, *c, now);
    if (!c->closed) Flush(w, *c, now);
  }
  if (budget.over()) EnforceBudget(w, 0, 0);
  if (pressure.load(std::memory_order_relaxed)) Relieve(w);
  if (w.released_since_trim >= kTrimAfterReleased) {
    // Connection buffers freed under load stay in malloc's arenas otherwise (issue 10: 538 MB
    // still held after 2,000 connections closed).
    ReturnFreedMemory();
    w.released_since_trim = 0;
  }
}

}  // namespace lockout::enclave
