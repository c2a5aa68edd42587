#pragma once

// The AWS services lockout talks to (KMS and Secrets Manager over AWS JSON 1.1, STS over the
// query protocol), and the names each one goes by.

#include <string_view>

namespace lockout::awsclient {

struct AwsService {
  std::string_view name;             // for messages and logs: "kms"
  std::string_view target_prefix;    // X-Amz-Target prefix: "TrentService" (JSON 1.1 only)
  std::string_view signing_name;     // SigV4 credential scope service: "kms"
  std::string_view endpoint_prefix;  // default host: "<prefix>.<region>.amazonaws.com"
  std::string_view env_suffix;       // AWS_ENDPOINT_URL_<suffix>
};

inline constexpr AwsService kKmsService{"kms", "TrentService", "kms", "kms", "KMS"};
inline constexpr AwsService kSecretsManagerService{
    "secretsmanager", "secretsmanager", "secretsmanager", "secretsmanager", "SECRETS_MANAGER"};

// Query protocol: no X-Amz-Target. Regional endpoints (https://sts.REGION.amazonaws.com), as the
// SDKs use by default.
inline constexpr AwsService kStsService{"sts", "", "sts", "sts", "STS"};

}  // namespace lockout::awsclient
