#pragma once

// Who can call local-aws: the account root, an admin IAM user, and the EC2 instance role whose
// temporary credentials IMDSv2 hands out (ARCHITECTURE §5).
//
// Every principal has credentials that SigV4 verifies; the instance role's session credentials
// carry a session token, expire, and rotate: a new set is issued once half the lifetime has
// passed, and older sets keep working until their own expiration, as on EC2. Identity policies:
// the root has every right; the admin user may do kms:* and secretsmanager:*; the instance role
// has the seed tutorial's policy (kms:Encrypt, secretsmanager:CreateSecret and GetSecretValue).
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

  IssuedCredentials RootCredentials() const;
  IssuedCredentials AdminCredentials() const;
  // The instance role's current session credentials; rotates (and persists) when due.
  absl::StatusOr<IssuedCredentials> InstanceCredentials();

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

  mutable absl::Mutex mu_;
  Key root_key_ ABSL_GUARDED_BY(mu_);
  Key admin_key_ ABSL_GUARDED_BY(mu_);
  std::vector<Key> sessions_ ABSL_GUARDED_BY(mu_);  // newest last
};

}  // namespace lockout::localaws
