#include "src/common/backoff.h"

#include <algorithm>
#include <cstdint>

namespace lockout {

absl::Duration ExponentialBackoff(absl::Duration initial, absl::Duration max, int retry) {
  if (initial <= absl::ZeroDuration() || max <= absl::ZeroDuration()) return absl::ZeroDuration();
  // Cap the exponent so the multiplication cannot overflow; `max` bounds the result anyway.
  const int exponent = std::clamp(retry - 1, 0, 30);
  return std::min(initial * static_cast<int64_t>(int64_t{1} << exponent), max);
}

absl::Duration FullJitterBackoff(absl::Duration initial, absl::Duration max, int retry, double u) {
  return ExponentialBackoff(initial, max, retry) * std::clamp(u, 0.0, 1.0);
}

}  // namespace lockout
