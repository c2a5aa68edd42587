#pragma once

// TokenBucket: the rate limit on attested sign replies (docs/PROTOCOL.md §2, "Attested
// replies"). Each attested sign takes one token before anything is signed; tokens refill at
// `rate_per_second` up to `burst`. With none left the request is answered "busy" and nothing is
// signed, so a flood of attested requests cannot monopolise the NSM or the blocking pool (plain
// signing never takes a token).
//
// Time comes from an injectable Clock (tests advance a FakeClock). A clock that goes backwards
// refills nothing. Thread-safe (one mutex; two arithmetic steps under it).

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace lockout::enclave {

struct TokenBucketOptions {
  double rate_per_second = 100;  // > 0
  uint32_t burst = 20;           // >= 1; the bucket starts full
};

class TokenBucket final {
 public:
  // `clock` must outlive the bucket. Rates <= 0 and a burst of 0 are raised to the smallest
  // usable values (0.001/s, 1).
  TokenBucket(TokenBucketOptions options, const Clock& clock);

  // Takes one token if there is one.
  bool TryAcquire();
  // True if TryAcquire would succeed now (takes nothing): the cheap check made before a request
  // is queued for the blocking pool.
  bool Available();

  const TokenBucketOptions& options() const { return options_; }

 private:
  void RefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  TokenBucketOptions options_;
  const Clock& clock_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::enclave
