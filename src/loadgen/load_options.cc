#include "src/loadgen/load_options.h"

#include "absl/strings/str_cat.h"

namespace lockout::loadgen {

std::string_view ProtocolName(Protocol protocol) { return protocol == Protocol::kV1 ? "v1" : "v2"; }

absl::Status ValidateLoadOptions(const LoadOptions& o, uint32_t cpu_count) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(what); };
  if (!o.endpoint.has_value()) return bad("--connect URI is required");
  if (o.connections < 1 || o.connections > kMaxConnections) {
    return bad(absl::StrCat("--connections must be 1..", kMaxConnections));
  }
  if (o.pipeline < 1 || o.pipeline > kMaxPipeline) {
    return bad(absl::StrCat("--pipeline must be 1..", kMaxPipeline));
  }
  if (o.duration <= absl::ZeroDuration() || o.duration > kMaxDuration) {
    return bad("--duration must be more than 0 and at most 86400 seconds");
  }
  if (o.warmup < absl::ZeroDuration() || o.warmup > kMaxDuration) {
    return bad("--warmup must be 0..86400 seconds");
  }
  if (o.rate.has_value() && !(*o.rate > 0 && *o.rate <= kMaxRate)) {
    return bad(absl::StrCat("--rate must be more than 0 and at most ", kMaxRate, " per second"));
  }
  if (cpu_count < 1) cpu_count = 1;
  if (o.threads < 1 || o.threads > cpu_count) {
    return bad(absl::StrCat("--threads must be 1..", cpu_count, " (the CPUs available)"));
  }
  if (o.threads > o.connections) return bad("--threads must be at most --connections");
  if (o.message_size < 1 || o.message_size > kMaxMessageSize) {
    return bad(absl::StrCat("--message-size must be 1..", kMaxMessageSize, " bytes"));
  }
  if (o.verify_sample > kMaxVerifySample) {
    return bad(absl::StrCat("--verify-sample must be 0..", kMaxVerifySample));
  }
  if (o.request_timeout <= absl::ZeroDuration()) return bad("--timeout must be more than 0");
  return absl::OkStatus();
}

}  // namespace lockout::loadgen
