#include "src/awsclient/aws_environment.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
bool IsRegionName(std::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  if (region.front() == '-' || region.back() == '-') return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

EnvLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

AwsEnvironment::AwsEnvironment(EnvLookup lookup) : lookup_(std::move(lookup)) {}

std::optional<std::string> AwsEnvironment::Get(std::string_view name) const {
  std::optional<std::string> value = lookup_(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

absl::StatusOr<std::string> AwsEnvironment::Region() const {
  for (std::string_view name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::optional<std::string> value = Get(name);
    if (!value.has_value()) continue;
    if (!IsRegionName(*value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(name), "=\"", *value, "\" is not an AWS region name"));
    }
    return *value;
  }
  return absl::NotFoundError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)");
}

absl::StatusOr<EndpointConfig> AwsEnvironment::ServiceEndpoint(
    const AwsService& service, std::string_view region,
    std::optional<net::Endpoint> connect_via) const {
  std::string ca_bundle = Get("AWS_CA_BUNDLE").value_or(std::string(kDefaultCaBundlePath));
  const std::string specific = absl::StrCat("AWS_ENDPOINT_URL_", Absl(service.env_suffix));
  std::optional<std::string> url = Get(specific);
  if (!url.has_value()) url = Get("AWS_ENDPOINT_URL");
  if (!url.has_value()) {
    if (!IsRegionName(region)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", Absl(region), "\" is not an AWS region name"));
    }
    url = absl::StrCat("https://", Absl(service.endpoint_prefix), ".", Absl(region),
                       ".amazonaws.com");
  }
  return EndpointConfig::FromUrl(*url, std::move(connect_via), std::move(ca_bundle));
}

absl::StatusOr<EndpointConfig> AwsEnvironment::ImdsEndpoint() const {
  std::string url =
      Get("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(std::string(kDefaultImdsEndpoint));
  std::string ca_bundle = Get("AWS_CA_BUNDLE").value_or(std::string(kDefaultCaBundlePath));
  return EndpointConfig::FromUrl(url, std::nullopt, std::move(ca_bundle));
}

absl::StatusOr<aws::AwsCredentials> AwsEnvironment::Credentials() const {
  std::optional<std::string> key_id = Get("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = Get("AWS_SECRET_ACCESS_KEY");
  if (!key_id.has_value() && !secret.has_value()) {
    return absl::NotFoundError("no AWS credentials in the environment (AWS_ACCESS_KEY_ID)");
  }
  if (!key_id.has_value() || !secret.has_value()) {
    if (secret.has_value()) WipeString(*secret);
    return absl::InvalidArgumentError(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }
  aws::AwsCredentials credentials;
  credentials.access_key_id = *std::move(key_id);
  credentials.secret_access_key = SecretBytes::CopyFrom(*secret);
  WipeString(*secret);
  if (std::optional<std::string> token = Get("AWS_SESSION_TOKEN"); token.has_value()) {
    credentials.session_token = SecretBytes::CopyFrom(*token);
    WipeString(*token);
  }
  return credentials;
}

}  // namespace lockout::awsclient
