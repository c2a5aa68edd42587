#pragma once

// Resolving AWS settings from the standard environment variables, as the AWS CLI and SDKs do:
//
//   AWS_REGION, AWS_DEFAULT_REGION                       region (first set wins)
//   AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SECRETS_MANAGER  per-service endpoint URL
//   AWS_ENDPOINT_URL                                     endpoint URL for every service
//   AWS_CA_BUNDLE                                        CA bundle for https endpoints
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   static credentials
//   AWS_ENDPOINT_URL_STS                                 STS (credential_chain.h's assume-role)
//   AWS_EC2_METADATA_SERVICE_ENDPOINT                    IMDS (default http://169.254.169.254)
//
// Empty values count as unset. Without an endpoint variable a service resolves to AWS's public
// endpoint https://<service>.<region>.amazonaws.com. The shared config and credentials files and
// the full credential chain are credential_chain.h's (AwsConfig), which builds on this class. Error
// messages name variables and, for URLs and regions, quote values; never credential values.
// Thread-safety: const methods; thread-safe if the lookup function is.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/aws/sigv4.h"
#include "src/awsclient/aws_service.h"
#include "src/awsclient/endpoint_config.h"

namespace lockout::awsclient {

inline constexpr std::string_view kDefaultImdsEndpoint = "http://169.254.169.254";

// Returns the value of an environment variable, nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// A region name: 1..32 of lower-case letters, digits and '-', not starting or ending with '-'.
bool IsRegionName(std::string_view region);

// The process environment (getenv).
EnvLookup ProcessEnvironment();

class AwsEnvironment final {
 public:
  explicit AwsEnvironment(EnvLookup lookup = ProcessEnvironment());

  // AWS_REGION, else AWS_DEFAULT_REGION. NotFound when neither is set; InvalidArgument when the
  // value is not a region name (lower-case letters, digits and '-').
  absl::StatusOr<std::string> Region() const;

  // The endpoint for `service`: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else
  // https://<prefix>.<region>.amazonaws.com. The CA bundle is AWS_CA_BUNDLE or the default.
  // `connect_via` is carried over unchanged. InvalidArgument for a malformed URL or region.
  absl::StatusOr<EndpointConfig> ServiceEndpoint(
      const AwsService& service, std::string_view region,
      std::optional<net::Endpoint> connect_via = std::nullopt) const;

  // AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254.
  absl::StatusOr<EndpointConfig> ImdsEndpoint() const;

  // AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN). NotFound when no access key
  // id is set; InvalidArgument when only one of the pair is.
  absl::StatusOr<aws::AwsCredentials> Credentials() const;

 private:
  std::optional<std::string> Get(std::string_view name) const;

  EnvLookup lookup_;
};

}  // namespace lockout::awsclient
