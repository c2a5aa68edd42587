#pragma once

// What a load run does (`lockout bench`), and the checks on it. Value type.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/net/endpoint.h"

namespace lockout::loadgen {

enum class Protocol { kV1, kV2 };

inline constexpr uint32_t kMaxConnections = 10000;
inline constexpr uint32_t kMaxPipeline = 4096;
inline constexpr size_t kMaxMessageSize = 256 * 1024;
inline constexpr double kMaxRate = 10'000'000;
inline constexpr uint32_t kMaxVerifySample = 100'000;
inline constexpr absl::Duration kMaxDuration = absl::Hours(24);

struct LoadOptions {
  std::optional<net::Endpoint> endpoint;
  Protocol protocol = Protocol::kV2;
  // Lanes: v2 connections kept open; v1 concurrent one-request connections.
  uint32_t connections = 1;
  // v2 only: requests in flight per connection. v1 is always 1 (a connection per request).
  uint32_t pipeline = 64;
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(1);
  // Open loop at this many requests/s across all connections; nullopt = closed loop.
  std::optional<double> rate;
  uint32_t threads = 1;
  size_t message_size = 32;
  // Signatures to verify: a uniform sample of the measured part of the run, checked afterwards.
  uint32_t verify_sample = 100;
  // A request without a reply after this long counts as a "timeout" error; its connection is
  // closed (replies come in order, so nothing behind it can arrive sooner).
  absl::Duration request_timeout = absl::Seconds(10);

  // The pipeline depth actually used: `pipeline` for v2, 1 for v1.
  uint32_t window() const { return protocol == Protocol::kV1 ? 1 : pipeline; }
};

// InvalidArgument naming the option (as the CLI spells it) when a value is out of range:
// no endpoint, connections 1..kMaxConnections, pipeline 1..kMaxPipeline, duration > 0 and at
// most kMaxDuration, warmup >= 0, rate > 0 and at most kMaxRate, threads 1..cpu_count and at
// most connections, message_size 1..kMaxMessageSize, verify_sample 0..kMaxVerifySample,
// request_timeout > 0.
absl::Status ValidateLoadOptions(const LoadOptions& options, uint32_t cpu_count);

std::string_view ProtocolName(Protocol protocol);

}  // namespace lockout::loadgen
