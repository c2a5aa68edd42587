#pragma once

// SigningConnection: one client connection of the enclave's signing server (server.h), as a
// net::Connection on the one Asio event layer; SigningService: what all of them share.
//
// A connection reads and decodes frames on its strand and hands its requests, in batches, to the
// ConnectionServer's executor, where whichever worker thread is free signs them (each with its
// own WorkerState, leased from a pool); a request that arrives alone while no batch waits is
// signed on the strand that read it instead (HandOut). Requests that block (attest, key loads)
// go on to the BlockingPool. Replies come back to the strand in any order; ReplyOrder puts them
// back in request order before they are written. The rules that keep a client from crashing the
// enclave or growing it without bound are those of server.h, enforced here with connection_rules.h.
//
// Thread-safety: SigningService is thread-safe. A SigningConnection runs on its strand, except
// memory_usage() (any thread) and the batches it hands out (any worker thread; they touch only
// the handler, the leased state and atomics).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/blocking_pool.h"
#include "src/common/clock.h"
#include "src/enclave/connection_rules.h"
#include "src/enclave/reply_order.h"
#include "src/enclave/request_handler.h"
#include "src/net/connection_server.h"
#include "src/net/frame_decoder.h"

namespace lockout::enclave {

// Per-connection limits (from ServerOptions; see server.h).
struct ConnectionLimits {
  size_t max_frame_size = net::kDefaultMaxFrameSize;
  size_t max_pending_output = 1 << 20;
  // Requests handed out and not yet answered (replies written to the output buffer), per
  // connection: at most this many ...
  size_t max_in_flight = 256;
  // ... and at most this many bytes of them (request payloads, plus replies waiting for an
  // earlier one). One request is always allowed, whatever its size.
  size_t max_in_flight_bytes = 1 << 20;
  absl::Duration idle_timeout = absl::Seconds(120);
  absl::Duration frame_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  // After the last reply (v1, or an error) the connection is half-closed and its input drained
  // for at most this long, so that the peer reads the reply instead of a reset.
  absl::Duration drain_timeout = absl::Seconds(2);
  // Worker threads: a connection's requests are split into at least this many batches (when it
  // has that many), so that every worker gets some.
  int workers = 1;
};

// Bytes read per readiness of a socket (and the unit of budget reservations for input).
inline constexpr size_t kReadChunk = 64 * 1024;

class SigningConnection;

class SigningService final {
 public:
  // `handler`, `pool` and `clock` must outlive the service; the service must outlive the
  // ConnectionServer its connections run on. `pool_threads` is the pool's thread count.
  SigningService(RequestHandler& handler, ConnectionLimits limits, size_t memory_budget,
                 BlockingPool& pool, int pool_threads, const Clock& clock);
  SigningService(const SigningService&) = delete;
  SigningService& operator=(const SigningService&) = delete;

  // The ConnectionServer factory: a new connection for an accepted socket.
  std::shared_ptr<net::Connection> NewConnection(net::StreamSocket socket);

  MemoryBudget& budget() { return budget_; }
  const ConnectionLimits& limits() const { return limits_; }

  // Forgets the batches still waiting for a worker. For Server::Stop, once the ConnectionServer
  // has stopped (the connections they belong to must go with it).
  void DropQueued();

 private:
  friend class SigningConnection;

  // Leases WorkerStates (a SigningContext is not thread-safe): at most one per thread signing at
  // a time, kept for reuse.
  std::unique_ptr<WorkerState> AcquireState();
  void ReleaseState(std::unique_ptr<WorkerState> state);

  // A read of `needed` bytes does not fit the budget: closes the biggest offenders (connections
  // over their fair share, biggest first; asynchronously, on their strands), unless closes
  // already under way will make room. Any strand.
  void EnforceBudget(net::ConnectionServer& server, size_t needed);
  // A connection closed and gave back `released` bytes.
  void OnConnectionClosed(net::ConnectionServer& server, size_t released);

  // Batches waiting for a worker, by connection, served round-robin (one batch per connection
  // in turn). At most `limits_.workers` "runners" are in the event loop's queue at once, each
  // taking one batch and then queueing itself again: the queue that the connections' I/O shares
  // never holds more than that much signing, however many requests wait, so reading, accepting
  // and closing stay prompt, and a fresh client waits for one batch per busy connection at most.
  absl::Mutex queue_mu_;
  std::deque<std::shared_ptr<SigningConnection>> ready_ ABSL_GUARDED_BY(queue_mu_);
  int runners_ ABSL_GUARDED_BY(queue_mu_) = 0;
  // Batches in ready_ connections' queues (changed under queue_mu_, read without it).
  std::atomic<size_t> waiting_batches_{0};

  RequestHandler& handler_;
  const ConnectionLimits limits_;
  MemoryBudget budget_;
  BlockingPool& pool_;
  std::vector<WorkerState> pool_states_;  // one per pool thread
  const Clock& clock_;
  absl::Mutex states_mu_;
  std::vector<std::unique_ptr<WorkerState>> states_ ABSL_GUARDED_BY(states_mu_);
  // Budget enforcement, one at a time. closing_bytes_: what connections chosen as victims and
  // not yet closed hold (each connection's share is in its own closing_bytes_; whichever of the
  // enforcement and the close takes it back from there subtracts it here, exactly once).
  absl::Mutex enforce_mu_;
  absl::Time fruitless_at_ ABSL_GUARDED_BY(enforce_mu_) = absl::InfinitePast();
  std::atomic<size_t> closing_bytes_{0};
  std::atomic<size_t> released_since_trim_{0};
};

class SigningConnection final : public net::Connection {
 public:
  SigningConnection(net::StreamSocket socket, SigningService& service, net::FrameDecoder decoder);
  ~SigningConnection() override;

  size_t memory_usage() const override {
    return charged_view_.load(std::memory_order_relaxed) +
           in_flight_bytes_.load(std::memory_order_relaxed);
  }

 protected:
  void Start() override;
  void Sweep(absl::Time now) override;
  void OnClosed(std::string_view why) override;

 private:
  friend class SigningService;  // the queue of batches waiting for a worker
  // Replies to requests [first, first + count), in order.
  struct Segment {
    uint64_t first = 0;
    size_t count = 0;
    std::string replies;
    bool close = false;
  };
  class Charge;
  struct Batch;
  // What a batch produced: replies, and the request bytes they answer.
  struct Results {
    std::vector<Segment> segments;
    size_t answered_bytes = 0;
  };

  std::shared_ptr<SigningConnection> self() {
    return std::static_pointer_cast<SigningConnection>(shared_from_this());
  }
  // Does all that can be done now: hand out complete requests, write replies that are next in
  // order, wait for input if allowed. Strand.
  void Drive();
  // Closes the connection as soon as the peer resets it or hangs up. Strand.
  void WatchForReset();
  void Dispatch(absl::Time now);
  void HandOut(std::vector<net::Frame> frames, size_t bytes);
  void ReadSome();
  void Write(absl::Time now);
  void UpdateReading();
  void WaitWritable();
  // Strand: records replies (false if the connection is closed, or now closed because the
  // replies do not fit the order: a bug), then (OnResults) does what they allow.
  void OnResults(std::vector<Segment> segments, size_t request_bytes);
  bool ApplyResults(std::vector<Segment> segments, size_t request_bytes);
  void Account();
  size_t pending_output() const { return out_.size() - out_off_; }
  size_t usage() const { return charged_ + in_flight_bytes_.load(std::memory_order_relaxed); }
  // Any worker thread: handles a batch (HandleBatch: its blocking requests go to the pool) and
  // posts the results to the strand.
  static void RunBatch(const std::shared_ptr<SigningConnection>& connection, Batch& batch);
  // Queues batches for the workers (strand); a runner takes the next batch round-robin and runs
  // it (any worker thread).
  void Enqueue(std::list<Batch> batches);
  static void RunNext(SigningService& service, boost::asio::io_context::executor_type executor);
  static Results HandleBatch(const std::shared_ptr<SigningConnection>& connection, Batch& batch);
  // Hands a request that blocks to the pool (true); false if the pool is full, with the "busy"
  // reply in `busy` (and whether it closes the connection, v1).
  bool SubmitBlocking(uint64_t seq, net::Frame frame, size_t bytes, Charge charge,
                      std::string& busy, bool& busy_close);

  SigningService& service_;
  const net::Strand strand_;  // a copy, usable from any thread
  net::FrameDecoder decoder_;
  ReplyOrder order_;
  std::string out_;
  size_t out_off_ = 0;
  bool reading_ = false;     // a wait for input is pending
  bool writing_ = false;     // a wait for the socket to take output is pending
  bool eof_ = false;         // the peer closed its side
  bool final_ = false;       // no more requests are taken (v1 request, framing error, eof)
  bool draining_ = false;    // half-closed after the last reply; input discarded
  bool has_frames_ = false;  // complete frames may be left in the decoder: not read meanwhile
  bool starved_ = false;     // waiting for the memory budget; retried by Sweep
  size_t charged_ = 0;       // bytes charged to the budget for buffers (decoder, output, replies)
  std::atomic<size_t> charged_view_{0};     // charged_, for memory_usage() from any thread
  std::atomic<size_t> in_flight_bytes_{0};  // request bytes handed out (changed on the strand)
  std::atomic<bool> gone_{false};           // closed: workers skip its batches
  // Chosen by EnforceBudget to be closed: the bytes counted in service_.closing_bytes_ for it.
  std::atomic<size_t> closing_bytes_{0};
  std::atomic<int> signing_now_{0};  // batches of this connection being handled now
  // Batches waiting for a worker, and whether this connection is in the service's ready_ list.
  std::list<Batch> queued_ ABSL_GUARDED_BY(service_.queue_mu_);
  bool listed_ ABSL_GUARDED_BY(service_.queue_mu_) = false;
  std::optional<net::FrameKind> last_kind_;
  int first_byte_ = -1;
  IdleTimer idle_;
  std::optional<absl::Time> frame_started_;
  std::optional<absl::Time> write_blocked_since_;
  absl::Time drain_started_;
};

}  // namespace lockout::enclave
