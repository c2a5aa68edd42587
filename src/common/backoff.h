#pragma once

// Exponential backoff, the one implementation behind every retry and pause in lockout: AWS calls
// (awsclient/retry_policy.h), the enclave's key loading (enclave/key_manager.h) and the accept
// loops' pause when out of descriptors (net/accept_backoff.h).
//
// Thread-safety: pure functions.

#include "absl/time/time.h"

namespace lockout {

// The wait before retry number `retry` (1 = after the first failure): min(max, initial ·
// 2^(retry−1)). A `retry` below 1 counts as 1; large counts do not overflow. Zero if `initial` or
// `max` is not positive.
absl::Duration ExponentialBackoff(absl::Duration initial, absl::Duration max, int retry);

// "Full jitter" (as the AWS SDKs and the AWS Architecture Blog's "Exponential Backoff And
// Jitter" recommend): ExponentialBackoff scaled by `u`, a uniform draw from [0, 1] (clamped).
absl::Duration FullJitterBackoff(absl::Duration initial, absl::Duration max, int retry, double u);

}  // namespace lockout
