#pragma once

// RelayService: what lockout-relay does with one request frame, independent of sockets.
//
// For get_secret: decode (relay_protocol.h), check the name against the allowlist, get the role
// credentials and the secret value from the upstream, and build the reply frame (in the
// request's frame kind) in secret memory. Every failure becomes one of the generic error replies
// for the peer, while the log line says precisely what happened:
//
//   malformed request                         -> "bad request"          (bad_request)
//   request_type other than get_secret        -> "unknown request_type" (unknown_request_type)
//   name not on the allowlist                 -> "secret not allowed"   (denied, logged as such)
//   credentials unavailable (IMDS)            -> "upstream unavailable" (upstream_unavailable)
//   Secrets Manager: no such secret, access
//   denied, unusable value                    -> "secret unavailable"   (secret_unavailable)
//   Secrets Manager: throttled, 5xx, timeout  -> "upstream unavailable" (upstream_unavailable)
//   anything else                             -> "internal error"       (internal)
//
// For append_audit: the lines go to the AuditWriter given to WriteAuditTo (--audit-log), which
// checks each is an audit record and syncs them before the reply; "no audit log" (denied)
// without one, "bad request" for a line that is not a record, "audit write failed" (internal)
// when the file cannot be written.
//
// For append_log: the enclave's log lines are written to the relay's log (JSON lines, each with
// "source":"enclave", whatever the level filter) and its counters go to the metrics
// (lockout_enclave_<name>); the request itself is logged at debug level. Whoever reaches the
// relay's port can send append_log, so the lines written are rate limited (EnclaveLogLimits: a
// token bucket of lines and one of bytes, as AppendLogLineSize counts them): a line over either
// is not written but counted (lockout_relay_enclave_log_lines_dropped_total), and one warning
// "enclave_log_rate_limited" with the count since the last one is logged at most every 10 s.
// The reply's "appended" is the number of lines written.
//
// For get_signing_policy: the policy text given to ServeSigningPolicy (lockout-relay
// --signing-policy FILE), or "no signing policy" (denied) without one. No upstream call.
//
// For get_credentials: the role credentials alone, built in secret memory as for get_secret
// ("upstream unavailable" when they cannot be had).
//
// For put_secret: the name must be on the allowlist ("secret not allowed"); the value is stored
// as SecretBinary with CreateSecret, so a secret that exists is refused ("secret exists",
// denied) unless AllowOverwrite (lockout-relay --allow-overwrite; then PutSecretValue). Other
// Secrets Manager failures map as for get_secret.
//
// A SecretString value is accepted when it is strict base64 (a ciphertext stored as text) and
// forwarded as those bytes; a SecretBinary is forwarded as is.
//
// Logs: one JSON line per request, event "relay_request", with request_id, peer, op,
// secret_name (validated printable ASCII), sizes, status, detail, latency_ms and
// upstream_latency_ms. Never the secret value, credentials or reply bytes. The warnings about
// refused requests (bad_request, unknown_request_type, denied; and RelayServer's framing,
// timeout, busy and write errors) go through refusal_log() and are rate limited
// (refusal_log.h); the requests are counted in the metrics regardless.
//
// Thread-safety: Handle is thread-safe if the upstream is.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"
#include "src/common/token_bucket.h"
#include "src/net/frame_decoder.h"
#include "src/relay/audit_writer.h"
#include "src/relay/refusal_log.h"
#include "src/relay/relay_metrics.h"
#include "src/relay/relay_upstream.h"
#include "src/relay/secret_allowlist.h"

namespace lockout::relay {

// The rate of enclave log lines (append_log) the relay writes into its own log. Each bucket
// holds `burst_seconds` of its rate, and at least one full append_log request (kMaxLogLines
// lines, kMaxRequestSize bytes), so a quiet enclave's whole batch always gets through.
struct EnclaveLogLimits {
  double lines_per_second = 200;        // lockout-relay --enclave-log-lines-per-second
  double bytes_per_second = 128 << 10;  // lockout-relay --enclave-log-bytes-per-second
  double burst_seconds = 5;
};

class RelayService final {
 public:
  // `upstream`, `metrics` and `clock` must not be null and must outlive the service.
  RelayService(RelayUpstream* upstream, SecretAllowlist allowlist, RelayMetrics* metrics,
               const Clock* clock = &Clock::Real());

  // Handles one request frame and returns the complete reply frame (same kind as the request).
  // Never fails: problems become error replies.
  SecretBytes Handle(const net::Frame& request, uint64_t request_id, std::string_view peer);

  // An error reply frame for a failure below the protocol (framing, timeout, busy), counted in
  // lockout_relay_errors_total{kind} and lockout_relay_requests_total{type="invalid"}.
  SecretBytes ConnectionError(std::string_view kind, std::string_view message,
                              net::FrameKind frame_kind = net::FrameKind::kV1);

  const SecretAllowlist& allowlist() const { return allowlist_; }

  // The rate-limited warnings about refused requests, shared with RelayServer.
  RefusalLog& refusal_log() { return refusal_log_; }

  // Serve `policy_text` to get_signing_policy requests (checked by the caller: lockout-relay
  // parses it with signpolicy::ParseSigningPolicy before serving). Call before Handle.
  void ServeSigningPolicy(std::string policy_text) { signing_policy_ = std::move(policy_text); }

  // Append the enclave's audit records (append_audit) with `writer` (lockout-relay --audit-log;
  // not owned, must outlive the service). Without one, append_audit is answered "no audit log".
  // Call before Handle.
  void WriteAuditTo(AuditWriter* writer) { audit_writer_ = writer; }

  // put_secret may replace an existing secret (lockout-relay --allow-overwrite). Call before
  // Handle.
  void AllowOverwrite(bool allow) { allow_overwrite_ = allow; }

  // Replaces the default EnclaveLogLimits (lockout-relay --enclave-log-*-per-second; rates must
  // be > 0: lower ones are raised to the smallest usable). Call before Handle.
  void LimitEnclaveLog(EnclaveLogLimits limits);

 private:
  static void WriteEnclaveLine(nlohmann::json line);
  // Which of `lines` fit the rate limit now (takes their tokens); counts and warns about the rest.
  std::vector<bool> AdmitEnclaveLines(const std::vector<nlohmann::json>& lines);

  RelayUpstream* upstream_;
  SecretAllowlist allowlist_;
  RelayMetrics* metrics_;
  const Clock* clock_;
  std::optional<std::string> signing_policy_;
  AuditWriter* audit_writer_ = nullptr;
  bool allow_overwrite_ = false;
  RefusalLog refusal_log_;

  absl::Mutex log_mu_;  // the two buckets are taken together
  EnclaveLogLimits log_limits_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<TokenBucket> log_lines_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<TokenBucket> log_bytes_ ABSL_GUARDED_BY(log_mu_);
  uint64_t log_unreported_drops_ ABSL_GUARDED_BY(log_mu_) = 0;
  std::optional<absl::Time> log_last_warning_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace lockout::relay
