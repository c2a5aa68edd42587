#include "src/awsclient/credentials_provider.h"

#include <utility>

namespace lockout::awsclient {

aws::AwsCredentials CopyCredentials(const aws::AwsCredentials& credentials) {
  aws::AwsCredentials copy;
  copy.access_key_id = credentials.access_key_id;
  copy.secret_access_key = SecretBytes::CopyFrom(credentials.secret_access_key.Reveal());
  copy.session_token = SecretBytes::CopyFrom(credentials.session_token.Reveal());
  return copy;
}

StaticCredentialsProvider::StaticCredentialsProvider(aws::AwsCredentials credentials)
    : credentials_(std::move(credentials)) {}

absl::StatusOr<aws::AwsCredentials> StaticCredentialsProvider::GetCredentials() {
  absl::MutexLock lock(&mu_);
  return CopyCredentials(credentials_);
}

void StaticCredentialsProvider::Set(aws::AwsCredentials credentials) {
  absl::MutexLock lock(&mu_);
  credentials_ = std::move(credentials);
}

}  // namespace lockout::awsclient
