#pragma once

// RelayMetrics: lockout-relay's counters, served in the Prometheus text exposition format
// (version 0.0.4) on the --metrics endpoint:
//
//   lockout_relay_requests_total{type,result}            counter: requests answered
//   lockout_relay_errors_total{kind}                     counter: error replies and failed
//                                                        connections (framing, timeout, ...)
//   lockout_relay_log_lines_suppressed_total{reason}     counter: warnings about refused
//                                                        requests not written, over the log's
//                                                        rate limit (refusal_log.h)
//   lockout_relay_upstream_latency_seconds{operation}    histogram: IMDS / Secrets Manager calls
//   lockout_relay_credentials_expiry_seconds             gauge: seconds until the cached role
//                                                        credentials expire (absent before the
//                                                        first fetch; negative once expired)
//   lockout_relay_credentials_memory_locked              gauge: 1 if the cached role credentials
//                                                        are mlock()ed, 0 if the kernel refused
//                                                        (RLIMIT_MEMLOCK); absent before the
//                                                        first fetch
//   lockout_relay_connections_active                     gauge
//   lockout_relay_connections_total                      counter
//   lockout_relay_enclave_log_lines_total                counter: enclave log lines written
//                                                        (append_log)
//   lockout_relay_enclave_log_lines_dropped_total        counter: enclave log lines not written,
//                                                        over the relay's rate limit
//   lockout_relay_enclave_report_age_seconds             gauge: seconds since the enclave's last
//                                                        append_log (absent before the first)
//   lockout_enclave_log_lines_dropped                    untyped: lines the enclave could not keep
//                                                        for the relay, as it last reported
//   lockout_enclave_<name>                               untyped: the enclave's counters as it
//                                                        last reported them (append_log; at most
//                                                        64 names of [a-z][a-z0-9_]*, checked by
//                                                        the protocol decoder)
//
// Label values are the relay's own fixed words (never peer input, never secret names: a name
// that is not allowed is the peer's text). Every error kind below starts at 0 so alerts on
// rate(lockout_relay_errors_total[5m]) see a series from the start.
//
// Thread-safety: all methods are thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"

namespace lockout::relay {

// Error kinds (lockout_relay_errors_total{kind}); request results that are errors use the same
// words in lockout_relay_requests_total{result}.
inline constexpr std::string_view kKindBadRequest = "bad_request";
inline constexpr std::string_view kKindUnknownRequestType = "unknown_request_type";
inline constexpr std::string_view kKindDenied = "denied";
inline constexpr std::string_view kKindSecretUnavailable = "secret_unavailable";
inline constexpr std::string_view kKindUpstreamUnavailable = "upstream_unavailable";
inline constexpr std::string_view kKindInternal = "internal";
inline constexpr std::string_view kKindFraming = "framing";  // garbage, oversized, truncated
inline constexpr std::string_view kKindTimeout = "timeout";  // peer too slow mid-request
inline constexpr std::string_view kKindBusy =
    "busy";  // worker pool full, or over --max-connections
inline constexpr std::string_view kKindWrite = "write";  // reply could not be written

// Upstream operations (lockout_relay_upstream_latency_seconds{operation}).
inline constexpr std::string_view kOpImdsCredentials = "imds_credentials";
inline constexpr std::string_view kOpGetSecretValue = "get_secret_value";
inline constexpr std::string_view kOpPutSecret = "put_secret";  // CreateSecret / PutSecretValue

class RelayMetrics final {
 public:
  // `clock` (not null, outlives this) is read when rendering the expiry gauge.
  explicit RelayMetrics(const Clock* clock = &Clock::Real());

  // `type`: "get_secret", "unknown" (unknown request_type) or "invalid" (not a request);
  // `result`: "ok" or one of the error kinds.
  void RecordRequest(std::string_view type, std::string_view result);
  void RecordError(std::string_view kind);
  void ObserveUpstreamLatency(std::string_view operation, absl::Duration latency);
  void SetCredentialsExpiration(absl::Time expiration);
  void SetCredentialsMemoryLocked(bool locked);
  void ConnectionOpened();
  void ConnectionClosed();
  // An append_log from the enclave: `lines` written, `lines_dropped` not (over the relay's rate
  // limit), its counters (replacing the previous
  // report's: an enclave that restarted starts again from zero) and its dropped-line count.
  void RecordEnclaveReport(size_t lines, size_t lines_dropped,
                           std::vector<std::pair<std::string, uint64_t>> counters,
                           uint64_t dropped);

  // A warning about a refused request was not written (refusal_log.h); `reason`: an error kind.
  void RecordLogSuppressed(std::string_view reason);

  // The exposition text.
  std::string RenderPrometheus() const;

  // For tests.
  uint64_t requests(std::string_view type, std::string_view result) const;
  uint64_t errors(std::string_view kind) const;
  uint64_t upstream_calls(std::string_view operation) const;
  int64_t connections_active() const;
  std::optional<bool> credentials_memory_locked() const;
  std::optional<uint64_t> enclave_counter(std::string_view name) const;
  uint64_t enclave_log_lines_dropped() const;
  uint64_t log_suppressed(std::string_view reason) const;

  // Histogram bucket upper bounds, seconds.
  static const std::vector<double>& LatencyBuckets();

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative counts are computed when rendering
    uint64_t count = 0;
    double sum = 0;
  };

  const Clock* clock_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> errors_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> log_suppressed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Histogram, std::less<>> latency_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> credentials_expiration_ ABSL_GUARDED_BY(mu_);
  std::optional<bool> credentials_memory_locked_ ABSL_GUARDED_BY(mu_);
  int64_t connections_active_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t connections_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t enclave_log_lines_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t enclave_log_lines_rate_limited_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Time> enclave_report_time_ ABSL_GUARDED_BY(mu_);
  uint64_t enclave_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, uint64_t>> enclave_counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::relay
