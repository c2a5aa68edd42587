#pragma once

// Retries with jittered exponential backoff under a deadline.
//
// Attempt n (1-based) that fails retryably is followed by a sleep drawn uniformly from
// [0, min(max_backoff, initial_backoff * 2^(n-1))] ("full jitter", as the AWS SDKs and the AWS
// Architecture Blog's "Exponential Backoff And Jitter" recommend), unless the attempt budget is
// spent or the sleep would reach the deadline, in which case the last failure is returned.
// Each attempt gets min(attempt_timeout, time left before the deadline).
//
// Time, sleeping and randomness are injectable (RetryEnvironment) so tests count attempts on a
// fake clock instead of timing anything.
// Thread-safety: RunWithRetries is reentrant; the environment's functions must be thread-safe if
// shared between threads (the defaults are).

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace lockout::awsclient {

struct RetryPolicy {
  int max_attempts = 5;  // >= 1; 1 means no retries
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Deadline for the whole call, retries and sleeps included, measured from its start.
  absl::Duration total_timeout = absl::Seconds(30);
  // Upper bound for one attempt (connect + request + response).
  absl::Duration attempt_timeout = absl::Seconds(10);
};

struct RetryEnvironment {
  const Clock* clock = &Clock::Real();
  // Sleeps for the given duration (default absl::SleepFor). A fake can advance a FakeClock.
  std::function<void(absl::Duration)> sleep;
  // Uniform in [0, 1) (default: a per-thread PRNG seeded from std::random_device).
  std::function<double()> uniform01;
};

// The backoff before retry number `retry` (1 = after the first attempt), given `u` in [0, 1).
absl::Duration BackoffDelay(const RetryPolicy& policy, int retry, double u);

// The outcome of one attempt: its status, and whether a failure may be retried.
struct AttemptResult {
  absl::Status status;
  bool retryable = false;
};

// Runs `attempt(attempt_number, timeout)` until it succeeds, fails non-retryably, the attempt
// budget is spent or the deadline would pass. Returns the last attempt's status (code and
// payloads unchanged; when retries were given up the message says after how many attempts and
// why). DeadlineExceeded if no attempt could start before the deadline. `attempts_made`, when
// not null, receives the number of attempts.
absl::Status RunWithRetries(const RetryPolicy& policy, const RetryEnvironment& env,
                            const std::function<AttemptResult(int, absl::Duration)>& attempt,
                            int* attempts_made = nullptr);

}  // namespace lockout::awsclient
