#include "src/common/token_bucket.h"

#include <algorithm>

namespace lockout {

TokenBucket::TokenBucket(TokenBucketOptions options, const Clock& clock)
    : options_(options), clock_(clock) {
  options_.rate_per_second = std::max(options_.rate_per_second, 0.001);
  options_.burst = std::max<uint32_t>(options_.burst, 1);
  tokens_ = options_.burst;
  last_ = clock_.Now();
}

void TokenBucket::RefillLocked() {
  const absl::Time now = clock_.Now();
  if (now <= last_) return;  // no time passed, or the clock went backwards: nothing refills
  const double seconds = absl::ToDoubleSeconds(now - last_);
  tokens_ = std::min<double>(options_.burst, tokens_ + seconds * options_.rate_per_second);
  last_ = now;
}

bool TokenBucket::TryAcquire(double cost) {
  absl::MutexLock lock(&mu_);
  RefillLocked();
  if (!(tokens_ >= cost)) return false;
  tokens_ -= cost;
  return true;
}

bool TokenBucket::Available(double cost) {
  absl::MutexLock lock(&mu_);
  RefillLocked();
  return tokens_ >= cost;
}

}  // namespace lockout
