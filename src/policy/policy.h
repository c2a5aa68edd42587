#pragma once

// KMS key policies and IAM identity policies: the parsed document (ARCHITECTURE §5).
//
// Policy::Parse turns the JSON text of a policy into an immutable, validated value that
// policy_evaluator.h evaluates. Parsing is strict on purpose: a policy that says something we do
// not understand is rejected (the KMS front end reports MalformedPolicyDocumentException) rather
// than half-understood, because a misread Deny is an Allow.
//
// Accepted grammar (a subset of the AWS IAM policy grammar):
//   { "Version": "2012-10-17" | "2008-10-17" (optional), "Id": string (optional),
//     "Statement": statement | [statement, ...] (at least one) }
//   statement: { "Sid": string (optional), "Effect": "Allow" | "Deny",
//     "Principal" | "NotPrincipal": "*" | {"AWS": p | [p...], "Service": s | [s...]}
//         (key policies: exactly one of them; identity policies: neither; NotPrincipal only
//          with Deny),
//     "Action" | "NotAction": a | [a...] (exactly one; "*" or "service:name", wildcards * ?),
//     "Resource" | "NotResource": r | [r...] (exactly one; "*" or an ARN, wildcards * ?),
//     "Condition": { Operator: { Key: v | [v...] } } (optional) }
//   p: "*", a 12-digit account id, arn:PART:iam::ACCT:root (both mean the account),
//      arn:PART:iam::ACCT:user/NAME, arn:PART:iam::ACCT:role/NAME,
//      arn:PART:sts::ACCT:assumed-role/ROLE/SESSION. No partial wildcards in principals.
//   Operator: [ForAnyValue:|ForAllValues:] Base [IfExists], Base one of StringEquals,
//      StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
//      StringNotLike, ArnEquals, ArnNotEquals, ArnLike, ArnNotLike, Bool; or plain Null.
//      Numeric/Date/IpAddress/Binary operators are valid AWS but unsupported here: rejected.
//   Condition values: strings, booleans or numbers (kept as their JSON text).
// Also rejected: unknown fields, duplicate JSON object keys, nesting deeper than 16, empty
// arrays, documents larger than kMaxPolicyBytes (the KMS limit), invalid UTF-8. Policy variables
// (${aws:username}) are not expanded: they match literally.
//
// Errors are InvalidArgument; the message names the statement index/Sid and the field, and
// quotes no more than the offending field name or operator.
// Thread-safety: Policy is an immutable value; concurrent reads are safe.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::policy {

// KMS rejects key policies longer than 32 KiB.
inline constexpr size_t kMaxPolicyBytes = 32 * 1024;

// A key policy (resource policy: statements name principals) or an identity policy attached to
// a user or role (statements must not name principals).
enum class PolicyKind { kKeyPolicy, kIdentityPolicy };

enum class Effect { kAllow, kDeny };

// One entry of a Principal / NotPrincipal element.
struct PrincipalPattern {
  enum class Kind {
    kAnyone,   // "*" or {"AWS": "*"}
    kAccount,  // "123456789012" or "arn:aws:iam::123456789012:root"; value = account id
    kArn,      // a user, role or assumed-role session ARN; value = the ARN as written
    kService,  // {"Service": "..."}; never matches an IAM caller
  };
  Kind kind = Kind::kAnyone;
  std::string value;
};

// The positive base of a condition operator; `negated` in Condition flips it.
enum class ConditionOperator {
  kStringEquals,
  kStringEqualsIgnoreCase,
  kStringLike,
  kArnLike,  // ArnEquals and ArnLike behave the same on AWS (both take wildcards per component)
  kBool,
  kNull,
};

enum class SetQualifier { kNone, kForAnyValue, kForAllValues };

// One (operator, key) pair of a Condition block. Values are ORed.
struct Condition {
  std::string operator_name;  // as written, for messages ("ForAnyValue:StringLikeIfExists")
  ConditionOperator op = ConditionOperator::kStringEquals;
  bool negated = false;    // StringNotEquals, StringNotLike, ArnNotLike, ...
  bool if_exists = false;  // ...IfExists: true when the key is absent
  SetQualifier set = SetQualifier::kNone;
  std::string key;  // lower-cased: condition key names are case-insensitive
  std::vector<std::string> values;
};

struct Statement {
  std::string sid;  // may be empty
  Effect effect = Effect::kAllow;
  // Key policies: principals (or, if principals_negated, the NotPrincipal list). Identity
  // policies: empty.
  bool principals_negated = false;
  std::vector<PrincipalPattern> principals;
  // Lower-cased patterns (action names are case-insensitive). NotAction if actions_negated.
  bool actions_negated = false;
  std::vector<std::string> actions;
  // Case-sensitive patterns. NotResource if resources_negated.
  bool resources_negated = false;
  std::vector<std::string> resources;
  std::vector<Condition> conditions;  // ANDed
};

class Policy final {
 public:
  // Parses and validates `json` as a policy of the given kind. InvalidArgument on any defect
  // (see the grammar above). The text is kept (KMS GetKeyPolicy returns it as given).
  static absl::StatusOr<Policy> Parse(std::string_view json, PolicyKind kind);

  PolicyKind kind() const { return kind_; }
  const std::string& version() const { return version_; }  // empty if absent
  const std::string& id() const { return id_; }
  const std::vector<Statement>& statements() const { return statements_; }
  const std::string& text() const { return text_; }

 private:
  Policy() = default;

  PolicyKind kind_ = PolicyKind::kKeyPolicy;
  std::string version_;
  std::string id_;
  std::vector<Statement> statements_;
  std::string text_;
};

// True for exactly twelve ASCII digits.
bool IsAccountId(std::string_view s);

// Splits arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE into its six components (the resource
// keeps any further ':'). False if `arn` does not start with "arn:" or has fewer than five ':'.
// The views point into `arn`.
bool SplitArn(std::string_view arn, std::array<std::string_view, 6>& parts);

// The key policy KMS CreateKey attaches when no Policy is given: one statement, Sid "Enable IAM
// User Permissions", that lets the account (and through IAM policies its users and roles) do
// kms:* on the key. InvalidArgument if `account_id` is not a 12-digit account id.
absl::StatusOr<std::string> DefaultKeyPolicy(std::string_view account_id);

}  // namespace lockout::policy
