#include "src/relay/refusal_log.h"

#include <utility>

#include "src/common/logger.h"

namespace lockout::relay {

RefusalLog::RefusalLog(RelayMetrics* metrics, const Clock* clock, RefusalLogLimits limits)
    : metrics_(metrics),
      clock_(clock),
      limits_(limits),
      bucket_(TokenBucketOptions{.rate_per_second = limits.lines_per_second, .burst = limits.burst},
              *clock) {}

void RefusalLog::Warn(std::string_view event, std::string_view reason,
                      const nlohmann::json& fields) {
  if (bucket_.TryAcquire()) {
    LogWarn(event, fields);
  } else {
    metrics_->RecordLogSuppressed(reason);
    absl::MutexLock lock(&mu_);
    ++unreported_[std::string(reason)];
  }
  MaybeSummarize();
}

void RefusalLog::MaybeSummarize() {
  std::optional<nlohmann::json> summary;
  {
    absl::MutexLock lock(&mu_);
    if (unreported_.empty()) return;
    const absl::Time now = clock_->Now();
    if (last_summary_.has_value() && now - *last_summary_ < limits_.summary_interval) return;
    uint64_t total = 0;
    nlohmann::json by_reason = nlohmann::json::object();
    for (const auto& [reason, count] : unreported_) {
      total += count;
      by_reason[reason] = count;
    }
    summary = nlohmann::json{
        {"suppressed", total},
        {"by_reason", std::move(by_reason)},
        {"lines_per_second", limits_.lines_per_second},
        {"burst", limits_.burst},
        {"detail",
         "warnings about refused requests over the relay's rate limit were not written (the "
         "requests are still counted in lockout_relay_errors_total; suppressed lines in "
         "lockout_relay_log_lines_suppressed_total): a flood of bad requests reaches the relay"}};
    unreported_.clear();
    last_summary_ = now;
  }
  LogWarn("relay_log_suppressed", *summary);
}

}  // namespace lockout::relay
