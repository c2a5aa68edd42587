#pragma once

// `lockout check-lockout`: proves (or disproves) the lock-out by trying every way in.
//
// For the credentials it runs with, CheckLockout tries each way a principal could obtain the
// plaintext of the secret's key without the pinned enclave (the LEAK paths):
//   decrypt            kms:Decrypt of the secret's ciphertext without an attestation document;
//   decrypt-debug      kms:Decrypt with an attestation document from the NSM given (a local or
//                      debug-mode NSM: all-zero PCRs), the result opened with the probe's own
//                      RSA key; without an NSM it is reported as not tried and left out of the
//                      verdict (the final line says so; `policy lint` answers it from the
//                      policy);
//   reencrypt          kms:ReEncrypt of the ciphertext to a key the caller may use (the probe
//                      key given, else one it creates — scheduled for deletion afterwards — else,
//                      with DryRun, to the key itself: that decides kms:ReEncryptFrom), then
//                      Decrypt there;
//   grant-decrypt      kms:CreateGrant to the caller (Decrypt, ReEncryptFrom; the caller is the
//                      retiring principal), then Decrypt with the grant token;
//   grant-reencrypt    the same grant, then ReEncrypt with the grant token;
//   put-key-policy     kms:PutKeyPolicy with the key's current policy text (GetKeyPolicy first,
//                      so nothing changes); when the caller may not read the policy, with a text
//                      that is not JSON — KMS authorises before it parses, so AccessDenied means
//                      closed and MalformedPolicyDocumentException means the caller may rewrite
//                      it — and no policy can be accepted.
// and the SUBSTITUTION paths, which leak nothing but let the caller make the enclave load a key
// of its choosing:
//   put-secret-value   secretsmanager:PutSecretValue with the current version's id as
//                      ClientRequestToken and its own value: AWS ignores such a request (the
//                      version exists with the same value), so the secret stays untouched;
//   update-secret      secretsmanager:UpdateSecret, the same way;
//   encrypt            kms:Encrypt under the key with the secret's context, with DryRun;
//   update-alias       kms:UpdateAlias of each alias of the key to the key it already names.
// A path is kClosed only on AccessDeniedException for the very action; kOpen when KMS/Secrets
// Manager did it (or, for DryRun, said it would); kNotTried otherwise, with the reason.
//
// Nothing is left behind: grants are revoked (RetireGrant if RevokeGrant is refused) and checked
// gone with ListGrants; a probe key it created is scheduled for deletion (7 days); the secret's
// current version is read again at the end and must be the same version with the same value.
// Every plaintext obtained is wiped at once; only the SHA-256 of its public key (the PKCS#8
// signing key's SubjectPublicKeyInfo) is kept, to compare with the enclave's.
// Thread-safety: reentrant.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"
#include "src/nsm/nsm_device.h"

namespace lockout::ops {

enum class LockoutVerdict { kLockedOut, kNotLockedOut, kInconclusive };
enum class PathKind { kLeak, kSubstitution };
enum class PathState { kClosed, kOpen, kNotTried };

// "closed" / "OPEN" / "not tried".
std::string_view PathStateName(PathState state);

struct PathResult {
  std::string id;     // "decrypt", "reencrypt", ... (see the file comment)
  std::string title;  // "Decrypt without attestation"
  PathKind kind = PathKind::kLeak;
  PathState state = PathState::kNotTried;
  std::string detail;     // why: what was called and what AWS answered
  std::string aws_error;  // the deciding AWS error type, if any
  // False only for decrypt-debug without an NSM: it cannot be tried outside an enclave (or a
  // local NSM), so it is reported as not tried but does not make the verdict inconclusive.
  bool in_verdict = true;
};

struct CheckLockoutOptions {
  std::string kms_key_id;
  std::string secret_name;
  // ReEncrypt destination; empty: create one (CreateKey) and schedule its deletion afterwards.
  std::string probe_key_id;
  // The caller's ARN, the grantee of the probe grant. Empty: taken from an AccessDenied message
  // ("User: ARN is not authorized ..."); an assumed-role session becomes its role ARN.
  std::string caller_arn;
  // An NSM (e.g. local-aws's debug-mode socket) for the decrypt-debug path; null: not tried.
  nsm::NsmDevice* nsm = nullptr;
  // The PCR16 the operator's signing policy gives (`lockout signing-policy hash`), or empty.
  std::string expected_pcr16;
};

// The signing policy's seal as the key's current policy states it (policy_lint.h's Pcr16Pin),
// read with GetKeyPolicy; "unknown" when the caller may not read the policy.
struct SigningPolicySeal {
  std::string pin = "unknown";  // "pinned", "not pinned", "wrong format", "unknown"
  std::string value;            // the pinned PCR16 as written
  std::string expected;         // CheckLockoutOptions::expected_pcr16
  bool matches_expected = false;
  std::vector<std::string> findings;  // lint's PCR16 findings, or why it is unknown
};

struct CheckLockoutReport {
  std::string kms_key_id;
  std::string secret_name;
  std::string caller_arn;  // as given or learned; may be empty
  std::vector<PathResult> paths;
  // What the probes undid, and anything they could not undo.
  std::vector<std::string> cleanup;
  std::vector<std::string> cleanup_failures;
  // The secret's version before and after, and whether it is untouched (same version, same
  // value, still AWSCURRENT). Empty/false when the secret could not be read.
  std::string secret_version_before;
  bool secret_untouched = false;
  // Hex SHA-256 of the SubjectPublicKeyInfo of a signing key a leak path recovered.
  std::string recovered_public_key_sha256;
  // Whether the key policy seals a signing policy (kms:RecipientAttestation:PCR16). Reported, not
  // in the verdict (which is about the key's secrecy, not who can make the enclave sign).
  SigningPolicySeal signing_policy;

  // kNotLockedOut if a leak path is OPEN; else kInconclusive if one (in_verdict) was not tried;
  // else kLockedOut. Substitution paths never change the verdict.
  LockoutVerdict verdict() const;
  const PathResult* Find(std::string_view id) const;
  std::string Text() const;
  nlohmann::ordered_json ToJson() const;
};

// Never fails: every failure is a path state with a reason.
CheckLockoutReport CheckLockout(awsclient::KmsClient& kms, awsclient::SecretsClient& secrets,
                                const CheckLockoutOptions& options);

}  // namespace lockout::ops
