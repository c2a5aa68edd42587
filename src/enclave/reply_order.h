#pragma once

// ReplyOrder: puts replies that workers compute out of order back into request order.
//
// docs/PROTOCOL.md promises v2 replies in request order on a connection. The server hands one
// connection's requests to every worker (in batches) and to the blocking pool, so their replies
// come back in any order. Each request gets a sequence number when it is handed out (Reserve);
// whoever finishes a run of consecutive requests hands back their replies as one byte string
// (Complete); the connection then takes the completed prefix (TakeReady) and writes it.
//
//   ReplyOrder order;
//   const uint64_t first = order.Reserve(3);        // requests first, first+1, first+2
//   order.Complete(first + 2, 1, "c", false);        // a later one finishes first: held
//   order.Complete(first, 2, "ab", false);           // the prefix is complete
//   std::string out; bool close = false;
//   order.TakeReady(out, &close);                    // out == "abc"
//
// Memory: what it holds is the completed replies not yet taken (ready_bytes()); the number of
// requests outstanding (reserved and not yet taken) is for the caller to bound.
// Thread-compatible: one per connection, used on the connection's strand.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"

namespace lockout::enclave {

class ReplyOrder final {
 public:
  ReplyOrder() = default;
  ReplyOrder(const ReplyOrder&) = delete;
  ReplyOrder& operator=(const ReplyOrder&) = delete;

  // Reserves `count` (>= 1) consecutive sequence numbers; returns the first.
  uint64_t Reserve(size_t count);

  // The replies to requests [first, first + count), in order, as one byte string. `close`: the
  // connection is to be closed once they are sent (a v1 reply, a framing error).
  // FailedPrecondition (nothing recorded) if the range is empty, was not reserved, or overlaps
  // one already completed: a bug in the caller, which should close the connection.
  absl::Status Complete(uint64_t first, size_t count, std::string replies, bool close);

  // Appends to `out` the replies that are next in request order, as far as they are complete.
  // Sets *close if one of them asked for the connection to be closed (and leaves it alone
  // otherwise). Returns the number of requests whose replies were taken.
  size_t TakeReady(std::string& out, bool* close);

  // Requests reserved whose replies have not been taken yet (being handled, or complete but
  // waiting for an earlier one).
  size_t outstanding() const { return static_cast<size_t>(next_ - taken_); }
  // Bytes of complete replies waiting for an earlier one.
  size_t ready_bytes() const { return ready_bytes_; }

 private:
  struct Segment {
    size_t count = 0;
    std::string replies;
    bool close = false;
  };
  uint64_t next_ = 0;                  // the next sequence number to reserve
  uint64_t taken_ = 0;                 // every request before this one has had its reply taken
  std::map<uint64_t, Segment> ready_;  // complete, by first sequence number
  size_t ready_bytes_ = 0;
};

}  // namespace lockout::enclave
