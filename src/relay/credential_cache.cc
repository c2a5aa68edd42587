#include "src/relay/credential_cache.h"

#include <utility>

#include "src/common/logger.h"

namespace lockout::relay {

CredentialCache::CredentialCache(Fetcher fetch, absl::Duration refresh_margin, const Clock* clock,
                                 RelayMetrics* metrics)
    : fetch_(std::move(fetch)), refresh_margin_(refresh_margin), clock_(clock), metrics_(metrics) {}

absl::StatusOr<awsclient::RoleCredentials> CredentialCache::Get() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (cached_.has_value() && now < cached_->expiration - refresh_margin_) {
    return cached_->Copy();
  }
  ++fetches_;
  const absl::Time start = clock_->Now();
  absl::StatusOr<awsclient::RoleCredentials> fresh = fetch_();
  const absl::Duration latency = clock_->Now() - start;
  if (metrics_ != nullptr) metrics_->ObserveUpstreamLatency(kOpImdsCredentials, latency);
  if (!fresh.ok()) {
    const bool usable = cached_.has_value() && now < cached_->expiration;
    LogWarn("relay_credentials_refresh_failed",
            {{"status", std::string(absl::StatusCodeToString(fresh.status().code()))},
             {"detail", std::string(fresh.status().message())},
             {"using_cached", usable},
             {"latency_ms", absl::ToDoubleMilliseconds(latency)}});
    if (usable) return cached_->Copy();
    return fresh.status();
  }
  if (fresh->expiration <= now) {
    // Never hand out (or cache) what is already dead; IMDS would be broken to send it.
    LogWarn("relay_credentials_already_expired",
            {{"expiration", FormatRfc3339(fresh->expiration)}});
    return absl::UnavailableError("IMDS returned credentials that have already expired");
  }
  LogInfo("relay_credentials_refreshed", {{"expiration", FormatRfc3339(fresh->expiration)},
                                          {"latency_ms", absl::ToDoubleMilliseconds(latency)}});
  cached_ = *std::move(fresh);
  // Lock() on the cached SecretBytes themselves: a move keeps the allocation, so they stay locked
  // until the next refresh replaces (and wipes) them.
  const bool key_locked = cached_->secret_access_key.Lock();
  const bool token_locked = cached_->session_token.Lock();
  memory_locked_ = key_locked && token_locked;
  if (!*memory_locked_ && !lock_failure_logged_) {
    lock_failure_logged_ = true;
    LogWarn("relay_credentials_memory_not_locked",
            {{"detail",
              "mlock refused for the cached role credentials (raise RLIMIT_MEMLOCK, e.g. "
              "LimitMEMLOCK= in the systemd unit); they may be swapped to disk"}});
  }
  if (metrics_ != nullptr) {
    metrics_->SetCredentialsExpiration(cached_->expiration);
    metrics_->SetCredentialsMemoryLocked(*memory_locked_);
  }
  return cached_->Copy();
}

std::optional<absl::Time> CredentialCache::expiration() const {
  absl::MutexLock lock(&mu_);
  if (!cached_.has_value()) return std::nullopt;
  return cached_->expiration;
}

std::optional<bool> CredentialCache::memory_locked() const {
  absl::MutexLock lock(&mu_);
  return memory_locked_;
}

int CredentialCache::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

}  // namespace lockout::relay
