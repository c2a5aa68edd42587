#include "src/loadgen/load_report.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lockout::loadgen {
namespace {

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Three decimals in JSON: microsecond resolution, no float noise.
double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

uint64_t LoadReport::error_count() const {
  uint64_t n = 0;
  for (const auto& [reason, count] : errors) n += count;
  return n;
}

nlohmann::json ReportToJson(const LoadReport& r) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [reason, count] : r.errors) errors[reason] = count;
  const LatencyHistogram& h = r.latency;
  return {
      {"endpoint", r.endpoint},
      {"protocol", std::string(ProtocolName(r.protocol))},
      {"mode", r.requested_rate.has_value() ? "open" : "closed"},
      {"connections", r.connections},
      {"pipeline", r.pipeline},
      {"threads", r.threads},
      {"duration_s", Round3(r.duration_s)},
      {"warmup_s", Round3(r.warmup_s)},
      {"requested_rate",
       r.requested_rate.has_value() ? nlohmann::json(*r.requested_rate) : nlohmann::json()},
      {"achieved_rate", Round3(r.achieved_rate())},
      {"scheduled", r.scheduled},
      {"sent", r.sent},
      {"signatures_ok", r.signatures_ok},
      {"errors", errors},
      {"error_count", r.error_count()},
      {"throughput_per_s", Round3(r.throughput())},
      {"latency_ms",
       {{"min", Round3(Ms(h.min()))},
        {"mean", Round3(h.mean() / 1e6)},
        {"p50", Round3(Ms(h.Percentile(50)))},
        {"p90", Round3(Ms(h.Percentile(90)))},
        {"p99", Round3(Ms(h.Percentile(99)))},
        {"p99_9", Round3(Ms(h.Percentile(99.9)))},
        {"max", Round3(Ms(h.max()))}}},
      {"verify",
       {{"requested", r.verify_requested},
        {"verified", r.verified},
        {"failed", r.verify_failures}}},
      {"ok", r.ok()},
  };
}

std::string ReportToText(const LoadReport& r) {
  const LatencyHistogram& h = r.latency;
  std::string out;
  auto row = [&out](std::string_view name, std::string_view value) {
    absl::StrAppendFormat(&out, "  %-22s %s\n", name, value);
  };
  absl::StrAppend(&out, "lockout bench ", r.endpoint, "\n");
  row("protocol", absl::StrFormat("%s, %u connection(s) x %u in flight, %u thread(s)",
                                  ProtocolName(r.protocol), r.connections, r.pipeline, r.threads));
  row("mode", r.requested_rate.has_value()
                  ? absl::StrFormat("open loop, %.1f requests/s requested", *r.requested_rate)
                  : std::string("closed loop"));
  row("duration",
      absl::StrFormat("%.2f s measured (after %.2f s warm-up)", r.duration_s, r.warmup_s));
  if (r.requested_rate.has_value()) {
    row("achieved rate",
        absl::StrFormat("%.1f requests/s (%.1f%% of requested; %u scheduled)", r.achieved_rate(),
                        100.0 * r.achieved_rate() / *r.requested_rate, r.scheduled));
  }
  row("requests sent", absl::StrCat(r.sent));
  row("signatures ok", absl::StrCat(r.signatures_ok));
  row("errors", absl::StrCat(r.error_count()));
  for (const auto& [reason, count] : r.errors) {
    absl::StrAppendFormat(&out, "    %-20s %u\n", reason, count);
  }
  row("throughput", absl::StrFormat("%.1f signatures/s", r.throughput()));
  row("latency (ms)",
      h.count() == 0 ? std::string("no successful request")
                     : absl::StrFormat("p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f",
                                       Ms(h.Percentile(50)), Ms(h.Percentile(90)),
                                       Ms(h.Percentile(99)), Ms(h.Percentile(99.9)), Ms(h.max())));
  row("verified", absl::StrFormat("%u of %u requested, %u failed", r.verified, r.verify_requested,
                                  r.verify_failures));
  if (!r.first_verify_failure.empty()) row("first failure", r.first_verify_failure);
  row("result", r.ok() ? "ok" : "FAILED");
  return out;
}

}  // namespace lockout::loadgen
