#pragma once

// AcceptBackoff: what an accept loop does when accept() fails, so that running out of file
// descriptors or kernel memory never turns into a busy loop or a flood of log lines.
//
// Why: a listening socket with a pending connection stays readable while accept() keeps failing
// with EMFILE/ENFILE (the connection stays in the backlog), so a level-triggered poll/epoll loop
// or a `for (;;) accept()` loop spins at full CPU and logs on every turn. Instead, after a failure
// the loop stops accepting for a pause that doubles on each consecutive failure (from `initial`
// up to `max`) and resets after the next successful accept; and it logs at most one line per
// `log_interval`, carrying how many failures that line stands for.
//
//   net::AcceptBackoff backoff;
//   absl::StatusOr<std::optional<UniqueFd>> got = net::AcceptNow(listener);
//   if (!got.ok()) {
//     const net::AcceptBackoff::Decision d = backoff.OnFailure(absl::Now());
//     if (d.log) LogWarn("accept_failed", {{"error", ...}, {"failures", d.failures_since_log},
//                                          {"pause_ms", absl::ToInt64Milliseconds(d.pause)}});
//     ... stop watching the listener until d.resume_at (or sleep for d.pause) ...
//   } else if (got->has_value()) {
//     backoff.OnSuccess();
//   }
//
// Pure logic over the times it is given (no clock, no I/O), independent of the event loop, so
// every server (epoll, threads, Asio) uses the same rules.
// Thread-safety: none; one instance per accept loop.

#include <cstdint>

#include "absl/time/time.h"

namespace lockout::net {

class AcceptBackoff final {
 public:
  struct Options {
    absl::Duration initial = absl::Milliseconds(100);
    absl::Duration max = absl::Seconds(1);
    absl::Duration log_interval = absl::Seconds(10);
  };

  // What to do after one failure.
  struct Decision {
    absl::Duration pause;  // stop accepting for this long
    absl::Time resume_at;  // = now + pause
    bool log = false;      // write one log line now
    // Failures this log line stands for (this one and those not logged since the last line).
    uint64_t failures_since_log = 0;
  };

  AcceptBackoff() : AcceptBackoff(Options{}) {}
  // Non-positive durations are replaced by the defaults; max is at least initial.
  explicit AcceptBackoff(Options options);

  // Records a failed accept at `now`.
  Decision OnFailure(absl::Time now);
  // Records a successful accept: the next failure pauses for `initial` again. The log rate limit
  // is kept (a flapping limit must not log on every failure).
  void OnSuccess();

  // Failures since the last successful accept.
  uint64_t consecutive_failures() const { return consecutive_failures_; }
  const Options& options() const { return options_; }

 private:
  Options options_;
  uint64_t consecutive_failures_ = 0;
  uint64_t unlogged_failures_ = 0;
  absl::Time last_log_ = absl::InfinitePast();
};

}  // namespace lockout::net
