#pragma once

// RefusalLog: the relay's per-request warnings about refused and malformed requests (bad
// requests, unknown request types, names not allowed, framing errors, timeouts, busy), rate
// limited so that whoever reaches the relay's port cannot grow its log by one line per request
// without bound.
//
// Lines pass through a TokenBucket (RefusalLogLimits: 20 lines/s, a burst of 100). A line over it
// is not written but counted by reason (a fixed word, the error kind) in
// lockout_relay_log_lines_suppressed_total{reason}, and one warning "relay_log_suppressed" with
// the counts since the last one is written at most every 10 s (checked on every request, so the
// count of a flood that stopped is reported with the next request). The refused requests
// themselves are counted in lockout_relay_requests_total / lockout_relay_errors_total whether or
// not their line was written.
//
// Thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/common/token_bucket.h"
#include "src/relay/relay_metrics.h"

namespace lockout::relay {

struct RefusalLogLimits {
  double lines_per_second = 20;
  uint32_t burst = 100;
  absl::Duration summary_interval = absl::Seconds(10);
};

class RefusalLog final {
 public:
  // `metrics` and `clock` must not be null and must outlive this.
  RefusalLog(RelayMetrics* metrics, const Clock* clock, RefusalLogLimits limits = {});

  // Writes `event` with `fields` at warn level if within the rate, else counts it under
  // `reason` (a fixed word: never peer input). Then writes the summary if one is due.
  void Warn(std::string_view event, std::string_view reason, const nlohmann::json& fields);
  // Writes the summary if lines were suppressed and none was written for summary_interval.
  void MaybeSummarize();

 private:
  RelayMetrics* metrics_;
  const Clock* clock_;
  RefusalLogLimits limits_;
  TokenBucket bucket_;
  absl::Mutex mu_;
  std::map<std::string, uint64_t, std::less<>> unreported_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> last_summary_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::relay
