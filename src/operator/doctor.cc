#include "src/operator/doctor.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/attest/attestation_document.h"
#include "src/awsclient/failure_hint.h"
#include "src/awsclient/imds_client.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"
#include "src/operator/enclave_client.h"
#include "src/operator/kms_key_ref.h"
#include "src/operator/policy_lint.h"
#include "src/relay/relay_client.h"

namespace lockout::ops {
namespace {

constexpr absl::string_view kRelayUnreachableStep =
    "is lockout-relay running and listening at --relay (systemctl status lockout-relay)?";
constexpr absl::string_view kEnclaveUnreachableStep =
    "is the enclave running (nitro-cli describe-enclaves) and is --enclave its CID:PORT?";

DoctorCheck Ok(std::string name, std::string detail) {
  return {std::move(name), CheckState::kOk, std::move(detail)};
}
DoctorCheck Failed(std::string name, std::string detail) {
  return {std::move(name), CheckState::kFailed, std::move(detail)};
}
DoctorCheck Skipped(std::string name, std::string detail) {
  return {std::move(name), CheckState::kSkipped, std::move(detail)};
}

std::string Remaining(absl::Time expiration) {
  return absl::StrCat("valid until ", FormatRfc3339(expiration), " (",
                      absl::FormatDuration(absl::Trunc(expiration - absl::Now(), absl::Seconds(1))),
                      " left)");
}

DoctorCheck CheckCredentials(absl::StatusOr<AwsSession>& session, const DoctorOptions& o) {
  const std::string name = "credentials";
  if (!session.ok()) return Failed(name, std::string(session.status().message()));
  absl::StatusOr<aws::AwsCredentials> creds = session->credentials->GetCredentials();
  if (!creds.ok()) {
    return Failed(name, absl::StrCat("cannot get credentials from ", session->credentials_source,
                                     ": ",
                                     awsclient::ExplainAwsFailure(creds.status()).Text()));
  }
  if (session->temporary_credentials != nullptr) {
    std::optional<absl::Time> expiration = session->temporary_credentials->expiration();
    if (expiration == absl::InfiniteFuture()) expiration.reset();
    if (expiration && *expiration - absl::Now() < o.min_validity) {
      return Failed(name, absl::StrCat("temporary credentials from ", session->credentials_source,
                                       " expire soon: ", Remaining(*expiration)));
    }
    return Ok(name, absl::StrCat(session->credentials_source, ", access key ", creds->access_key_id,
                                 expiration ? absl::StrCat(", ", Remaining(*expiration)) : ""));
  }
  return Ok(name, absl::StrCat(session->credentials_source, ", access key ", creds->access_key_id));
}

// The hint for a failed Secrets Manager call on `o.secret_name` (failure_hint.h).
std::string SecretHint(const AwsSession& session, const DoctorOptions& o, const absl::Status& s,
                       std::string_view action) {
  const std::string what = absl::StrCat("the secret \"", o.secret_name, "\"");
  return awsclient::ExplainAwsFailure(
             s, {.action = action,
                 .resource = what,
                 .region = session.region,
                 .if_missing = "pass the --secret that lockout create-key stored, or create one"})
      .Text();
}

DoctorCheck CheckSecret(absl::StatusOr<AwsSession>& session, const DoctorOptions& o) {
  const std::string name = "secret";
  if (!session.ok()) return Failed(name, "no AWS session (see credentials)");
  absl::StatusOr<awsclient::SecretDescription> d = session->secrets->DescribeSecret(o.secret_name);
  if (!d.ok() && d.status().code() == absl::StatusCode::kPermissionDenied) {
    // The instance role usually has only the relay's permission, GetSecretValue. What it returns
    // is the KMS ciphertext, useless without the enclave; only its size is reported.
    absl::StatusOr<awsclient::SecretValue> v = session->secrets->GetSecretValue(o.secret_name);
    if (!v.ok()) {
      // DescribeSecret was denied; GetSecretValue's own error says why it failed (the secret
      // may be missing, not only forbidden).
      return Failed(name, absl::StrCat("DescribeSecret is denied to these credentials, and "
                                       "GetSecretValue: ",
                                       SecretHint(*session, o, v.status(),
                                                  "secretsmanager:GetSecretValue")));
    }
    const size_t size = v->value.size();
    v->value.Clear();
    return Ok(name,
              absl::StrCat(v->arn, ", current version ", v->version_id, " (", size,
                           " bytes, read with GetSecretValue: DescribeSecret is not allowed)"));
  }
  if (!d.ok()) {
    return Failed(name, SecretHint(*session, o, d.status(), "secretsmanager:DescribeSecret"));
  }
  if (d->deleted_date)
    return Failed(name, absl::StrCat("\"", o.secret_name, "\" is scheduled for deletion"));
  for (const auto& [version, stages] : d->version_ids_to_stages) {
    for (const std::string& stage : stages) {
      if (stage == "AWSCURRENT") {
        return Ok(name, absl::StrCat(d->arn, ", current version ", version));
      }
    }
  }
  return Failed(name, absl::StrCat("\"", o.secret_name, "\" has no AWSCURRENT version"));
}

DoctorCheck CheckRelay(const DoctorOptions& o) {
  const std::string name = "relay";
  relay::RelayClientOptions ro;
  ro.endpoint = o.relay;
  ro.connect_timeout = o.timeout;
  ro.timeout = o.timeout + absl::Seconds(20);  // the relay's own upstream deadline
  relay::RelayClient client(ro);
  absl::StatusOr<relay::GetSecretReply> reply = client.GetSecret(o.secret_name);
  if (!reply.ok()) {
    const bool unreachable = absl::IsUnavailable(reply.status()) &&
                             absl::StrContains(reply.status().message(), "connect to");
    return Failed(name, absl::StrCat(o.relay.ToString(), ": ", reply.status().message(),
                                     unreachable ? absl::StrCat("; ", kRelayUnreachableStep) : ""));
  }
  const size_t secret_size = reply->secret.size();
  reply->credentials.secret_access_key.Clear();
  reply->credentials.session_token.Clear();
  if (reply->expiration && *reply->expiration - absl::Now() < o.min_validity) {
    return Failed(name, absl::StrCat("the relay hands out credentials that expire soon: ",
                                     Remaining(*reply->expiration)));
  }
  return Ok(name, absl::StrCat(o.relay.ToString(), " served \"", o.secret_name, "\" (", secret_size,
                               " bytes of ciphertext)",
                               reply->expiration
                                   ? absl::StrCat(", credentials ", Remaining(*reply->expiration))
                                   : ""));
}

}  // namespace

DoctorReport RunDoctor(absl::StatusOr<AwsSession>& session, const DoctorOptions& o) {
  DoctorReport report;
  report.checks.push_back(CheckCredentials(session, o));
  report.checks.push_back(CheckSecret(session, o));
  report.checks.push_back(CheckRelay(o));

  // The enclave: health, then its PCR0 against the policy.
  absl::StatusOr<std::unique_ptr<EnclaveV2Client>> client =
      EnclaveV2Client::Connect(o.enclave, o.timeout);
  std::optional<std::string> enclave_pcr0;
  bool enclave_loaded = false;
  if (!client.ok()) {
    report.checks.push_back(
        Failed("enclave", absl::StrCat(o.enclave.ToString(), ": ", client.status().message(), "; ",
                                       kEnclaveUnreachableStep)));
  } else {
    absl::StatusOr<nlohmann::json> health = (*client)->Health();
    if (!health.ok()) {
      report.checks.push_back(Failed("enclave", std::string(health.status().message())));
    } else {
      const std::string status = health->value("status", std::string());
      const std::string reason = health->value("reason", std::string());
      enclave_loaded = status == "ok";
      absl::StatusOr<Bytes> doc = (*client)->Attest(crypto::RandomBytes(32));
      if (doc.ok()) {
        absl::StatusOr<attest::AttestationDocument> parsed = attest::ParseAttestationDocument(*doc);
        if (parsed.ok() && parsed->pcrs.count(0)) enclave_pcr0 = HexEncode(parsed->pcrs.at(0));
      }
      if (!enclave_pcr0 && health->contains("pcr0") && (*health)["pcr0"].is_string()) {
        // No attestation without a loaded key (it binds the key); health reports PCR0 anyway.
        enclave_pcr0 = absl::AsciiStrToLower((*health)["pcr0"].get<std::string>());
      }
      if (enclave_loaded) {
        report.checks.push_back(Ok("enclave", absl::StrCat(o.enclave.ToString(), " healthy, key ",
                                                           health->value("key_type", "?"))));
      } else {
        std::string detail = absl::StrCat(o.enclave.ToString(), " status ", status,
                                          reason.empty() ? "" : absl::StrCat(": ", reason));
        if (reason == "kms access denied" && enclave_pcr0) {
          absl::StrAppend(&detail, " (it runs PCR0 ", *enclave_pcr0,
                          "; the key policy must allow exactly that image)");
        }
        report.checks.push_back(Failed("enclave", std::move(detail)));
      }
    }
  }
  std::optional<KmsKeyRef> key;
  if (!o.kms_key_id.empty()) {
    if (!session.ok()) {
      report.checks.push_back(Failed("kms_key", "no AWS session (see credentials)"));
    } else {
      absl::StatusOr<KmsKeyRef> resolved = ResolveKmsKey(*session->kms, o.kms_key_id);
      if (resolved.ok()) {
        key = *std::move(resolved);
        report.checks.push_back(Ok("kms_key", key->resolved
                                                  ? key->Describe()
                                                  : absl::StrCat(key->Describe(),
                                                                 " (DescribeKey denied: used as "
                                                                 "given)")));
      } else {
        report.checks.push_back(Failed("kms_key", std::string(resolved.status().message())));
      }
    }
  }
  if (o.kms_key_id.empty()) {
    report.checks.push_back(Skipped("pcr0", "pass --kms-key to compare with the key policy"));
  } else if (!key.has_value()) {
    report.checks.push_back(Skipped("pcr0", "no KMS key to read the policy of (see kms_key)"));
  } else {
    absl::StatusOr<std::string> policy = session->kms->GetKeyPolicy(key->id());
    absl::StatusOr<LintReport> lint =
        policy.ok() ? LintKeyPolicy(*policy) : absl::StatusOr<LintReport>(policy.status());
    if (!lint.ok() && lint.status().code() == absl::StatusCode::kPermissionDenied) {
      // Typical for the instance role: it may decrypt (from the enclave) but not read the policy.
      // A loaded key is itself the proof that KMS accepted the enclave's PCR0.
      report.checks.push_back(Skipped(
          "pcr0", absl::StrCat("these credentials may not read the key policy (GetKeyPolicy "
                               "denied); run doctor as the key administrator to compare",
                               enclave_loaded && enclave_pcr0
                                   ? absl::StrCat(". KMS accepted the enclave's PCR0 ",
                                                  *enclave_pcr0, ": its key is loaded")
                                   : "")));
    } else if (!lint.ok()) {
      report.checks.push_back(
          Failed("pcr0", absl::StrCat("cannot read the key policy: ",
                                  awsclient::ExplainAwsFailure(
                                      lint.status(), {.action = "kms:GetKeyPolicy",
                                                      .resource = key->Describe(),
                                                      .region = session->region,
                                                      .if_missing = ""})
                                      .Text())));
    } else {
      auto it = lint->pinned.find("kms:RecipientAttestation:ImageSha384");
      if (it == lint->pinned.end()) {
        report.checks.push_back(Failed("pcr0", "the key policy pins no ImageSha384 (PCR0)"));
      } else if (!enclave_pcr0) {
        report.checks.push_back(
            Failed("pcr0", "the enclave gave no attestation document to read its PCR0 from"));
      } else if (absl::AsciiStrToLower(it->second) != *enclave_pcr0) {
        report.checks.push_back(Failed(
            "pcr0", absl::StrCat("the enclave runs PCR0 ", *enclave_pcr0, " but the policy allows ",
                                 it->second, ": rebuild/redeploy, or update the policy")));
      } else {
        report.checks.push_back(Ok("pcr0", absl::StrCat(*enclave_pcr0, " = policy ImageSha384")));
      }
    }
  }
  for (const DoctorCheck& c : report.checks) {
    if (c.state == CheckState::kFailed) {
      report.first_broken = c.name;
      break;
    }
  }
  return report;
}

std::string DoctorReport::Text() const {
  std::string out;
  for (const DoctorCheck& c : checks) {
    const char* mark =
        c.state == CheckState::kOk ? "✓" : (c.state == CheckState::kFailed ? "✗" : "·");
    absl::StrAppend(&out, mark, " ", c.name, ": ", c.detail, "\n");
  }
  if (first_broken) {
    absl::StrAppend(&out, "first broken link: ", *first_broken, "\n");
  } else {
    absl::StrAppend(&out, "all links work\n");
  }
  return out;
}

nlohmann::ordered_json DoctorReport::ToJson() const {
  nlohmann::ordered_json out;
  out["ok"] = ok();
  out["first_broken"] = first_broken ? nlohmann::ordered_json(*first_broken) : nullptr;
  out["checks"] = nlohmann::ordered_json::array();
  for (const DoctorCheck& c : checks) {
    const char* state = c.state == CheckState::kOk       ? "ok"
                        : c.state == CheckState::kFailed ? "failed"
                                                         : "skipped";
    out["checks"].push_back({{"name", c.name}, {"state", state}, {"detail", c.detail}});
  }
  return out;
}

}  // namespace lockout::ops
