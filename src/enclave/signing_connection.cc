#include "src/enclave/signing_connection.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/error.hpp"
#include "boost/asio/post.hpp"
#include "src/common/logger.h"

// AddressSanitizer's allocator interface (sanitizer/allocator_interface.h, absent from GCC 12's
// headers); weak, so it is null in builds without ASan.
extern "C" void __sanitizer_purge_allocator() __attribute__((weak));

namespace lockout::enclave {
namespace {

namespace asio = boost::asio;

// Requests per batch at most: large enough that handing a batch to a worker and its replies back
// costs little per request (two queue operations per batch), small enough that one connection's
// pipeline is split over every worker.
constexpr size_t kMaxBatch = 16;
// What one request in flight costs beyond its payload (its Frame, its share of the batch).
constexpr size_t kRequestOverhead = 64;
// Reply bytes reserved per request of a batch (a p521 signature reply is ~320 bytes).
constexpr size_t kReplyReserve = 192;
// A reply buffer that grew past this is given back once it is sent.
constexpr size_t kKeepOutputCapacity = 64 * 1024;
// Freed connection buffers are returned to the OS (malloc_trim) once this much was released.
constexpr size_t kTrimAfterReleased = size_t{4} << 20;
// After a budget enforcement that found nothing to close, the next one waits this long (a
// snapshot of every connection is not taken on every starved read).
constexpr absl::Duration kFruitlessRetry = absl::Milliseconds(50);

// Gives freed memory back to the OS: malloc_trim for glibc's allocator; under AddressSanitizer,
// whose allocator replaces malloc and ignores malloc_trim, its purge (quarantine and free pages),
// so sanitizer builds show the same behaviour the abuse tests measure.
void ReturnFreedMemory() {
  malloc_trim(0);
  if (__sanitizer_purge_allocator != nullptr) __sanitizer_purge_allocator();
}

bool DebugLogging() { return Logger::Default().level() == LogLevel::kDebug; }

size_t RequestBytes(const net::Frame& frame) { return frame.payload.size() + kRequestOverhead; }

}  // namespace

// Bytes reserved in the memory budget, given back when the holder is destroyed.
class SigningConnection::Charge final {
 public:
  Charge(MemoryBudget& budget, size_t bytes) : budget_(&budget), bytes_(bytes) {
    budget_->ForceCharge(bytes_);
  }
  Charge(Charge&& other) noexcept
      : budget_(other.budget_), bytes_(std::exchange(other.bytes_, 0)) {}
  Charge& operator=(Charge&&) = delete;
  Charge(const Charge&) = delete;
  ~Charge() {
    if (bytes_ > 0) budget_->Release(bytes_);
  }
  // Moves `bytes` of this charge into a new one.
  Charge Split(size_t bytes) {
    bytes = std::min(bytes, bytes_);
    bytes_ -= bytes;
    return Charge(budget_, bytes);
  }

 private:
  Charge(MemoryBudget* budget, size_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryBudget* budget_;
  size_t bytes_;
};

// Requests [first, first + frames.size()) of one connection, for a worker.
struct SigningConnection::Batch {
  uint64_t first = 0;
  std::vector<net::Frame> frames;
  Charge charge;
};

SigningService::SigningService(RequestHandler& handler, ConnectionLimits limits,
                               size_t memory_budget, BlockingPool& pool, int pool_threads,
                               const Clock& clock)
    : handler_(handler),
      limits_(limits),
      budget_(memory_budget),
      pool_(pool),
      pool_states_(static_cast<size_t>(std::max(pool_threads, 1))),
      clock_(clock) {}

std::shared_ptr<net::Connection> SigningService::NewConnection(net::StreamSocket socket) {
  absl::StatusOr<net::FrameDecoder> decoder = net::FrameDecoder::Create(limits_.max_frame_size);
  if (!decoder.ok()) return nullptr;  // validated by Server::Start; refuse rather than crash
  return std::make_shared<SigningConnection>(std::move(socket), *this, *std::move(decoder));
}

std::unique_ptr<WorkerState> SigningService::AcquireState() {
  {
    absl::MutexLock lock(&states_mu_);
    if (!states_.empty()) {
      std::unique_ptr<WorkerState> state = std::move(states_.back());
      states_.pop_back();
      return state;
    }
  }
  return std::make_unique<WorkerState>();
}

void SigningService::ReleaseState(std::unique_ptr<WorkerState> state) {
  absl::MutexLock lock(&states_mu_);
  states_.push_back(std::move(state));
}

void SigningService::EnforceBudget(net::ConnectionServer& server, size_t needed) {
  absl::MutexLock lock(&enforce_mu_);
  const size_t used = budget_.used();
  const size_t limit = budget_.limit();
  if (used + needed <= limit) return;
  // Victims chosen earlier are closing: wait for them rather than close more.
  const size_t after_closes = used - std::min(used, closing_bytes_.load());
  if (after_closes + needed <= limit) return;
  const absl::Time now = absl::Now();
  if (now - fruitless_at_ < kFruitlessRetry) return;
  // Free down to three quarters of the budget, not just to the limit: other connections refill
  // what is freed at once, and a newcomer needs room for its first read.
  const size_t low_water = limit / 4 * 3;
  const size_t to_free = after_closes + needed - std::min(after_closes + needed, low_water);
  // Only connections over their fair share are closed: one that holds less waits instead.
  const std::vector<std::shared_ptr<net::Connection>> open = server.Snapshot();
  const size_t fair_share = limit / std::max<size_t>(open.size(), 1);
  std::vector<ConnectionUsage> usages;
  absl::flat_hash_map<uint64_t, std::pair<SigningConnection*, size_t>> by_id;
  for (const std::shared_ptr<net::Connection>& c : open) {
    // Every connection of this server is a SigningConnection (NewConnection makes them).
    auto& connection = static_cast<SigningConnection&>(*c);
    if (connection.closing_bytes_.load() != 0) continue;  // closing already
    const size_t bytes = c->memory_usage();
    if (bytes > fair_share) {
      usages.push_back({.id = c->id(), .bytes = bytes});
      by_id[c->id()] = {&connection, bytes};
    }
  }
  const std::vector<uint64_t> victims = ChooseVictims(std::move(usages), to_free);
  if (victims.empty()) {
    fruitless_at_ = now;
    return;
  }
  size_t closing = 0;
  size_t freed = 0;
  for (uint64_t id : victims) {
    // `open` keeps the connection alive. Its bytes count as closing from here until its
    // OnClosed takes them back; if it closed already (its OnClosed may have run before the
    // store), they are taken back here. The exchange decides which, so they go exactly once.
    auto [connection, bytes] = by_id[id];
    closing_bytes_.fetch_add(bytes);
    connection->closing_bytes_.store(bytes);
    if (connection->gone_.load()) {
      closing_bytes_.fetch_sub(connection->closing_bytes_.exchange(0));
      continue;
    }
    ++closing;
    freed += bytes;
    server.Close(id, "memory budget");
  }
  LogWarn("memory_budget_exceeded", {{"closing", closing},
                                     {"freeing", freed},
                                     {"used", used},
                                     {"limit", limit},
                                     {"connections", open.size()}});
}

void SigningService::OnConnectionClosed(net::ConnectionServer& server, size_t released) {
  // Connection buffers freed under load stay in malloc's arenas otherwise (issue 10: 538 MB
  // still held after 2,000 connections closed).
  const size_t total =
      released_since_trim_.fetch_add(released, std::memory_order_relaxed) + released;
  if (total >= kTrimAfterReleased &&
      released_since_trim_.exchange(0, std::memory_order_relaxed) >= kTrimAfterReleased) {
    asio::post(server.executor(), [] { ReturnFreedMemory(); });
  }
}

void SigningService::DropQueued() {
  std::deque<std::shared_ptr<SigningConnection>> ready;
  {
    absl::MutexLock lock(&queue_mu_);
    for (const std::shared_ptr<SigningConnection>& c : ready_) {
      waiting_batches_.fetch_sub(c->queued_.size(), std::memory_order_relaxed);
      c->queued_.clear();
      c->listed_ = false;
    }
    ready.swap(ready_);
  }
}

SigningConnection::~SigningConnection() = default;

SigningConnection::SigningConnection(net::StreamSocket socket, SigningService& service,
                                     net::FrameDecoder decoder)
    : net::Connection(std::move(socket)),
      service_(service),
      strand_(this->socket().get_executor()),
      decoder_(std::move(decoder)),
      idle_(service.clock_.Now()) {}

void SigningConnection::Start() {
  // The fields are built only when they will be written: a v1 client pays this per request.
  if (DebugLogging()) LogDebug("connection_open", {{"conn", id()}});
  WatchForReset();
  // A client's first request is usually in by the time its connection is accepted: read it now
  // rather than after a round through the event loop (a wait, and a system call to re-arm it).
  ReadSome();
  Drive();
}

void SigningConnection::WatchForReset() {
  // A reset (or a hang-up) is seen at once, even while the connection is not reading: its
  // requests waiting for a worker are then dropped instead of signed for nobody.
  socket().async_wait(
      net::StreamProtocol::socket::wait_error, [me = self()](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted || me->closed()) return;
        // Asio can complete a wait spuriously (an event harvested for an earlier socket whose
        // reactor state this one reuses): ask the kernel what is really pending.
        pollfd p{.fd = me->socket().native_handle(), .events = POLLPRI, .revents = 0};
        if (poll(&p, 1, 0) < 0 && errno != EINTR) {
          me->Close("poll error");
        } else if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
          me->Close(me->draining_ ? "done" : "reset");  // after our last reply: the peer's close
        } else if ((p.revents & POLLPRI) != 0) {
          me->Close("urgent data");  // not part of either protocol; waiting again would spin
        } else {
          me->WatchForReset();
        }
      });
}

void SigningConnection::Drive() {
  if (closed()) return;
  const absl::Time now = service_.clock_.Now();
  // Replies taken first (they free room in flight), then requests handed out, then whatever
  // that answered at once (a v1 request, a framing error) written.
  Write(now);
  if (closed()) return;
  Dispatch(now);
  if (closed()) return;
  if (order_.outstanding() > 0 || final_) Write(now);
  if (closed()) return;
  UpdateReading();
  Account();
}

void SigningConnection::Dispatch(absl::Time now) {
  if (final_ || draining_) return;
  const ConnectionLimits& limits = service_.limits_;
  std::vector<net::Frame> frames;
  size_t bytes = 0;
  bool drained = false;
  has_frames_ = false;
  while (true) {
    const size_t in_flight = order_.outstanding() + frames.size();
    const size_t in_flight_bytes =
        in_flight_bytes_.load(std::memory_order_relaxed) + order_.ready_bytes() + bytes;
    if (in_flight >= limits.max_in_flight ||
        (in_flight > 0 && in_flight_bytes >= limits.max_in_flight_bytes) ||
        pending_output() >= limits.max_pending_output) {
      break;  // back-pressure: taken up again when replies are written
    }
    const MemoryBudget& budget = service_.budget_;
    if (budget.over() && usage() + bytes > budget.limit() / static_cast<size_t>(std::max(
                                                                server().connections(), 1))) {
      // Over budget, a connection holding more than its share must not grow it further (Sweep
      // comes back); one within its share goes on, so newcomers are served.
      starved_ = true;
      break;
    }
    absl::StatusOr<std::optional<net::Frame>> next = decoder_.Next();
    if (!next.ok()) {
      // The replies to the frames before the bad one come first; then one generic error, and
      // the connection is closed once it is sent.
      HandOut(std::move(frames), bytes);
      frames.clear();
      bytes = 0;
      const net::FrameKind kind =
          last_kind_.value_or(first_byte_ == '{' ? net::FrameKind::kV1 : net::FrameKind::kV2);
      std::string reply;
      RequestHandler::AppendFramingError(kind, next.status(), reply);
      const uint64_t seq = order_.Reserve(1);
      (void)order_.Complete(seq, 1, std::move(reply), /*close=*/true);
      final_ = true;
      break;
    }
    if (!next->has_value()) {
      drained = true;
      decoder_.Trim();
      break;
    }
    idle_.OnCompleteFrame(now);
    last_kind_ = (*next)->kind;
    bytes += RequestBytes(**next);
    frames.push_back(**std::move(next));
    if (last_kind_ == net::FrameKind::kV1) {
      final_ = true;  // the seed's protocol: one request per connection
      break;
    }
  }
  HandOut(std::move(frames), bytes);
  if (!drained && !final_) has_frames_ = true;
  // A started frame is timed only while the decoder holds nothing else (frames we have not taken
  // yet are our business, not the peer's).
  if (drained && decoder_.InFrame()) {
    if (!frame_started_.has_value()) frame_started_ = now;
  } else {
    frame_started_.reset();
  }
  if (drained && eof_ && !final_) {
    if (absl::Status finish = decoder_.Finish(); !finish.ok()) {
      LogInfo("framing_error", {{"conn", id()},
                                {"reason", "peer closed mid-frame"},
                                {"error", std::string(finish.message())}});
    }
    final_ = true;
  }
}

void SigningConnection::HandOut(std::vector<net::Frame> frames, size_t bytes) {
  const size_t n = frames.size();
  if (n == 0) return;
  const uint64_t first = order_.Reserve(n);
  in_flight_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  Charge charge(service_.budget_, bytes);
  // At most kMaxBatch requests per batch, sizes as even as possible; and at least one batch per
  // worker (when there are that many requests) unless every worker has a batch waiting already
  // (other connections keep them busy: smaller batches would only add hand-offs).
  const size_t workers = static_cast<size_t>(std::max(service_.limits_.workers, 1));
  const bool workers_busy = service_.waiting_batches_.load(std::memory_order_relaxed) >= workers;
  const size_t batches =
      std::max((n + kMaxBatch - 1) / kMaxBatch, workers_busy ? size_t{1} : std::min(workers, n));
  const std::shared_ptr<SigningConnection> me = self();
  if (n == 1 && (frames[0].kind == net::FrameKind::kV1 ||
                 (order_.outstanding() == 1 &&
                  service_.waiting_batches_.load(std::memory_order_relaxed) == 0))) {
    // One request alone (a v1 connection's only one, or a v2 client sending one at a time: none
    // of its earlier requests still in flight; a pipelining client's trickle goes to the workers,
    // where it batches, as measured: signing it here cost 0.90 -> 0.65 x raw) and no batch
    // waiting for a worker: nothing to spread over workers, and handing it to one and
    // its reply back (two more event-loop turns, a cross-thread wake-up, a batch and a result
    // to allocate) costs about as much as the signature. The thread that read it signs it here
    // and Drive() writes the reply in the same turn. Requests that block still go to the pool
    // (HandleBatch). When batches are waiting, it takes its turn behind them like any other.
    Batch batch{.first = first, .frames = std::move(frames), .charge = std::move(charge)};
    Results results = HandleBatch(me, batch);
    ApplyResults(std::move(results.segments), results.answered_bytes);
    return;
  }
  std::list<Batch> queue;
  size_t at = 0;
  for (size_t b = 0; b < batches; ++b) {
    const size_t count = n / batches + (b < n % batches ? 1 : 0);
    std::vector<net::Frame> part;
    part.reserve(count);
    size_t part_bytes = 0;
    for (size_t i = 0; i < count; ++i) {
      part_bytes += RequestBytes(frames[at + i]);
      part.push_back(std::move(frames[at + i]));
    }
    queue.push_back(
        Batch{.first = first + at, .frames = std::move(part), .charge = charge.Split(part_bytes)});
    at += count;
  }
  Enqueue(std::move(queue));
}

void SigningConnection::Enqueue(std::list<Batch> batches) {
  const size_t added = batches.size();
  SigningService& service = service_;
  int start = 0;
  {
    absl::MutexLock lock(&service.queue_mu_);
    queued_.splice(queued_.end(), batches);
    service.waiting_batches_.fetch_add(added, std::memory_order_relaxed);
    if (!listed_) {
      service.ready_.push_back(self());
      listed_ = true;
    }
    const int room = std::max(service.limits_.workers, 1) - service.runners_;
    start = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(room, 0)), added));
    service.runners_ += start;
  }
  const auto executor = server().executor();
  for (int i = 0; i < start; ++i) {
    asio::post(executor, [&service, executor] { RunNext(service, executor); });
  }
}

void SigningConnection::RunNext(SigningService& service,
                                boost::asio::io_context::executor_type executor) {
  std::shared_ptr<SigningConnection> c;
  std::list<Batch> batch;
  {
    absl::MutexLock lock(&service.queue_mu_);
    while (!service.ready_.empty()) {
      std::shared_ptr<SigningConnection> next = std::move(service.ready_.front());
      service.ready_.pop_front();
      if (next->queued_.empty()) {  // closed meanwhile: its batches were dropped
        next->listed_ = false;
        continue;
      }
      batch.splice(batch.end(), next->queued_, next->queued_.begin());
      service.waiting_batches_.fetch_sub(1, std::memory_order_relaxed);
      if (next->queued_.empty()) {
        next->listed_ = false;
      } else {
        service.ready_.push_back(next);  // its next batch after everyone else's
      }
      c = std::move(next);
      break;
    }
    if (c == nullptr) {
      --service.runners_;
      return;
    }
  }
  RunBatch(c, batch.front());
  batch.clear();
  {
    // Nothing left: stop here rather than queue a turn that would find the queue empty. (An
    // Enqueue after this sees one runner fewer and starts one.)
    absl::MutexLock lock(&service.queue_mu_);
    if (service.ready_.empty()) {
      --service.runners_;
      return;
    }
  }
  // Behind whatever I/O has queued meanwhile.
  asio::post(executor, [&service, executor] { RunNext(service, executor); });
}

void SigningConnection::RunBatch(const std::shared_ptr<SigningConnection>& c, Batch& batch) {
  if (c->gone_.load(std::memory_order_relaxed)) return;  // closed: nobody to answer
  Results results = HandleBatch(c, batch);
  asio::post(c->strand_, [c, results = std::move(results)]() mutable {
    c->OnResults(std::move(results.segments), results.answered_bytes);
  });
}

SigningConnection::Results SigningConnection::HandleBatch(
    const std::shared_ptr<SigningConnection>& c, Batch& batch) {
  SigningService& service = c->service_;
  RequestHandler& handler = service.handler_;
  handler.stats().NoteParallel(c->signing_now_.fetch_add(1, std::memory_order_relaxed) + 1);
  Results results;
  std::vector<Segment>& segments = results.segments;
  {
    std::unique_ptr<WorkerState> state = service.AcquireState();
    std::string out;
    out.reserve(kReplyReserve * batch.frames.size());
    uint64_t seq = batch.first;
    uint64_t run_first = seq;
    bool close = false;
    for (net::Frame& frame : batch.frames) {
      const size_t bytes = RequestBytes(frame);
      const RequestHandler::Outcome outcome = handler.HandleWithoutBlocking(frame, *state, out);
      if (outcome == RequestHandler::Outcome::kWouldBlock) {
        std::string busy;
        bool busy_close = false;
        if (c->SubmitBlocking(seq, std::move(frame), bytes, batch.charge.Split(bytes), busy,
                              busy_close)) {
          // The pool answers this one: the replies so far are one segment, the next starts after.
          if (seq > run_first) {
            segments.push_back({.first = run_first,
                                .count = static_cast<size_t>(seq - run_first),
                                .replies = std::move(out),
                                .close = close});
            out = std::string();
            out.reserve(kReplyReserve * batch.frames.size());
          }
          run_first = seq + 1;
        } else {
          out += busy;
          close = close || busy_close;
          results.answered_bytes += bytes;
        }
      } else {
        if (outcome == RequestHandler::Outcome::kClose) close = true;
        results.answered_bytes += bytes;
      }
      ++seq;
    }
    if (seq > run_first) {
      segments.push_back({.first = run_first,
                          .count = static_cast<size_t>(seq - run_first),
                          .replies = std::move(out),
                          .close = close});
    }
    service.ReleaseState(std::move(state));
  }
  c->signing_now_.fetch_sub(1, std::memory_order_relaxed);
  return results;
}

bool SigningConnection::SubmitBlocking(uint64_t seq, net::Frame frame, size_t bytes, Charge charge,
                                       std::string& busy, bool& busy_close) {
  // BlockingPool jobs are std::function (copyable): the request travels in a shared_ptr, with
  // its share of the budget charge.
  struct Job {
    std::shared_ptr<SigningConnection> connection;
    uint64_t seq;
    net::Frame frame;
    size_t bytes;
    Charge charge;
  };
  auto job = std::make_shared<Job>(Job{self(), seq, std::move(frame), bytes, std::move(charge)});
  SigningService& service = service_;
  absl::Status submitted = service.pool_.Submit([&service, job](int thread_index) {
    SigningConnection& c = *job->connection;
    if (c.gone_.load(std::memory_order_relaxed)) return;
    Segment done{.first = job->seq, .count = 1, .replies = {}, .close = false};
    done.close = service.handler_.Handle(
        job->frame, service.pool_states_[static_cast<size_t>(thread_index)], done.replies);
    std::vector<Segment> segments;
    segments.push_back(std::move(done));
    asio::post(c.strand_, [connection = job->connection, segments = std::move(segments),
                           bytes = job->bytes]() mutable {
      connection->OnResults(std::move(segments), bytes);
    });
  });
  if (submitted.ok()) return true;
  // Pool full (or stopping): a clear "busy" now, in request order, instead of an unbounded queue.
  busy_close = service.handler_.AppendBusyError(job->frame, busy);
  return false;
}

void SigningConnection::OnResults(std::vector<Segment> segments, size_t request_bytes) {
  if (ApplyResults(std::move(segments), request_bytes)) Drive();
}

bool SigningConnection::ApplyResults(std::vector<Segment> segments, size_t request_bytes) {
  in_flight_bytes_.fetch_sub(request_bytes, std::memory_order_relaxed);
  if (closed()) return false;
  for (Segment& s : segments) {
    absl::Status recorded = order_.Complete(s.first, s.count, std::move(s.replies), s.close);
    if (!recorded.ok()) {
      LogError("reply_order_broken", {{"conn", id()}, {"error", std::string(recorded.message())}});
      Close("internal error");
      return false;
    }
  }
  return true;
}

void SigningConnection::Write(absl::Time now) {
  if (out_off_ == out_.size()) {
    if (out_.capacity() > kKeepOutputCapacity) {
      std::string().swap(out_);
    } else {
      out_.clear();
    }
    out_off_ = 0;
  }
  bool close = false;
  order_.TakeReady(out_, &close);
  if (close) final_ = true;
  // The last reply of the connection (v1, or a framing error) is followed at once by our FIN
  // (half-close, below): MSG_MORE holds its last segment back so that the FIN rides on it, one
  // packet instead of two (the shutdown pushes it).
  const int flags = MSG_DONTWAIT | MSG_NOSIGNAL |
                    (final_ && !draining_ && order_.outstanding() == 0 ? MSG_MORE : 0);
  while (out_off_ < out_.size() && !writing_) {
    // The socket is used directly (never blocking, whatever its mode): Asio only waits for it.
    const ssize_t n =
        send(socket().native_handle(), out_.data() + out_off_, out_.size() - out_off_, flags);
    if (n >= 0) {
      out_off_ += static_cast<size_t>(n);
      write_blocked_since_.reset();
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!write_blocked_since_.has_value()) write_blocked_since_ = now;
      WaitWritable();
      break;
    }
    Close("write error");
    return;
  }
  if (out_off_ < out_.size()) {
    if (out_off_ > kReadChunk && out_off_ * 2 > out_.size()) {
      out_.erase(0, out_off_);
      out_off_ = 0;
    }
    return;
  }
  write_blocked_since_.reset();
  if (final_ && !draining_ && order_.outstanding() == 0) {
    if (eof_) {
      Close("done");
      return;
    }
    // Half-close: the peer reads our last reply and EOF; we discard what it still sends.
    boost::system::error_code ignored;
    socket().shutdown(net::StreamProtocol::socket::shutdown_send, ignored);
    draining_ = true;
    drain_started_ = now;
  }
}

void SigningConnection::WaitWritable() {
  if (writing_) return;
  writing_ = true;
  socket().async_wait(net::StreamProtocol::socket::wait_write,
                      [me = self()](const boost::system::error_code& ec) {
                        me->writing_ = false;
                        if (ec == asio::error::operation_aborted || me->closed()) return;
                        if (ec) {
                          me->Close("write error");
                          return;
                        }
                        me->Drive();
                      });
}

void SigningConnection::UpdateReading() {
  if (reading_) return;
  const ConnectionLimits& limits = service_.limits_;
  const bool may_read =
      draining_ ||
      (!eof_ && !final_ && !has_frames_ && !starved_ &&
       pending_output() < limits.max_pending_output &&
       ReadAllowance(decoder_.buffered_size(),
                     MaxUnprocessedInput(limits.max_frame_size, kReadChunk), kReadChunk) > 0);
  if (!may_read) return;
  reading_ = true;
  socket().async_wait(net::StreamProtocol::socket::wait_read,
                      [me = self()](const boost::system::error_code& ec) {
                        me->reading_ = false;
                        if (ec == asio::error::operation_aborted || me->closed()) return;
                        if (ec) {
                          me->Close("read error");
                          return;
                        }
                        me->ReadSome();
                        me->Drive();
                      });
}

void SigningConnection::ReadSome() {
  if (closed()) return;
  const ConnectionLimits& limits = service_.limits_;
  size_t want = kReadChunk;
  if (!draining_) {
    if (eof_ || final_ || has_frames_ || pending_output() >= limits.max_pending_output) return;
    want = ReadAllowance(decoder_.buffered_size(),
                         MaxUnprocessedInput(limits.max_frame_size, kReadChunk), kReadChunk);
    if (want == 0) return;
    if (!service_.budget_.TryCharge(want)) {
      // No room: close the biggest offenders (maybe this one); Sweep retries the read.
      service_.EnforceBudget(server(), want);
      starved_ = true;
      return;
    }
    charged_ += want;  // a reservation; Account() trims it to what the buffers hold
  }
  static thread_local std::array<uint8_t, kReadChunk> buf;
  const ssize_t n = recv(socket().native_handle(), buf.data(), want, MSG_DONTWAIT);
  if (n == 0) {
    if (draining_) {
      Close("done");
      return;
    }
    eof_ = true;
    Account();
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      Account();
      return;
    }
    Close("read error");
    return;
  }
  if (draining_) return;  // input after the final reply is discarded
  const ByteView data(buf.data(), static_cast<size_t>(n));
  if (first_byte_ < 0) {
    for (uint8_t b : data) {
      if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
        first_byte_ = b;
        break;
      }
    }
  }
  // A framing error is reported by Next() once the frames before it are delivered.
  [[maybe_unused]] absl::Status fed = decoder_.Feed(data);
  Account();
}

void SigningConnection::Account() {
  const size_t usage =
      closed() ? 0 : decoder_.memory_size() + out_.capacity() + order_.ready_bytes();
  MemoryBudget& budget = service_.budget_;
  if (usage > charged_) {
    budget.ForceCharge(usage - charged_);
  } else if (usage < charged_) {
    budget.Release(charged_ - usage);
  }
  charged_ = usage;
  charged_view_.store(usage, std::memory_order_relaxed);
}

void SigningConnection::Sweep(absl::Time now) {
  const ConnectionLimits& limits = service_.limits_;
  if (draining_) {
    if (now - drain_started_ > limits.drain_timeout) Close("done");
    return;
  }
  const bool busy = pending_output() > 0 || order_.outstanding() > 0 || has_frames_;
  std::string_view expired;
  if (write_blocked_since_.has_value() && now - *write_blocked_since_ > limits.write_timeout) {
    expired = "write timeout";
  } else if (frame_started_.has_value() && now - *frame_started_ > limits.frame_timeout) {
    expired = "frame timeout";
  } else if (idle_.Expired(now, limits.idle_timeout, busy)) {
    expired = "idle timeout";
  }
  if (!expired.empty()) {
    LogInfo("connection_timeout", {{"conn", id()}, {"reason", expired}});
    Close(expired);
    return;
  }
  if (starved_) {
    starved_ = false;
    if (service_.budget_.over()) service_.EnforceBudget(server(), 0);
    Drive();
  }
}

void SigningConnection::OnClosed(std::string_view why) {
  // Sequentially consistent, with the exchange after it: EnforceBudget stores closing_bytes_
  // and then reads gone_, so one of the two sees the other's store (see EnforceBudget).
  gone_.store(true);
  service_.closing_bytes_.fetch_sub(closing_bytes_.exchange(0));
  std::list<Batch> dropped;  // released outside the lock
  {
    absl::MutexLock lock(&service_.queue_mu_);
    service_.waiting_batches_.fetch_sub(queued_.size(), std::memory_order_relaxed);
    dropped.swap(queued_);
  }
  if (DebugLogging()) LogDebug("connection_close", {{"conn", id()}, {"reason", why}});
  const size_t released = charged_;
  service_.budget_.Release(charged_);
  charged_ = 0;
  charged_view_.store(0, std::memory_order_relaxed);
  service_.OnConnectionClosed(server(), released);
}

}  // namespace lockout::enclave
