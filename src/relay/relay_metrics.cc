#include "src/relay/relay_metrics.h"

#include <array>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::relay {
namespace {

// Label values are escaped as the exposition format requires (\\, \", \n).
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Shortest text that reads back as the same double ("0.005", "2.5", "3600", "1e+300").
std::string Number(double v) {
  std::array<char, 64> buf;
  const std::to_chars_result r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  absl::StrAppend(&out, "# HELP ", Absl(name), " ", Absl(help), "\n# TYPE ", Absl(name), " ",
                  Absl(type), "\n");
}

}  // namespace

const std::vector<double>& RelayMetrics::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10,  30};
  return kBuckets;
}

RelayMetrics::RelayMetrics(const Clock* clock) : clock_(clock) {
  for (std::string_view kind : {kKindBadRequest, kKindUnknownRequestType, kKindDenied,
                                kKindSecretUnavailable, kKindUpstreamUnavailable, kKindInternal,
                                kKindFraming, kKindTimeout, kKindBusy, kKindWrite}) {
    errors_[std::string(kind)] = 0;
  }
}

void RelayMetrics::RecordRequest(std::string_view type, std::string_view result) {
  absl::MutexLock lock(&mu_);
  ++requests_[{std::string(type), std::string(result)}];
}

void RelayMetrics::RecordError(std::string_view kind) {
  absl::MutexLock lock(&mu_);
  ++errors_[std::string(kind)];
}

void RelayMetrics::ObserveUpstreamLatency(std::string_view operation, absl::Duration latency) {
  const double seconds = absl::ToDoubleSeconds(latency);
  const std::vector<double>& bounds = LatencyBuckets();
  absl::MutexLock lock(&mu_);
  Histogram& h = latency_[std::string(operation)];
  if (h.buckets.empty()) h.buckets.assign(bounds.size(), 0);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void RelayMetrics::SetCredentialsExpiration(absl::Time expiration) {
  absl::MutexLock lock(&mu_);
  credentials_expiration_ = expiration;
}

void RelayMetrics::SetCredentialsMemoryLocked(bool locked) {
  absl::MutexLock lock(&mu_);
  credentials_memory_locked_ = locked;
}

std::optional<bool> RelayMetrics::credentials_memory_locked() const {
  absl::MutexLock lock(&mu_);
  return credentials_memory_locked_;
}

void RelayMetrics::ConnectionOpened() {
  absl::MutexLock lock(&mu_);
  ++connections_active_;
  ++connections_total_;
}

void RelayMetrics::ConnectionClosed() {
  absl::MutexLock lock(&mu_);
  --connections_active_;
}

void RelayMetrics::RecordEnclaveReport(size_t lines, size_t lines_dropped,
                                       std::vector<std::pair<std::string, uint64_t>> counters,
                                       uint64_t dropped) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  enclave_log_lines_ += lines;
  enclave_log_lines_rate_limited_ += lines_dropped;
  enclave_report_time_ = now;
  enclave_dropped_ = dropped;
  enclave_counters_ = std::move(counters);
}

void RelayMetrics::RecordLogSuppressed(std::string_view reason) {
  absl::MutexLock lock(&mu_);
  ++log_suppressed_[std::string(reason)];
}

uint64_t RelayMetrics::log_suppressed(std::string_view reason) const {
  absl::MutexLock lock(&mu_);
  auto it = log_suppressed_.find(reason);
  return it == log_suppressed_.end() ? 0 : it->second;
}

uint64_t RelayMetrics::enclave_log_lines_dropped() const {
  absl::MutexLock lock(&mu_);
  return enclave_log_lines_rate_limited_;
}

std::optional<uint64_t> RelayMetrics::enclave_counter(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [n, value] : enclave_counters_) {
    if (n == name) return value;
  }
  return std::nullopt;
}

std::string RelayMetrics::RenderPrometheus() const {
  const absl::Time now = clock_->Now();
  const std::vector<double>& bounds = LatencyBuckets();
  absl::MutexLock lock(&mu_);
  std::string out;
  Header(out, "lockout_relay_requests_total", "counter",
         "Requests answered, by request type and result.");
  for (const auto& [key, n] : requests_) {
    absl::StrAppend(&out, "lockout_relay_requests_total{type=\"", LabelValue(key.first),
                    "\",result=\"", LabelValue(key.second), "\"} ", n, "\n");
  }
  Header(out, "lockout_relay_errors_total", "counter",
         "Error replies and failed connections, by kind.");
  for (const auto& [kind, n] : errors_) {
    absl::StrAppend(&out, "lockout_relay_errors_total{kind=\"", LabelValue(kind), "\"} ", n, "\n");
  }
  Header(out, "lockout_relay_log_lines_suppressed_total", "counter",
         "Warnings about refused requests not written: over the relay's log rate limit, by "
         "reason (the error kind).");
  for (const auto& [reason, n] : log_suppressed_) {
    absl::StrAppend(&out, "lockout_relay_log_lines_suppressed_total{reason=\"", LabelValue(reason),
                    "\"} ", n, "\n");
  }
  Header(out, "lockout_relay_upstream_latency_seconds", "histogram",
         "Latency of IMDS and Secrets Manager calls, retries included.");
  for (const auto& [op, h] : latency_) {
    const std::string label = LabelValue(op);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative += h.buckets[i];
      absl::StrAppend(&out, "lockout_relay_upstream_latency_seconds_bucket{operation=\"", label,
                      "\",le=\"", Number(bounds[i]), "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, "lockout_relay_upstream_latency_seconds_bucket{operation=\"", label,
                    "\",le=\"+Inf\"} ", h.count, "\n");
    absl::StrAppend(&out, "lockout_relay_upstream_latency_seconds_sum{operation=\"", label, "\"} ",
                    Number(h.sum), "\n");
    absl::StrAppend(&out, "lockout_relay_upstream_latency_seconds_count{operation=\"", label,
                    "\"} ", h.count, "\n");
  }
  Header(out, "lockout_relay_credentials_expiry_seconds", "gauge",
         "Seconds until the cached instance role credentials expire.");
  if (credentials_expiration_.has_value()) {
    absl::StrAppend(&out, "lockout_relay_credentials_expiry_seconds ",
                    Number(absl::ToDoubleSeconds(*credentials_expiration_ - now)), "\n");
  }
  if (credentials_memory_locked_.has_value()) {
    Header(out, "lockout_relay_credentials_memory_locked", "gauge",
           "1 if the cached role credentials are locked in RAM (mlock), 0 if refused.");
    absl::StrAppend(&out, "lockout_relay_credentials_memory_locked ",
                    *credentials_memory_locked_ ? 1 : 0, "\n");
  }
  Header(out, "lockout_relay_connections_active", "gauge", "Connections being served.");
  absl::StrAppend(&out, "lockout_relay_connections_active ", connections_active_, "\n");
  Header(out, "lockout_relay_connections_total", "counter", "Connections accepted.");
  absl::StrAppend(&out, "lockout_relay_connections_total ", connections_total_, "\n");
  Header(out, "lockout_relay_enclave_log_lines_total", "counter",
         "Enclave log lines written (append_log).");
  absl::StrAppend(&out, "lockout_relay_enclave_log_lines_total ", enclave_log_lines_, "\n");
  Header(out, "lockout_relay_enclave_log_lines_dropped_total", "counter",
         "Enclave log lines not written: over the relay's rate limit (--enclave-log-lines-per-"
         "second, --enclave-log-bytes-per-second).");
  absl::StrAppend(&out, "lockout_relay_enclave_log_lines_dropped_total ",
                  enclave_log_lines_rate_limited_, "\n");
  if (enclave_report_time_.has_value()) {
    Header(out, "lockout_relay_enclave_report_age_seconds", "gauge",
           "Seconds since the enclave last sent its log and counters.");
    absl::StrAppend(&out, "lockout_relay_enclave_report_age_seconds ",
                    Number(absl::ToDoubleSeconds(now - *enclave_report_time_)), "\n");
    Header(out, "lockout_enclave_log_lines_dropped", "untyped",
           "Log lines the enclave could not keep for the relay, as it last reported.");
    absl::StrAppend(&out, "lockout_enclave_log_lines_dropped ", enclave_dropped_, "\n");
  }
  // Names were checked by the protocol decoder ([a-z][a-z0-9_]*): valid metric names as they are.
  for (const auto& [name, value] : enclave_counters_) {
    if (name == "log_lines_dropped") continue;  // the relay's own series above
    const std::string metric = absl::StrCat("lockout_enclave_", name);
    Header(out, metric, "untyped", "The enclave's counter, as it last reported it.");
    absl::StrAppend(&out, metric, " ", value, "\n");
  }
  return out;
}

uint64_t RelayMetrics::requests(std::string_view type, std::string_view result) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find({std::string(type), std::string(result)});
  return it == requests_.end() ? 0 : it->second;
}

uint64_t RelayMetrics::errors(std::string_view kind) const {
  absl::MutexLock lock(&mu_);
  auto it = errors_.find(kind);
  return it == errors_.end() ? 0 : it->second;
}

uint64_t RelayMetrics::upstream_calls(std::string_view operation) const {
  absl::MutexLock lock(&mu_);
  auto it = latency_.find(operation);
  return it == latency_.end() ? 0 : it->second.count;
}

int64_t RelayMetrics::connections_active() const {
  absl::MutexLock lock(&mu_);
  return connections_active_;
}

}  // namespace lockout::relay
