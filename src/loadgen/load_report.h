#pragma once

// The figures of one load run, and their two renderings (a table for people, one JSON object for
// scripts). Value type.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "src/loadgen/latency_histogram.h"
#include "src/loadgen/load_options.h"

namespace lockout::loadgen {

struct LoadReport {
  std::string endpoint;
  Protocol protocol = Protocol::kV2;
  uint32_t connections = 0;
  uint32_t pipeline = 0;  // requests in flight per connection actually used (v1: 1)
  uint32_t threads = 0;
  double duration_s = 0;  // the measured window
  double warmup_s = 0;
  std::optional<double> requested_rate;  // open loop only

  // Requests whose (scheduled, in open loop) start fell in the measured window.
  uint64_t scheduled = 0;  // open loop: arrivals the schedule put in the window
  uint64_t sent = 0;
  uint64_t signatures_ok = 0;
  // Error reason -> count: the enclave's error strings ("busy", "key not loaded", ...),
  // "timeout", "connect: <errno text>", "connection closed", "bad reply", "authenticator".
  std::map<std::string, uint64_t> errors;
  // Latency of the successful signatures, from send (closed loop) or scheduled send (open loop)
  // to the complete reply.
  LatencyHistogram latency;

  uint32_t verify_requested = 0;
  uint64_t verified = 0;
  uint64_t verify_failures = 0;
  std::string first_verify_failure;  // the verifier's message, no data

  uint64_t error_count() const;
  double throughput() const {
    return duration_s > 0 ? static_cast<double>(signatures_ok) / duration_s : 0;
  }
  double achieved_rate() const {
    return duration_s > 0 ? static_cast<double>(sent) / duration_s : 0;
  }
  // True when the run signed something, had no error, and every verified signature held.
  bool ok() const { return signatures_ok > 0 && error_count() == 0 && verify_failures == 0; }
};

// {"endpoint", "protocol", "mode" ("closed"|"open"), "connections", "pipeline", "threads",
//  "duration_s", "warmup_s", "requested_rate" (null in closed loop), "achieved_rate",
//  "scheduled", "sent", "signatures_ok", "errors" {reason: n}, "error_count",
//  "throughput_per_s", "latency_ms" {"min","mean","p50","p90","p99","p99_9","max"},
//  "verify" {"requested","verified","failed"}, "ok"}
nlohmann::json ReportToJson(const LoadReport& report);

// A human-readable table, newline-terminated.
std::string ReportToText(const LoadReport& report);

}  // namespace lockout::loadgen
