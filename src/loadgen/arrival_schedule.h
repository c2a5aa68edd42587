#pragma once

// The open-loop arrival schedule: requests start at a fixed rate, whatever the server does.
//
// A run at R requests/s over N connections gives connection c (0 <= c < N) the arrivals
// k = c, c + N, c + 2N, ... of one global schedule whose k-th arrival is at k / R seconds after
// the start. Together the connections start exactly R requests per second, evenly spaced; each
// one alone starts R / N per second. A request that cannot be sent at its scheduled time (the
// connection's pipeline is full) is sent as soon as it can, and its latency is still measured
// from the scheduled time, so a stalled server shows up in the percentiles instead of being
// hidden by a client that politely waited ("coordinated omission").
//
// Times are nanoseconds since the run's start on a monotonic clock; the class holds no clock, so
// callers (and tests) pass "now" in. Value type, thread-compatible.

#include <cstdint>

namespace lockout::loadgen {

class ArrivalSchedule final {
 public:
  // rate_per_s > 0; 0 <= lane < lanes.
  ArrivalSchedule(double rate_per_s, uint32_t lane, uint32_t lanes)
      : rate_per_s_(rate_per_s), lane_(lane), lanes_(lanes) {}

  // Scheduled time of this lane's i-th arrival (i = 0, 1, ...).
  int64_t ArrivalTimeNs(uint64_t i) const;
  // How many of this lane's arrivals are scheduled at or before `now_ns`.
  uint64_t ArrivedBy(int64_t now_ns) const;

  // The lane's next unsent arrival, and taking it.
  uint64_t next_index() const { return next_; }
  int64_t NextArrivalNs() const { return ArrivalTimeNs(next_); }
  // True if the next arrival is due at `now_ns`.
  bool Due(int64_t now_ns) const { return NextArrivalNs() <= now_ns; }
  // Returns the scheduled time of the next arrival and advances past it.
  int64_t Take() { return ArrivalTimeNs(next_++); }
  // Arrivals that are due but not yet taken (the backlog a full pipeline leaves).
  uint64_t Backlog(int64_t now_ns) const {
    const uint64_t due = ArrivedBy(now_ns);
    return due > next_ ? due - next_ : 0;
  }

 private:
  double rate_per_s_;
  uint32_t lane_;
  uint32_t lanes_;
  uint64_t next_ = 0;
};

}  // namespace lockout::loadgen
