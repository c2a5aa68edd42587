#include "src/relay/relay_upstream.h"

#include <utility>

#include "absl/status/status.h"
#include "src/common/status_macros.h"

namespace lockout::relay {
namespace {

// Signs Secrets Manager calls with the cache's credentials.
class CacheCredentialsProvider final : public awsclient::CredentialsProvider {
 public:
  explicit CacheCredentialsProvider(std::shared_ptr<CredentialCache> cache)
      : cache_(std::move(cache)) {}

  absl::StatusOr<aws::AwsCredentials> GetCredentials() override {
    ASSIGN_OR_RETURN(awsclient::RoleCredentials c, cache_->Get());
    return c.ToAwsCredentials();
  }

 private:
  std::shared_ptr<CredentialCache> cache_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AwsRelayUpstream>> AwsRelayUpstream::Create(
    awsclient::EndpointConfig imds_endpoint, awsclient::EndpointConfig secrets_manager,
    std::string region, AwsRelayUpstreamOptions options, RelayMetrics* metrics) {
  if (region.empty()) return absl::InvalidArgumentError("relay upstream: empty region");
  if (options.clock == nullptr) return absl::InvalidArgumentError("relay upstream: null clock");
  std::unique_ptr<AwsRelayUpstream> upstream(new AwsRelayUpstream());
  ASSIGN_OR_RETURN(std::unique_ptr<awsclient::ImdsClient> imds,
                   awsclient::ImdsClient::Create(std::move(imds_endpoint), options.imds_options));
  upstream->imds_ = std::move(imds);
  std::shared_ptr<awsclient::ImdsClient> imds_client = upstream->imds_;
  upstream->cache_ =
      std::make_shared<CredentialCache>([imds_client] { return imds_client->GetCredentials(); },
                                        options.refresh_margin, options.clock, metrics);
  ASSIGN_OR_RETURN(
      upstream->secrets_,
      awsclient::SecretsClient::Create(std::move(secrets_manager),
                                       std::make_shared<CacheCredentialsProvider>(upstream->cache_),
                                       std::move(region), options.secrets_retry));
  return upstream;
}

absl::StatusOr<awsclient::RoleCredentials> AwsRelayUpstream::GetCredentials() {
  return cache_->Get();
}

absl::StatusOr<awsclient::SecretValue> AwsRelayUpstream::GetSecretValue(
    std::string_view secret_id) {
  return secrets_->GetSecretValue(secret_id);
}

absl::StatusOr<std::string> AwsRelayUpstream::PutSecret(std::string_view name,
                                                        const SecretBytes& value, bool overwrite) {
  // CreateSecret first: it is what makes the store write-once (AWS refuses a name that exists
  // with ResourceExistsException, whatever its value).
  absl::StatusOr<awsclient::SecretVersionRef> stored =
      secrets_->CreateSecret(name, value, awsclient::SecretKind::kBinary);
  if (!stored.ok() && absl::IsAlreadyExists(stored.status()) && overwrite) {
    stored = secrets_->PutSecretValue(name, value, awsclient::SecretKind::kBinary);
  }
  if (!stored.ok()) return stored.status();
  return stored->version_id;
}

}  // namespace lockout::relay
