#pragma once

// `lockout doctor`: checks a running setup link by link, in the order a signing request
// depends on them, and names the first broken link:
//   1. credentials  the caller's AWS credentials resolve (environment or the instance role via
//                   IMDS) and, for role credentials, stay valid for at least `min_validity`;
//   2. secret       Secrets Manager DescribeSecret finds the secret with a current version (if
//                   DescribeSecret is denied, as for the instance role: GetSecretValue reads it);
//   3. relay        lockout-relay answers get_secret for the secret (the reply's credentials are
//                   wiped at once; their expiry is checked);
//   4. enclave      lockout-enclave answers the v2 `health` op with status "ok";
//   5. kms_key      (only with `kms_key_id`) the key resolves (key id, key ARN, alias name or
//                   alias ARN; kms_key_ref.h): a key that does not exist is named here;
//   6. pcr0         the enclave's attested PCR0 (v2 `attest`, fresh nonce) equals the
//                   kms:RecipientAttestation:ImageSha384 value in the key policy (GetKeyPolicy;
//                   needs `kms_key_id`, skipped otherwise, and skipped when these credentials
//                   may not read the policy: a loaded key then proves KMS accepted the PCR0).
// Every check runs even after a failure (more information for the operator); `first_broken` is
// the first that failed. Thread-safety: reentrant.

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/net/endpoint.h"
#include "src/operator/aws_session.h"

namespace lockout::ops {

struct DoctorOptions {
  std::string secret_name;
  std::string kms_key_id;  // optional
  // The relay as seen from the parent itself (VMADDR_CID_LOCAL) and the seed's enclave (CID 20).
  net::Endpoint relay = net::Endpoint::Vsock(1, 5011);
  net::Endpoint enclave = net::Endpoint::Vsock(20, 5010);
  absl::Duration min_validity = absl::Minutes(10);
  absl::Duration timeout = absl::Seconds(10);
};

enum class CheckState { kOk, kFailed, kSkipped };

struct DoctorCheck {
  std::string name;
  CheckState state = CheckState::kSkipped;
  std::string detail;
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  std::optional<std::string> first_broken;
  bool ok() const { return !first_broken.has_value(); }
  // One line per check with ✓ / ✗ / · and the verdict line.
  std::string Text() const;
  // {"ok": bool, "first_broken": NAME or null,
  //  "checks": [{"name", "state": "ok" | "failed" | "skipped", "detail"}, ...]} (docs/CLI.md).
  nlohmann::ordered_json ToJson() const;
};

// `session` may hold an error (then the AWS checks fail with it).
DoctorReport RunDoctor(absl::StatusOr<AwsSession>& session, const DoctorOptions& options);

}  // namespace lockout::ops
