#pragma once

// Where an AWS client gets the credentials it signs with.
//
// A provider hands out a fresh copy of currently valid credentials for every request, so that
// temporary credentials (IMDS role credentials, credentials the relay passes to the enclave) can
// be replaced while a client is in use. The secret access key stays in SecretBytes throughout.
//
// Thread-safety: implementations must be thread-safe; clients call GetCredentials concurrently.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/aws/sigv4.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"

namespace lockout::awsclient {

// A deep copy (the secret is copied into new SecretBytes).
aws::AwsCredentials CopyCredentials(const aws::AwsCredentials& credentials);

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Credentials to sign one request with. Errors are the provider's (e.g. IMDS unreachable) and
  // never contain credential values.
  virtual absl::StatusOr<aws::AwsCredentials> GetCredentials() = 0;
};

// Fixed credentials, replaceable with Set() (e.g. when the relay hands out new ones).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(aws::AwsCredentials credentials);

  absl::StatusOr<aws::AwsCredentials> GetCredentials() override;
  void Set(aws::AwsCredentials credentials);

 private:
  absl::Mutex mu_;
  aws::AwsCredentials credentials_ ABSL_GUARDED_BY(mu_);
};

// Temporary credentials with their expiry (IMDS role credentials, STS AssumeRole,
// credential_process). Credentials that never expire have expiration absl::InfiniteFuture().
struct RoleCredentials {
  std::string access_key_id;
  SecretBytes secret_access_key;
  SecretBytes session_token;
  absl::Time expiration;

  // A copy in the form the SigV4 signer takes.
  aws::AwsCredentials ToAwsCredentials() const;
  // A deep copy (the secrets copied into new SecretBytes).
  RoleCredentials Copy() const;
};

// Credentials fetched by `fetch` and cached until `refresh_margin` before they expire. If a
// refresh fails while the cached credentials have not expired yet, those are returned; else the
// fetcher's error. Fetches are serialised (one at a time).
class CachingCredentialsProvider : public CredentialsProvider {
 public:
  using Fetcher = std::function<absl::StatusOr<RoleCredentials>()>;

  CachingCredentialsProvider(Fetcher fetch, absl::Duration refresh_margin = absl::Minutes(5),
                             const Clock* clock = &Clock::Real());

  absl::StatusOr<aws::AwsCredentials> GetCredentials() override;
  // The same, with the expiration.
  absl::StatusOr<RoleCredentials> GetRoleCredentials();
  // Expiration of the cached credentials, nullopt before the first fetch.
  std::optional<absl::Time> expiration() const;
  // Successful fetches so far (for tests).
  int fetches() const;

 private:
  Fetcher fetch_;
  absl::Duration refresh_margin_;
  const Clock* clock_;
  mutable absl::Mutex mu_;
  std::optional<RoleCredentials> cached_ ABSL_GUARDED_BY(mu_);
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

// Wraps a provider so that its errors read "<prefix><error><suffix>" (the credential chain uses it
// to say what was tried and what to set). The code is kept.
class ExplainingCredentialsProvider final : public CredentialsProvider {
 public:
  ExplainingCredentialsProvider(std::shared_ptr<CredentialsProvider> inner, std::string prefix,
                                std::string suffix);
  absl::StatusOr<aws::AwsCredentials> GetCredentials() override;
  CredentialsProvider& inner() { return *inner_; }

 private:
  std::shared_ptr<CredentialsProvider> inner_;
  std::string prefix_, suffix_;
};

}  // namespace lockout::awsclient
