#pragma once

// Where an AWS client gets the credentials it signs with.
//
// A provider hands out a fresh copy of currently valid credentials for every request, so that
// temporary credentials (IMDS role credentials, credentials the relay passes to the enclave) can
// be replaced while a client is in use. The secret access key stays in SecretBytes throughout.
//
// Thread-safety: implementations must be thread-safe; clients call GetCredentials concurrently.

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/aws/sigv4.h"

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

}  // namespace lockout::awsclient
