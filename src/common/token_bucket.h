#pragma once

// TokenBucket: a rate limit with a burst. Tokens refill at `rate_per_second` up to `burst`; a
// caller takes `cost` tokens (1 by default) or is refused and takes nothing. Used for the
// enclave's attested sign replies (one token each, docs/PROTOCOL.md §2) and for the enclave log
// lines the relay writes (one bucket of lines, one of bytes: relay_service.h).
//
// Time comes from an injectable Clock (tests advance a FakeClock). A clock that goes backwards
// refills nothing. Thread-safe (one mutex; two arithmetic steps under it).

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace lockout {

struct TokenBucketOptions {
  double rate_per_second = 100;  // > 0
  uint32_t burst = 20;           // >= 1; the bucket starts full
};

class TokenBucket final {
 public:
  // `clock` must outlive the bucket. Rates <= 0 and a burst of 0 are raised to the smallest
  // usable values (0.001/s, 1).
  TokenBucket(TokenBucketOptions options, const Clock& clock);

  // Takes `cost` tokens if there are that many (a cost over the burst is never granted).
  bool TryAcquire(double cost = 1.0);
  // True if TryAcquire(cost) would succeed now (takes nothing): the cheap check made before a
  // request is queued for the blocking pool.
  bool Available(double cost = 1.0);

  const TokenBucketOptions& options() const { return options_; }

 private:
  void RefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  TokenBucketOptions options_;
  const Clock& clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout
