#include "src/awsclient/credentials_provider.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

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

RoleCredentials RoleCredentials::Copy() const {
  RoleCredentials out;
  out.access_key_id = access_key_id;
  out.secret_access_key = SecretBytes::CopyFrom(secret_access_key.Reveal());
  out.session_token = SecretBytes::CopyFrom(session_token.Reveal());
  out.expiration = expiration;
  return out;
}

aws::AwsCredentials RoleCredentials::ToAwsCredentials() const {
  aws::AwsCredentials out;
  out.access_key_id = access_key_id;
  out.secret_access_key = SecretBytes::CopyFrom(secret_access_key.Reveal());
  out.session_token = SecretBytes::CopyFrom(session_token.Reveal());
  return out;
}

CachingCredentialsProvider::CachingCredentialsProvider(Fetcher fetch, absl::Duration refresh_margin,
                                                       const Clock* clock)
    : fetch_(std::move(fetch)),
      refresh_margin_(refresh_margin),
      clock_(clock != nullptr ? clock : &Clock::Real()) {}

absl::StatusOr<RoleCredentials> CachingCredentialsProvider::GetRoleCredentials() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (cached_.has_value() && now < cached_->expiration - refresh_margin_) {
    return cached_->Copy();
  }
  absl::StatusOr<RoleCredentials> fresh = fetch_();
  if (!fresh.ok()) {
    if (cached_.has_value() && now < cached_->expiration) return cached_->Copy();
    return fresh.status();
  }
  ++fetches_;
  cached_ = *std::move(fresh);
  return cached_->Copy();
}

absl::StatusOr<aws::AwsCredentials> CachingCredentialsProvider::GetCredentials() {
  ASSIGN_OR_RETURN(RoleCredentials c, GetRoleCredentials());
  return c.ToAwsCredentials();
}

std::optional<absl::Time> CachingCredentialsProvider::expiration() const {
  absl::MutexLock lock(&mu_);
  if (!cached_.has_value()) return std::nullopt;
  return cached_->expiration;
}

int CachingCredentialsProvider::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

ExplainingCredentialsProvider::ExplainingCredentialsProvider(
    std::shared_ptr<CredentialsProvider> inner, std::string prefix, std::string suffix)
    : inner_(std::move(inner)), prefix_(std::move(prefix)), suffix_(std::move(suffix)) {}

absl::StatusOr<aws::AwsCredentials> ExplainingCredentialsProvider::GetCredentials() {
  absl::StatusOr<aws::AwsCredentials> c = inner_->GetCredentials();
  if (c.ok()) return c;
  return absl::Status(c.status().code(), absl::StrCat(prefix_, c.status().message(), suffix_));
}

}  // namespace lockout::awsclient
