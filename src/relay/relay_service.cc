#include "src/relay/relay_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/failure_hint.h"
#include "src/common/strings.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
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
    : upstream_(upstream), allowlist_(std::move(allowlist)), metrics_(metrics), clock_(clock) {}

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

  const Outcome outcome = [&]() -> Outcome {
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
      for (nlohmann::json& line : enclave_log->lines) WriteEnclaveLine(std::move(line));
      metrics_->RecordEnclaveReport(enclave_log->lines.size(), std::move(enclave_log->counters),
                                    enclave_log->dropped);
      absl::StatusOr<std::string> frame = net::EncodeFrame(
          request.kind, EncodeAppendLogReply(enclave_log->lines.size()), kMaxReplySize + 8);
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
        absl::StatusOr<std::string> version =
            upstream_->PutSecret(put->secret_name, SecretBytes::CopyFrom(put->secret),
                                 allow_overwrite_);
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
  if (outcome.kind == "ok" && op == kAppendLogRequestType) {
    LogDebug("relay_request", log);  // every second or so: its lines are the news
  } else if (outcome.kind == "ok") {
    LogInfo("relay_request", log);
  } else if (outcome.kind == kKindUpstreamUnavailable || outcome.kind == kKindInternal ||
             outcome.kind == kKindSecretUnavailable) {
    LogError("relay_request", log);
  } else {
    LogWarn("relay_request", log);
  }
  return *std::move(reply);
}

}  // namespace lockout::relay
