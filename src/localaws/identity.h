#pragma once

// Who can call local-aws: the account root, an admin IAM user, the EC2 instance role whose
// temporary credentials IMDSv2 hands out, and sessions of the roles STS AssumeRole issues.
//
// Every principal has credentials that SigV4 verifies; the instance role's session credentials
// carry a session token, expire, and rotate: a new set is issued once half the lifetime has
// passed, and older sets keep working until their own expiration, as on EC2. Identity policies:
// the root has every right; the admin user may do kms:* and secretsmanager:*; the instance role
// has the seed tutorial's policy (kms:Encrypt, secretsmanager:CreateSecret and GetSecretValue).
//
// Roles (IAM roles an STS AssumeRole may assume, `assumable_roles`, default the tutorial's
// KeyAdmin and KeyPolicyBreakGlass): trust policy {"AWS": "arn:aws:iam::ACCT:root"} (any principal
// of the account whose identity policy allows sts:AssumeRole on the role: the root and the admin
// user), identity policy kms:* and secretsmanager:*, maximum session 1 hour. The instance role
// trusts only ec2.amazonaws.com, so no IAM principal can assume it (as on AWS). A role session's
// principal is arn:aws:sts::ACCT:assumed-role/ROLE/SESSION; key policies that name the role ARN
// match it. At most `max_role_sessions` live role sessions are kept (the oldest is dropped first).
//
// State lives in <state>/identity.json (mode 0600; it holds the local secret keys), written
// atomically on every change. Thread-safe.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/aws/sigv4_verifier.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"
#include "src/policy/policy.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {

struct IdentityOptions {
  std::string account = "111122223333";
  std::string region = "us-east-1";
  std::string instance_id = "i-0123456789abcdef0";
  std::string instance_role_name = "lockout-instance-role";
  std::string admin_user_name = "lockout-admin";
  absl::Duration session_lifetime = absl::Hours(6);
  std::vector<std::string> assumable_roles = {"KeyAdmin", "KeyPolicyBreakGlass"};
  absl::Duration role_max_session = absl::Hours(1);
  size_t max_role_sessions = 1000;
};

// An IAM role of the account.
struct RoleInfo {
  std::string name;
  std::string arn;                             // arn:aws:iam::ACCT:role/NAME
  std::string role_id;                         // AROA... (AWS's unique id of the role)
  std::optional<policy::Policy> trust_policy;  // always set
  std::vector<policy::Policy> identity_policies;
};

// Credentials as handed to a client (ready file, IMDS).
struct IssuedCredentials {
  std::string access_key_id;
  SecretBytes secret_access_key;
  std::string session_token;  // empty for long-term keys
  std::optional<absl::Time> expiration;
};

class IdentityStore {
 public:
  // Loads <state_dir>/identity.json or creates it with fresh keys.
  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(const std::string& state_dir,
                                                             IdentityOptions options,
                                                             const Clock& clock);

  const IdentityOptions& options() const { return options_; }
  const policy::Principal& root() const { return root_; }
  const policy::Principal& admin() const { return admin_; }
  // The instance role's session principal (arn:aws:sts::ACCT:assumed-role/ROLE/INSTANCE-ID).
  const policy::Principal& instance() const { return instance_; }
  std::string instance_role_arn() const;
  // The role with this ARN (the instance role included), nullptr when there is none.
  const RoleInfo* FindRole(std::string_view role_arn) const;
  // The roles STS may assume, in option order.
  const std::vector<RoleInfo>& roles() const { return roles_; }
  // AWS's unique id of a principal (GetCallerIdentity's UserId): the account id for the root,
  // AIDA... for a user, ROLE-ID:SESSION for a role session.
  std::string UserId(const policy::Principal& principal) const;

  IssuedCredentials RootCredentials() const;
  IssuedCredentials AdminCredentials() const;
  // The instance role's current session credentials; rotates (and persists) when due.
  absl::StatusOr<IssuedCredentials> InstanceCredentials();
  // New session credentials of `role` named `session_name`, valid for `duration`; persisted.
  // `principal_out` gets the session's principal.
  absl::StatusOr<IssuedCredentials> IssueRoleSession(const RoleInfo& role,
                                                     std::string_view session_name,
                                                     absl::Duration duration,
                                                     policy::Principal* principal_out);

  // For SigV4Verifier: the credential for an access key id (principal = the principal's ARN).
  std::optional<aws::VerifierCredential> Lookup(std::string_view access_key_id) const;
  // The principal that owns a verified access key id.
  std::optional<policy::Principal> PrincipalForKey(std::string_view access_key_id) const;
  // The identity policies of a principal (empty for the root, which has every right).
  absl::Span<const policy::Policy> IdentityPolicies(const policy::Principal& principal) const;

 private:
  struct Key {
    std::string access_key_id;
    SecretBytes secret;
    std::string session_token;
    std::optional<absl::Time> issued;
    std::optional<absl::Time> expiration;
    // Role sessions only: the role's name and the session's name and principal.
    std::string role_name;
    std::string session_name;
    std::optional<policy::Principal> principal;
  };

  IdentityStore(std::string path, IdentityOptions options, const Clock& clock);
  absl::Status Load();
  absl::Status SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static Key NewKey(std::string_view prefix);
  static IssuedCredentials Issue(const Key& key);

  const std::string path_;
  const IdentityOptions options_;
  const Clock& clock_;
  policy::Principal root_, admin_, instance_;
  std::vector<policy::Policy> admin_policies_, instance_policies_;
  std::vector<RoleInfo> roles_;  // assumable roles, then the instance role

  mutable absl::Mutex mu_;
  Key root_key_ ABSL_GUARDED_BY(mu_);
  Key admin_key_ ABSL_GUARDED_BY(mu_);
  std::vector<Key> sessions_ ABSL_GUARDED_BY(mu_);       // newest last
  std::vector<Key> role_sessions_ ABSL_GUARDED_BY(mu_);  // newest last
};

}  // namespace lockout::localaws
