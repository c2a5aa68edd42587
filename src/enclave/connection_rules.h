#pragma once

// Connection rules: the limits that keep any client from crashing the enclave or growing it
// without bound (issue 10 item 5), as pure logic independent of the event loop
// (net::ConnectionServer on Boost.Asio). The I/O layer (SigningConnection) asks these questions
// and acts on the answers; the ConnectionServer stays the single owner of connection lifetime.
//
//   * Per-connection input: at most `max_unprocessed_input` bytes read and not yet turned into
//     requests; past that the connection is not read until its frames are consumed
//     (ReadAllowance). The cap always fits one whole frame of the largest allowed size.
//   * One memory budget across all connections: input buffered + replies not yet sent + requests
//     waiting on the blocking pool (MemoryBudget). When a read would not fit, the biggest
//     offenders are closed first (ChooseVictims); a connection is never read past the budget.
//   * Idle timeout counted in complete frames (IdleTimer): bytes that never make a frame (one
//     whitespace byte every minute) do not keep a connection, and its slot, alive.
//   * Descriptors: max_connections fitted to RLIMIT_NOFILE (FitDescriptorLimit).
//
// Thread-safety: MemoryBudget is thread-safe (atomics); the rest are plain values or pure
// functions.

#include <sys/resource.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace lockout::enclave {

// Bytes read from a connection and not yet consumed as frames, at most: one frame of the largest
// size (with its v2 prefix or v1 terminator) plus one read's worth of the next.
size_t MaxUnprocessedInput(size_t max_frame_size, size_t read_chunk);

// How many bytes may be read from a connection that has `unprocessed` bytes buffered, given the
// per-connection cap and the read chunk size: 0 means "stop reading until frames are consumed".
size_t ReadAllowance(size_t unprocessed, size_t max_unprocessed, size_t read_chunk);

// The global budget for connection buffers. Charges may come from any thread.
class MemoryBudget final {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Reserves `bytes` if they fit under the limit; false (nothing reserved) otherwise.
  bool TryCharge(size_t bytes);
  // Reserves `bytes` even past the limit (replies to requests already taken: bounded per request,
  // and refusing them would lose the reply). Returns false if the total is now over the limit.
  bool ForceCharge(size_t bytes);
  // Returns bytes reserved earlier.
  void Release(size_t bytes);

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }
  bool over() const { return used() > limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// One connection's share of the budget, as the I/O layer reports it to ChooseVictims.
struct ConnectionUsage {
  uint64_t id = 0;
  size_t bytes = 0;
};

// The connections to close so that at least `to_free` bytes are released: biggest first, ties
// broken by the larger id (the newer connection). Connections holding nothing are never chosen.
// If the usages together hold less than `to_free`, every connection holding something is chosen.
std::vector<uint64_t> ChooseVictims(std::vector<ConnectionUsage> usages, size_t to_free);

// Idle timer counted in complete frames: a connection is idle once `timeout` has passed since
// it was opened or since its last complete request, while nothing is owed to it (no reply queued,
// no request being handled). Bytes that do not complete a frame never reset it (a frame that is
// started but not completed is the frame timeout's business).
class IdleTimer final {
 public:
  explicit IdleTimer(absl::Time opened) : last_frame_(opened) {}
  void OnCompleteFrame(absl::Time now) { last_frame_ = now; }
  // `busy`: a reply is queued or a request is in progress for this connection.
  bool Expired(absl::Time now, absl::Duration timeout, bool busy) const {
    return !busy && now - last_frame_ > timeout;
  }
  absl::Time last_frame() const { return last_frame_; }

 private:
  absl::Time last_frame_;
};

// How max_connections and RLIMIT_NOFILE are made to agree. `headroom` descriptors are kept for
// everything that is not a client connection (listener, the event loop's own descriptors, NSM, relay and KMS
// sockets, logs).
struct DescriptorPlan {
  rlim_t soft_limit = 0;    // the soft limit to set (unchanged if it already fits)
  int max_connections = 0;  // the cap to use (lowered only if the hard limit is too small)
  bool raised = false;      // soft limit raised to fit
  bool lowered = false;     // cap lowered to fit the hard limit
  // One line for the log: what was done and why.
  std::string Describe(int requested_max_connections, rlim_t old_soft) const;
};
DescriptorPlan FitDescriptorLimit(int max_connections, rlim_t soft, rlim_t hard, int headroom);

}  // namespace lockout::enclave
