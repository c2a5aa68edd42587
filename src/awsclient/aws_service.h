#pragma once

// The AWS JSON 1.1 services lockout talks to, and the names each one goes by.

#include <string_view>

namespace lockout::awsclient {

struct AwsService {
  std::string_view name;             // for messages and logs: "kms"
  std::string_view target_prefix;    // X-Amz-Target prefix: "TrentService"
  std::string_view signing_name;     // SigV4 credential scope service: "kms"
  std::string_view endpoint_prefix;  // default host: "<prefix>.<region>.amazonaws.com"
  std::string_view env_suffix;       // AWS_ENDPOINT_URL_<suffix>
};

inline constexpr AwsService kKmsService{"kms", "TrentService", "kms", "kms", "KMS"};
inline constexpr AwsService kSecretsManagerService{
    "secretsmanager", "secretsmanager", "secretsmanager", "secretsmanager", "SECRETS_MANAGER"};

}  // namespace lockout::awsclient
