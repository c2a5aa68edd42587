#include "src/relay/relay_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/failure_hint.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/relay/relay_protocol.h"

namespace lockout::relay {
namespace {

// The outcome of one request, for the reply, the metrics and the log line.
struct Outcome {
  std::string_view kind;     // "ok" or an error kind (relay_metrics.h)
  std::string_view message;  // the generic error message for the peer
  std::string detail;        // the specific reason, for the log only
};

Outcome Fail(std::string_view kind, std::string_view message, const absl::Status& status) {
  return Outcome{kind, message, std::string(status.message())};
}

// Secrets Manager failures the enclave cannot fix by retrying vs those it can.
bool IsPermanentSecretError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

}  // namespace

void RelayService::WriteEnclaveLine(nlohmann::json line) {
  // ts, level and event first, as in every log line; "source" says whose line it is (an
  // enclave's own "source" member is overwritten, so it cannot pass for the relay's).
  nlohmann::ordered_json out;
  for (const char* key : {"ts", "level", "event"}) {
    if (auto it = line.find(key); it != line.end()) {
      out[key] = std::move(*it);
      line.erase(key);
    }
  }
  out["source"] = "enclave";
  line.erase("source");
  for (auto& [key, value] : line.items()) out[key] = std::move(value);
  Logger::Default().WriteLine(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

RelayService::RelayService(RelayUpstream* upstream, SecretAllowlist allowlist,
                           RelayMetrics* metrics, const Clock* clock)
    : upstream_(upstream),
      allowlist_(std::move(allowlist)),
      metrics_(metrics),
      clock_(clock),
      refusal_log_(metrics, clock) {
  LimitEnclaveLog(EnclaveLogLimits{});
}

void RelayService::LimitEnclaveLog(EnclaveLogLimits limits) {
  limits.lines_per_second = std::max(limits.lines_per_second, 0.001);
  limits.bytes_per_second = std::max(limits.bytes_per_second, 0.001);
  limits.burst_seconds = std::clamp(limits.burst_seconds, 0.0, 3600.0);
  // The bursts hold at least one full request, and are representable (rates are capped by the
  // burst's uint32_t: 2^32 lines or bytes is far beyond anything a log needs).
  constexpr double kMaxBurst = 4e9;
  const auto burst = [&](double rate, size_t one_request) {
    return static_cast<uint32_t>(
        std::clamp(rate * limits.burst_seconds, static_cast<double>(one_request), kMaxBurst));
  };
  absl::MutexLock lock(&log_mu_);
  log_limits_ = limits;
  log_lines_ = std::make_unique<TokenBucket>(
      TokenBucketOptions{.rate_per_second = limits.lines_per_second,
                         .burst = burst(limits.lines_per_second, kMaxLogLines)},
      *clock_);
  log_bytes_ = std::make_unique<TokenBucket>(
      TokenBucketOptions{.rate_per_second = limits.bytes_per_second,
                         .burst = burst(limits.bytes_per_second, kMaxRequestSize)},
      *clock_);
}

std::vector<bool> RelayService::AdmitEnclaveLines(const std::vector<nlohmann::json>& lines) {
  std::vector<bool> admitted(lines.size(), false);
  uint64_t dropped = 0;
  std::optional<nlohmann::json> warning;
  {
    absl::MutexLock lock(&log_mu_);
    for (size_t i = 0; i < lines.size(); ++i) {
      const double bytes = static_cast<double>(AppendLogLineSize(lines[i]));
      if (log_lines_->Available(1) && log_bytes_->TryAcquire(bytes)) {
        log_lines_->TryAcquire(1);
        admitted[i] = true;
      } else {
        ++dropped;
      }
    }
    log_unreported_drops_ += dropped;
    const absl::Time now = clock_->Now();
    if (log_unreported_drops_ > 0 &&
        (!log_last_warning_.has_value() || now - *log_last_warning_ >= absl::Seconds(10))) {
      warning = nlohmann::json{{"dropped", log_unreported_drops_},
                               {"lines_per_second", log_limits_.lines_per_second},
                               {"bytes_per_second", log_limits_.bytes_per_second},
                               {"detail",
                                "enclave log lines over the relay's rate limit were not written "
                                "(lockout_relay_enclave_log_lines_dropped_total); a flood of "
                                "append_log, or raise --enclave-log-lines-per-second / "
                                "--enclave-log-bytes-per-second"}};
      log_unreported_drops_ = 0;
      log_last_warning_ = now;
    }
  }
  if (warning.has_value()) LogWarn("enclave_log_rate_limited", *warning);
  return admitted;
}

SecretBytes RelayService::ConnectionError(std::string_view kind, std::string_view message,
                                          net::FrameKind frame_kind) {
  metrics_->RecordRequest("invalid", kind);
  metrics_->RecordError(kind);
  return SecretBytes::CopyFrom(EncodeErrorReplyFrame(message, frame_kind));
}

SecretBytes RelayService::Handle(const net::Frame& request, uint64_t request_id,
                                 std::string_view peer) {
  const absl::Time start = clock_->Now();
  nlohmann::json log = {{"request_id", request_id},
                        {"peer", std::string(peer)},
                        {"frame", std::string(net::FrameKindName(request.kind))},
                        {"request_bytes", request.payload.size()}};
  std::string_view op = "invalid";
  std::optional<SecretBytes> reply;
  absl::Duration upstream_latency;

  // A request over its op's limit (MaxRequestSizeFor): refused before anything else is done.
  const auto too_large = [&](std::string_view request_type) -> std::optional<Outcome> {
    const size_t limit = MaxRequestSizeFor(request_type);
    if (request.payload.size() <= limit) return std::nullopt;
    return Outcome{kKindBadRequest, kErrorRequestTooLarge,
                   absl::StrCat(Absl(request_type), " request of ", request.payload.size(),
                                " bytes is over its ", limit, "-byte limit")};
  };

  const Outcome outcome = [&]() -> Outcome {
    // Only append_audit may be larger than kMaxRequestSize (RelayServer checks this as the frame
    // arrives; this is the same rule for any other caller).
    if (request.payload.size() > kMaxRequestSize &&
        MatchAuditPrefix(request.payload) != AuditPrefix::kYes) {
      return Outcome{
          kKindBadRequest, kErrorRequestTooLarge,
          absl::StrCat("a request of ", request.payload.size(), " bytes is over the ",
                       kMaxRequestSize, "-byte limit (only append_audit may be larger)")};
    }
    // append_audit first: its frames may be larger than DecodeRequest reads.
    absl::StatusOr<std::vector<std::string>> audit_lines =
        DecodeAppendAuditRequest(request.payload);
    if (audit_lines.status().code() != absl::StatusCode::kUnimplemented) {
      if (!audit_lines.ok()) return Fail(kKindBadRequest, kErrorBadRequest, audit_lines.status());
      op = kAppendAuditRequestType;
      log["lines"] = audit_lines->size();
      if (audit_writer_ == nullptr) {
        return Outcome{kKindDenied, kErrorNoAuditLog,
                       "append_audit: the relay was started without --audit-log"};
      }
      if (absl::Status written = audit_writer_->Append(*audit_lines); !written.ok()) {
        if (absl::IsInvalidArgument(written)) {
          return Fail(kKindBadRequest, kErrorBadRequest, written);
        }
        return Fail(kKindInternal, kErrorAuditWriteFailed, written);
      }
      absl::StatusOr<std::string> frame = net::EncodeFrame(
          request.kind, EncodeAppendAuditReply(audit_lines->size()), kMaxReplySize + 8);
      if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
      reply = SecretBytes::CopyFrom(*frame);
      return Outcome{"ok", "", ""};
    }
    absl::StatusOr<AppendLogRequest> enclave_log = DecodeAppendLogRequest(request.payload);
    if (enclave_log.status().code() != absl::StatusCode::kUnimplemented) {
      if (!enclave_log.ok()) return Fail(kKindBadRequest, kErrorBadRequest, enclave_log.status());
      op = kAppendLogRequestType;
      log["lines"] = enclave_log->lines.size();
      const std::vector<bool> admitted = AdmitEnclaveLines(enclave_log->lines);
      size_t written = 0;
      for (size_t i = 0; i < enclave_log->lines.size(); ++i) {
        if (!admitted[i]) continue;
        WriteEnclaveLine(std::move(enclave_log->lines[i]));
        ++written;
      }
      log["lines_dropped"] = enclave_log->lines.size() - written;
      metrics_->RecordEnclaveReport(written, enclave_log->lines.size() - written,
                                    std::move(enclave_log->counters), enclave_log->dropped);
      absl::StatusOr<std::string> frame =
          net::EncodeFrame(request.kind, EncodeAppendLogReply(written), kMaxReplySize + 8);
      if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
      reply = SecretBytes::CopyFrom(*frame);
      return Outcome{"ok", "", ""};
    }
    absl::StatusOr<GetSecretRequest> decoded = DecodeRequest(request.payload);
    if (decoded.status().code() == absl::StatusCode::kUnimplemented) {
      if (absl::Status policy = DecodeGetSigningPolicyRequest(request.payload);
          policy.code() != absl::StatusCode::kUnimplemented) {
        if (!policy.ok()) return Fail(kKindBadRequest, kErrorBadRequest, policy);
        op = kGetSigningPolicyRequestType;
        if (auto over = too_large(op)) return *over;
        if (!signing_policy_.has_value()) {
          return Outcome{kKindDenied, kErrorNoSigningPolicy,
                         "get_signing_policy: the relay was started without --signing-policy"};
        }
        absl::StatusOr<std::string> text = EncodeGetSigningPolicyReply(*signing_policy_);
        if (!text.ok()) return Fail(kKindInternal, kErrorInternal, text.status());
        absl::StatusOr<std::string> frame =
            net::EncodeFrame(request.kind, *text, kMaxReplySize + 8);
        if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
        reply = SecretBytes::CopyFrom(*frame);
        log["policy_bytes"] = signing_policy_->size();
        return Outcome{"ok", "", ""};
      }
      if (absl::Status creds = DecodeGetCredentialsRequest(request.payload);
          creds.code() != absl::StatusCode::kUnimplemented) {
        if (!creds.ok()) return Fail(kKindBadRequest, kErrorBadRequest, creds);
        op = kGetCredentialsRequestType;
        if (auto over = too_large(op)) return *over;
        absl::StatusOr<awsclient::RoleCredentials> credentials = upstream_->GetCredentials();
        if (!credentials.ok()) {
          return Fail(kKindUpstreamUnavailable, kErrorUpstreamUnavailable, credentials.status());
        }
        log["credentials_expire_in_s"] =
            absl::ToInt64Seconds(credentials->expiration - clock_->Now());
        absl::StatusOr<SecretBytes> frame = EncodeGetCredentialsReplyFrame(
            GetSecretReplyParts{.secret = {},
                                .access_key_id = credentials->access_key_id,
                                .secret_access_key = &credentials->secret_access_key,
                                .session_token = &credentials->session_token,
                                .expiration = credentials->expiration},
            request.kind);
        if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
        reply = *std::move(frame);
        return Outcome{"ok", "", ""};
      }
      absl::StatusOr<PutSecretRequest> put = DecodePutSecretRequest(request.payload);
      if (put.status().code() != absl::StatusCode::kUnimplemented) {
        if (!put.ok()) return Fail(kKindBadRequest, kErrorBadRequest, put.status());
        op = kPutSecretRequestType;
        log["secret_name"] = put->secret_name;
        log["secret_bytes"] = put->secret.size();
        if (!allowlist_.Allows(put->secret_name)) {
          return Outcome{kKindDenied, kErrorNotAllowed, "secret name is not on the allowlist"};
        }
        const absl::Time upstream_start = clock_->Now();
        absl::StatusOr<std::string> version = upstream_->PutSecret(
            put->secret_name, SecretBytes::CopyFrom(put->secret), allow_overwrite_);
        upstream_latency = clock_->Now() - upstream_start;
        metrics_->ObserveUpstreamLatency(kOpPutSecret, upstream_latency);
        if (!version.ok()) {
          if (absl::IsAlreadyExists(version.status())) {
            return Fail(kKindDenied, kErrorSecretExists, version.status());
          }
          if (IsPermanentSecretError(version.status())) {
            return Fail(kKindSecretUnavailable, kErrorSecretUnavailable, version.status());
          }
          return Fail(kKindUpstreamUnavailable, kErrorUpstreamUnavailable, version.status());
        }
        log["version_id"] = *version;
        absl::StatusOr<std::string> frame =
            net::EncodeFrame(request.kind, EncodePutSecretReply(*version), kMaxReplySize + 8);
        if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
        reply = SecretBytes::CopyFrom(*frame);
        return Outcome{"ok", "", ""};
      }
      op = "unknown";
      return Fail(kKindUnknownRequestType, kErrorUnknownRequestType, decoded.status());
    }
    if (!decoded.ok()) return Fail(kKindBadRequest, kErrorBadRequest, decoded.status());
    op = kGetSecretRequestType;
    if (auto over = too_large(op)) return *over;
    log["secret_name"] = decoded->secret_name;
    if (!allowlist_.Allows(decoded->secret_name)) {
      return Outcome{kKindDenied, kErrorNotAllowed,
                     absl::StrCat("secret name is not on the allowlist: ", Absl(kHintNotAllowed))};
    }

    absl::StatusOr<awsclient::RoleCredentials> credentials = upstream_->GetCredentials();
    if (!credentials.ok()) {
      return Outcome{kKindUpstreamUnavailable, kErrorUpstreamUnavailable,
                     absl::StrCat(credentials.status().message(), "; ", Absl(kHintNoCredentials))};
    }
    log["credentials_expire_in_s"] = absl::ToInt64Seconds(credentials->expiration - clock_->Now());

    const absl::Time upstream_start = clock_->Now();
    absl::StatusOr<awsclient::SecretValue> value = upstream_->GetSecretValue(decoded->secret_name);
    upstream_latency = clock_->Now() - upstream_start;
    metrics_->ObserveUpstreamLatency(kOpGetSecretValue, upstream_latency);
    if (!value.ok()) {
      const std::string what = absl::StrCat("the secret \"", decoded->secret_name, "\"");
      std::string detail =
          awsclient::ExplainAwsFailure(value.status(), {.action = "secretsmanager:GetSecretValue",
                                                        .resource = what,
                                                        .region = "",
                                                        .if_missing = ""})
              .Text();
      if (IsPermanentSecretError(value.status())) {
        return Outcome{kKindSecretUnavailable, kErrorSecretUnavailable, std::move(detail)};
      }
      return Outcome{kKindUpstreamUnavailable, kErrorUpstreamUnavailable, std::move(detail)};
    }
    log["version_id"] = value->version_id;

    std::optional<Bytes> decoded_string;
    ByteView secret = value->value.Reveal();
    if (value->kind == awsclient::SecretKind::kString) {
      absl::StatusOr<Bytes> bytes = Base64Decode(value->value.RevealAsString());
      if (!bytes.ok()) {
        return Outcome{kKindSecretUnavailable, kErrorSecretUnavailable,
                       "SecretString is not base64 (store the ciphertext as SecretBinary)"};
      }
      decoded_string = *std::move(bytes);
      secret = *decoded_string;
    }
    log["secret_bytes"] = secret.size();

    absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(
        GetSecretReplyParts{.secret = secret,
                            .access_key_id = credentials->access_key_id,
                            .secret_access_key = &credentials->secret_access_key,
                            .session_token = &credentials->session_token,
                            .expiration = credentials->expiration},
        request.kind);
    if (!frame.ok()) return Fail(kKindInternal, kErrorInternal, frame.status());
    reply = *std::move(frame);
    return Outcome{"ok", "", ""};
  }();

  if (!reply.has_value()) {
    reply = SecretBytes::CopyFrom(EncodeErrorReplyFrame(outcome.message, request.kind));
    metrics_->RecordError(outcome.kind);
  }
  metrics_->RecordRequest(op, outcome.kind);

  log["op"] = std::string(op);
  log["status"] = std::string(outcome.kind);
  if (!outcome.detail.empty()) log["detail"] = outcome.detail;
  log["reply_bytes"] = reply->size();
  log["upstream_latency_ms"] = absl::ToDoubleMilliseconds(upstream_latency);
  log["latency_ms"] = absl::ToDoubleMilliseconds(clock_->Now() - start);
  if (outcome.kind == "ok" || outcome.kind == kKindUpstreamUnavailable ||
      outcome.kind == kKindInternal || outcome.kind == kKindSecretUnavailable) {
    refusal_log_.MaybeSummarize();  // a flood that stopped is still reported
  }
  if (outcome.kind == "ok" && op == kAppendLogRequestType) {
    LogDebug("relay_request", log);  // every second or so: its lines are the news
  } else if (outcome.kind == "ok") {
    LogInfo("relay_request", log);
  } else if (outcome.kind == kKindUpstreamUnavailable || outcome.kind == kKindInternal ||
             outcome.kind == kKindSecretUnavailable) {
    LogError("relay_request", log);
  } else {
    refusal_log_.Warn("relay_request", outcome.kind, log);
  }
  return *std::move(reply);
}

}  // namespace lockout::relay
