#pragma once

// KMS grants for `lockout local-aws`: the pure rules that decide what a grant allows (issue 10
// item 4). KmsService stores grants (kms_key_store.h) and calls these; no I/O here.
//
// A grant on a key lets its grantee call the grant's operations on that key, as AWS KMS does:
//   * the grantee matches the caller when the GranteePrincipal is the caller's ARN, or the role
//     ARN of an assumed-role session (arn:aws:iam::ACCT:role/NAME), or the caller's account
//     (arn:aws:iam::ACCT:root / ACCT), which, like a key policy naming the account, only
//     delegates: KmsService then also needs the caller's identity policies to allow the action
//     (the account root needs nothing more);
//   * a constraint restricts the operations that take an encryption context (Encrypt, Decrypt,
//     ReEncryptFrom/To, GenerateDataKey*): EncryptionContextEquals needs the request's context
//     to be exactly the constraint's (keys and values case-sensitive), EncryptionContextSubset
//     needs every pair of the constraint in the request's context (extra pairs allowed). As on
//     AWS, a constraint does not restrict operations without an encryption context
//     (DescribeKey, CreateGrant, RetireGrant);
//   * a grant is only ever an Allow: KmsService consults grants only when the policies give an
//     implicit deny, so an explicit Deny in the key policy or an identity policy still applies to
//     grantees.
//
// Grant tokens: opaque base64 strings; local-aws's tokens carry the grant id and 32 random bytes.
// Grants take effect immediately (local-aws has no eventual consistency), so a token is never
// needed for a grant to work; a token that is not one local-aws could have issued is
// InvalidGrantTokenException. A well-formed token of a grant that no longer exists authorises
// nothing.
//
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/localaws/kms_ciphertext.h"
#include "src/localaws/kms_key_store.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {

// AWS's GrantOperation enum, in AWS's order.
const std::vector<std::string_view>& KmsGrantOperationNames();

// A new random grant id (64 lower-case hex digits).
std::string NewKmsGrantId();

// A new token for grant `grant_id` (base64, 92 characters).
std::string MakeKmsGrantToken(std::string_view grant_id);

// The grant id a token names, or nullopt when `token` is not a token local-aws issues
// (InvalidGrantTokenException).
std::optional<std::string> KmsGrantIdFromToken(std::string_view token);

enum class GranteeMatch {
  kNone,     // the grant is not for this caller
  kDirect,   // the grantee is the caller (user, role of the session, or the account root itself)
  kAccount,  // the grantee is the caller's account: the caller's identity policies must allow
};

GranteeMatch MatchGrantee(std::string_view grantee_principal, const policy::Principal& caller);

// True when `principal` (a RetiringPrincipal) names `caller` directly, as MatchGrantee's kDirect.
bool PrincipalNamesCaller(std::string_view principal, const policy::Principal& caller);

// True when `grant`'s constraint allows a request with encryption context `context` (nullptr for
// an operation without one: always true).
bool KmsGrantConstraintAllows(const KmsGrant& grant, const EncryptionContext* context);

// True when a child grant with `child_operations` and `child` constraint is no broader than
// `parent` (operations a subset; the parent's constraint implied by the child's), which is
// what a grantee may create through a grant that allows CreateGrant.
bool KmsGrantIsNarrower(const KmsGrant& parent, const std::vector<std::string>& child_operations,
                        KmsGrantConstraint child, const EncryptionContext& child_context);

// True when the grantee principal / retiring principal string is acceptable to CreateGrant:
// an IAM ARN (arn:aws:iam::ACCT:root|user/..|role/..), an STS assumed-role ARN, a 12-digit
// account id, or a service principal (NAME.amazonaws.com).
bool IsValidGrantPrincipal(std::string_view principal);

}  // namespace lockout::localaws
