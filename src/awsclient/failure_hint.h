#pragma once

// Why an AWS call failed, in the operator's terms, and what to do next: the one place every
// command and service that prints a hint for an AWS failure gets its words from (doctor,
// check-lockout, --kms-key resolution, the relay's log, the credential chain).
//
//   absl::StatusOr<SecretValue> v = secrets.GetSecretValue(name);
//   if (!v.ok()) {
//     AwsFailureHint hint = ExplainAwsFailure(v.status(), {.action =
//     "secretsmanager:GetSecretValue",
//                                                          .resource = "the secret \"x\"",
//                                                          .region = region});
//     std::cerr << hint.Text();  // "<cause> (<the call's error>); <next step>"
//   }
//
// The causes, from the status alone (its AwsCallError payload, aws_call_error.h, else its code
// and the transport's words):
//   kConnection   nothing answered: refused, DNS, timeout, TLS (no AwsCallError; Unavailable,
//                 DeadlineExceeded, or a rejected TLS certificate)
//   kRegion       InvalidSignatureException "...scoped to a valid region..." / "...a valid
//                 region...": the endpoint serves another region than the request was signed for
//   kCredentials  none found (the credential chain's NotFound), unknown access key
//                 (UnrecognizedClientException, InvalidClientTokenId), wrong secret key
//                 (InvalidSignatureException, SignatureDoesNotMatch), expired (ExpiredToken*),
//                 clock skew ("Signature expired")
//   kPermission   AccessDenied*: names the principal, action and resource when AWS's message does
//   kNotFound     NotFoundException, ResourceNotFoundException
//   kThrottled    throttling types and HTTP 429 (IsRetryableAwsError without a 5xx)
//   kOther        anything else (5xx says to retry later); the next step may be empty
// The text quotes the status message (already sanitised and free of secrets, aws_call_error.h).
// Thread-safety: pure functions.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace lockout::awsclient {

enum class AwsFailureCause {
  kConnection,
  kRegion,
  kCredentials,
  kPermission,
  kNotFound,
  kThrottled,
  kOther,
};

// "connection", "region", "credentials", "permission", "not_found", "throttled", "other".
std::string_view AwsFailureCauseName(AwsFailureCause cause);

// What the caller was doing, for the words. Every field may be empty.
struct AwsCallContext {
  std::string_view action;    // the IAM action: "secretsmanager:GetSecretValue"
  std::string_view resource;  // what it was about: "the secret \"lockout/key\""
  std::string_view region;    // the region the request was signed for: "us-east-1"
  // Added to the not-found next step: "lockout create-key stores a new one".
  std::string_view if_missing;
  // Where this program takes its endpoint, region and CA bundle from, when not from the standard
  // variables (AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL, AWS_REGION, AWS_CA_BUNDLE), which
  // the words name when these are empty. lockout-enclave: "--kms-endpoint (else
  // AWS_ENDPOINT_URL_KMS) and --kms-via", "--region", "--ca-bundle".
  std::string_view endpoint_setting = {};
  std::string_view region_setting = {};
  std::string_view ca_bundle_setting = {};
};

struct AwsFailureHint {
  AwsFailureCause cause = AwsFailureCause::kOther;
  std::string what;       // the cause in words, with the call's error in parentheses
  std::string next_step;  // what to do; empty when there is nothing specific to say
  // "<what>; <next_step>" (or just `what`).
  std::string Text() const;
};

// What to set when no credentials were found (the credential chain's error ends with it).
inline constexpr std::string_view kSetCredentialsStep =
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
    "credentials), or AWS_PROFILE to a profile with credentials (aws_access_key_id, role_arn + "
    "source_profile, or credential_process) in ~/.aws/credentials or ~/.aws/config, or run on an "
    "EC2 instance with an instance role (and AWS_EC2_METADATA_DISABLED unset)";

// Classifies `status` (not OK) and words the hint.
AwsFailureHint ExplainAwsFailure(const absl::Status& status, const AwsCallContext& context = {});

}  // namespace lockout::awsclient
