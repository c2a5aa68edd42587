#pragma once

// Local AWS Secrets Manager (X-Amz-Target "secretsmanager.*", AWS JSON 1.1).
//
// Operations: CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret, ListSecrets,
// DeleteSecret (RecoveryWindowInDays 7..30, ForceDeleteWithoutRecovery) with SecretBinary /
// SecretString, version ids and the stages AWSCURRENT / AWSPREVIOUS, AWS's error names
// (ResourceNotFoundException, ResourceExistsException, InvalidRequestException,
// InvalidParameterException, ...). Authorisation: the caller's identity policies must allow
// secretsmanager:<Operation> (the account root may do everything).
// State: <state>/secretsmanager/ (one file per secret), written atomically before a write is
// acknowledged. Thread-safe.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "src/common/clock.h"
#include "src/localaws/identity.h"
#include "src/localaws/service.h"

namespace lockout::localaws {

class SecretsService final : public AwsJsonService {
 public:
  static absl::StatusOr<std::unique_ptr<SecretsService>> Open(const std::string& state_dir,
                                                              IdentityStore& identity,
                                                              const Clock& clock);
  ~SecretsService() override;

  std::string_view target_prefix() const override { return "secretsmanager"; }
  std::string_view signing_name() const override { return "secretsmanager"; }
  AwsResult Handle(std::string_view operation, const Json& request,
                   const CallContext& context) override;

 private:
  struct Impl;
  explicit SecretsService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::localaws
