#pragma once

// The KMS key policies `lockout policy` writes (ARCHITECTURE §6).
//
// seed         the tutorial's end state (seed README step 9), statement for statement:
//                "Allow access for Key Administrators"  admin role, key management, no Decrypt
//                "Allow use of the key"                 enclave role: Encrypt, ReEncrypt*,
//                                                       GenerateDataKey*, DescribeKey
//                "Enable decrypt from enclave"          enclave role: Decrypt if
//                                                       StringEqualsIgnoreCase ImageSha384 = PCR0
//              The account root statement is gone, so KMS's lock-out safety check refuses the
//              policy unless the caller is the admin role: applying it needs
//              BypassPolicyLockoutSafetyCheck.
// recommended  nobody outside the pinned enclave can obtain the key's plaintext, and only an
//              optional break-glass principal can change the policy:
//                "KeyAdministration"               admin role: describe, list, get, enable,
//                                                  disable, aliases, tags, revoke grants,
//                                                  schedule/cancel deletion — no Decrypt, no
//                                                  kms:PutKeyPolicy, no kms:CreateGrant
//                "PolicyAdministration"            (only with a policy admin) kms:PutKeyPolicy
//                                                  and kms:GetKeyPolicy for that principal
//                "EncryptForEnclave"               enclave role: Encrypt, DescribeKey
//                "DecryptOnlyInEnclave"            enclave role: Decrypt if the attested PCR0
//                                                  (and PCR8 / PCR3 when given) match
//                "DenyDecryptWithoutAttestation"   explicit Deny of Decrypt for everyone unless
//                                                  ImageSha384 matches (StringNotEqualsIgnoreCase:
//                                                  true when no attestation was sent)
//                "DenyReEncrypt"                   explicit Deny of kms:ReEncrypt* for everyone
//                                                  (ReEncryptFrom needs no attestation)
//                "DenyGrants"                      explicit Deny of kms:CreateGrant for everyone
//                                                  (grants carry no attestation conditions)
//                "DenyPolicyChange"                explicit Deny of kms:PutKeyPolicy for everyone
//                                                  (but the policy admin: ArnNotEquals
//                                                  aws:PrincipalArn)
//              with --pcr8 / --pcr3-role / --signing-policy also "DenyDecryptWithoutSigner"
//              (PCR8), "DenyDecryptFromOtherParent" (PCR3) and
//              "DenyDecryptWithOtherSigningPolicy" (PCR16): one Deny per PCR, because the keys of
//              one negated condition block are ANDed — a single Deny listing PCR0 and PCR8 would
//              only fire when *both* differ, letting an image with the right PCR0 but any signer
//              (or vice versa) through. Without a policy admin the policy is IMMUTABLE: no
//              principal may call PutKeyPolicy, so applying it needs
//              BypassPolicyLockoutSafetyCheck, and a new enclave image needs a new KMS key (and a
//              new signing key). With one, that principal alone can rewrite the policy — and so
//              give itself Decrypt: it is a break-glass identity and check-lockout run as it
//              reports put-key-policy OPEN.
// Both modes are identical, statement for statement, to tests/integration/
// lockout_truth_table_test.py when PCR8/PCR3 and the policy admin are not given. PCR values are
// written in lower-case hex; the operators are ...IgnoreCase, as in the seed. Thread-safety: pure
// functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/crypto/hash.h"

namespace lockout::ops {

enum class PolicyMode { kSeed, kRecommended };

// "seed" / "recommended".
std::string_view PolicyModeName(PolicyMode mode);
absl::StatusOr<PolicyMode> ParsePolicyMode(std::string_view name);

// Condition keys (ARCHITECTURE §5).
inline constexpr std::string_view kImageSha384Key = "kms:RecipientAttestation:ImageSha384";
inline constexpr std::string_view kPcr8Key = "kms:RecipientAttestation:PCR8";
inline constexpr std::string_view kPcr3Key = "kms:RecipientAttestation:PCR3";
// The sealed signing policy (src/signpolicy: ExpectedPcr16).
inline constexpr std::string_view kPcr16Key = "kms:RecipientAttestation:PCR16";

// What a key administrator may do in seed mode: the console's key-administrator actions (no
// Decrypt, no Encrypt, no key use — but kms:Create* includes CreateGrant and kms:Put*
// PutKeyPolicy, either of which reaches the plaintext).
const std::vector<std::string>& KeyAdministratorActions();
// In recommended mode: the same without CreateGrant and PutKeyPolicy (kms:Create* and kms:Put*
// narrowed to kms:CreateAlias; kms:Update* to UpdateAlias and UpdateKeyDescription).
const std::vector<std::string>& RecommendedAdministratorActions();

struct KeyPolicyOptions {
  PolicyMode mode = PolicyMode::kRecommended;
  std::string admin_role_arn;    // required
  std::string enclave_role_arn;  // required: the parent instance's role
  // recommended only, optional: the break-glass principal that alone may PutKeyPolicy. Empty:
  // the policy is immutable once applied (see above).
  std::string policy_admin_role_arn;
  crypto::Sha384Digest pcr0{};
  std::optional<crypto::Sha384Digest> pcr8;  // signing certificate of a signed EIF
  std::optional<crypto::Sha384Digest> pcr3;  // parent instance role (Pcr3OfRole)
  // The sealed signing policy (`--signing-policy FILE`: signpolicy::ExpectedPcr16). Pinned beside
  // ImageSha384 in the Allow and, in recommended mode, by a Deny of its own
  // ("DenyDecryptWithOtherSigningPolicy"): an enclave of the pinned image booted with another
  // signing policy (root adding a client of its own) is refused the key.
  std::optional<crypto::Sha384Digest> pcr16;
};

// The policy document. InvalidArgument if a role ARN is empty or not an IAM role/user ARN
// (arn:PARTITION:iam::ACCOUNT:role/NAME or user/NAME), or if the policy admin is given in seed
// mode or equals the admin or enclave role.
absl::StatusOr<nlohmann::ordered_json> BuildKeyPolicy(const KeyPolicyOptions& options);

// Whether PutKeyPolicy of this policy needs BypassPolicyLockoutSafetyCheck: seed mode (no root
// statement) and recommended mode without a policy admin (nobody may PutKeyPolicy afterwards).
// With a policy admin, only that principal can apply it without the bypass.
bool NeedsLockoutSafetyBypass(const KeyPolicyOptions& options);

// BuildKeyPolicy, pretty-printed (2-space indent, trailing newline).
absl::StatusOr<std::string> BuildKeyPolicyText(const KeyPolicyOptions& options);

}  // namespace lockout::ops
