#include "src/net/accept_backoff.h"

#include <algorithm>

#include "src/common/backoff.h"

namespace lockout::net {

AcceptBackoff::AcceptBackoff(Options options) : options_(options) {
  const Options defaults;
  if (options_.initial <= absl::ZeroDuration()) options_.initial = defaults.initial;
  if (options_.max <= absl::ZeroDuration()) options_.max = defaults.max;
  if (options_.log_interval <= absl::ZeroDuration()) options_.log_interval = defaults.log_interval;
  options_.max = std::max(options_.max, options_.initial);
}

AcceptBackoff::Decision AcceptBackoff::OnFailure(absl::Time now) {
  ++consecutive_failures_;
  ++unlogged_failures_;
  Decision d;
  d.pause = ExponentialBackoff(options_.initial, options_.max,
                               static_cast<int>(std::min<uint64_t>(consecutive_failures_, 64)));
  d.resume_at = now + d.pause;
  if (now - last_log_ >= options_.log_interval) {
    d.log = true;
    d.failures_since_log = unlogged_failures_;
    unlogged_failures_ = 0;
    last_log_ = now;
  }
  return d;
}

void AcceptBackoff::OnSuccess() { consecutive_failures_ = 0; }

}  // namespace lockout::net
