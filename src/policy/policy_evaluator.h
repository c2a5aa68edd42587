#pragma once

// Evaluating KMS key policies as AWS KMS does (ARCHITECTURE §5): the authoriser of `lockout
// local-aws` and the oracle of the operator's `policy lint`. Pure logic, no I/O.
//
// Evaluate(key_policy, request) decides one request the way AWS KMS does:
//   1. Any matching Deny statement, in the key policy or in the caller's identity policies,
//      gives kExplicitDeny.
//   2. A matching Allow statement of the key policy that names the caller directly (its user
//      ARN, its role ARN for an assumed-role session, the session ARN itself, or "*") gives
//      kAllow for a caller of the key's own account.
//   3. A matching Allow statement that names the caller's account ("ACCT" or
//      arn:aws:iam::ACCT:root) delegates to IAM: kAllow only if one of the caller's identity
//      policies also allows the request. The account root has full identity rights. A caller
//      from another account always needs its identity policies as well (cross-account).
//   4. Otherwise kImplicitDeny.
// A statement matches when its action, resource, principal and every condition match.
//
// Conditions (IAM semantics): ANDed across operators and keys, ORed across the values of one
// key. A key missing from the request makes a condition false, except for negated operators
// (StringNotEquals..., ArnNotLike...) which are true, ...IfExists which are true, and Null which
// tests for absence. ForAnyValue: is false for a missing key, ForAllValues: true. Condition key
// names are case-insensitive; values are case-sensitive except for ...IgnoreCase and Bool.
// Wildcards `*` (any run) and `?` (one character) work in actions (case-insensitive),
// resources, StringLike and ArnLike (per ARN component, case-sensitive).
//
// Attestation keys (kms:RecipientAttestation:*) must be put into the request only when the
// caller has verified the attestation document against a trusted root: this engine takes the
// keys it is given at face value.
//
// Thread-safety: all functions are pure; RequestContext/ConditionKeys are plain values.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "src/policy/policy.h"

namespace lockout::policy {

// AWS's exact text for a PutKeyPolicy/CreateKey that fails the lock-out safety check
// (MalformedPolicyDocumentException).
inline constexpr std::string_view kPolicyLockoutMessage =
    "The new key policy will not allow you to update the key policy in the future.";

enum class PrincipalType {
  kAccountRoot,  // arn:aws:iam::ACCT:root
  kUser,         // arn:aws:iam::ACCT:user/NAME
  kAssumedRole,  // arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, a session of role_arn
};

// The authenticated caller of a request.
struct Principal {
  PrincipalType type = PrincipalType::kAccountRoot;
  std::string arn;
  std::string account;
  std::string role_arn;  // kAssumedRole only: arn:aws:iam::ACCT:role[/path]/ROLE

  // Factories validate their inputs (12-digit account, IAM names without ':' or wildcards) and
  // return InvalidArgument otherwise. Partition "aws".
  static absl::StatusOr<Principal> AccountRoot(std::string_view account);
  static absl::StatusOr<Principal> User(std::string_view account, std::string_view user_name);
  // `role_arn` is arn:aws:iam::ACCT:role/NAME or role/PATH/NAME; the session ARN drops the path
  // (arn:aws:sts::ACCT:assumed-role/NAME/SESSION), as on AWS.
  static absl::StatusOr<Principal> AssumedRole(std::string_view role_arn,
                                               std::string_view session_name);
};

// Request condition keys: case-insensitive names, each with one or more string values.
class ConditionKeys {
 public:
  // Adds a value to `key` (a key may be multi-valued).
  void Add(std::string_view key, std::string_view value);
  // Replaces all values of `key`.
  void Set(std::string_view key, std::string_view value);
  void Erase(std::string_view key);
  // Values of `key`, or nullptr when absent. Valid until the next mutation.
  const std::vector<std::string>* Find(std::string_view key) const;
  bool empty() const { return values_.empty(); }

 private:
  std::map<std::string, std::vector<std::string>> values_;  // lower-cased key -> values
};

struct RequestContext {
  Principal principal;
  std::string action;    // e.g. "kms:Decrypt"
  std::string resource;  // the key ARN, arn:aws:kms:REGION:ACCT:key/ID
  // Request keys such as kms:RecipientAttestation:ImageSha384. aws:PrincipalArn (the role ARN
  // for a session), aws:PrincipalAccount and kms:CallerAccount are derived from `principal`
  // when not given.
  ConditionKeys keys;
  // The caller's IAM identity policies (PolicyKind::kIdentityPolicy). Not owned: the policies
  // must outlive the Evaluate call. Ignored for the account root.
  absl::Span<const Policy> identity_policies;
};

enum class Outcome { kAllow, kExplicitDeny, kImplicitDeny };

enum class DecisionSource { kNone, kKeyPolicy, kIdentityPolicy };

// What was decided and why, for the local log (never sent to the network peer).
struct Decision {
  Outcome outcome = Outcome::kImplicitDeny;
  // The statement that decided: the Deny that matched, or the key policy Allow that granted. For
  // an implicit deny, the kind of policy whose missing Allow denied it: kIdentityPolicy when the
  // key policy allows the caller's account (or names a caller of another account) but no identity
  // policy allows the request, kNone when no key policy statement does (AWS words the two
  // AccessDenied messages differently: "no identity-based" / "no resource-based policy allows").
  DecisionSource source = DecisionSource::kNone;
  size_t policy_index = 0;  // index into identity_policies when source is kIdentityPolicy
  size_t statement_index = 0;
  std::string sid;
  // For a delegated Allow: the identity policy statement that allowed it (empty Sid possible).
  std::string identity_sid;
  std::string reason;  // one short sentence

  bool allowed() const { return outcome == Outcome::kAllow; }
};

// Decides `request` against `key_policy` (see the file comment). Never fails: a `key_policy`
// that is not PolicyKind::kKeyPolicy, or an identity policy that is not kIdentityPolicy, yields
// kImplicitDeny with a reason.
Decision Evaluate(const Policy& key_policy, const RequestContext& request);

// The KMS policy lock-out safety check for PutKeyPolicy and CreateKey: OK if `new_policy` would
// let `caller` (principal, identity policies, condition keys and resource of the request being
// made) call kms:PutKeyPolicy on the key; otherwise InvalidArgument with kPolicyLockoutMessage.
// Skip the call when the request sets BypassPolicyLockoutSafetyCheck.
absl::Status CheckPolicyLockoutSafety(const Policy& new_policy, const RequestContext& caller);

// `*` matches any run (also empty), `?` exactly one character; everything else literally.
// ASCII case folding when `ignore_case`. Linear space, O(n*m) worst-case time.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case);

// ArnLike: `arn` must have the six ARN components; a pattern of just "*" matches any ARN,
// otherwise the pattern must have six components too and each is wildcard-matched separately,
// case-sensitively (a `*` does not cross a ':' in the first five components).
bool ArnLikeMatch(std::string_view pattern, std::string_view arn);

}  // namespace lockout::policy
