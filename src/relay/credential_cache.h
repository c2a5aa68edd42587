#pragma once

// CredentialCache: the instance role's credentials as lockout-relay hands them out.
//
// Get() returns the cached credentials while they are valid for more than `refresh_margin`
// (default 5 minutes: IMDS publishes new credentials at least 5 minutes before the old ones
// expire), and otherwise fetches new ones. Fetches happen under the cache's mutex: concurrent
// callers wait for one fetch and share its result instead of stampeding IMDS. If a fetch fails
// while the cached credentials have not expired yet, those are returned (and the failure
// logged), so a brief IMDS outage inside the margin does not fail requests.
//
// The cached secret key and session token are mlock()ed (and kept out of core dumps): they live
// for hours. If the kernel refuses (RLIMIT_MEMLOCK without CAP_IPC_LOCK) the cache still works;
// the first refusal is logged once (relay_credentials_memory_not_locked) and the state is
// published as lockout_relay_credentials_memory_locked and memory_locked(). The copies Get()
// hands out live for one request and are wiped, not locked.
//
// Why not awsclient::ImdsCredentialsProvider, which caches the same way: the relay must time
// each real fetch (lockout_relay_upstream_latency_seconds{operation="imds_credentials"}),
// publish the expiry gauge and log refreshes, none of which a cache hit may count; and the fetch
// function is injectable, so the policy is tested with a FakeClock and no HTTP at all.
//
// Thread-safety: thread-safe.

#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/awsclient/imds_client.h"
#include "src/common/clock.h"
#include "src/relay/relay_metrics.h"

namespace lockout::relay {

class CredentialCache final {
 public:
  using Fetcher = std::function<absl::StatusOr<awsclient::RoleCredentials>()>;

  // `clock` must not be null; `metrics` may be null. Both must outlive the cache.
  CredentialCache(Fetcher fetch, absl::Duration refresh_margin, const Clock* clock,
                  RelayMetrics* metrics);

  // Valid credentials (a copy). Errors: the fetcher's, when nothing unexpired is cached.
  absl::StatusOr<awsclient::RoleCredentials> Get();

  // Expiration of the cached credentials, nullopt before the first successful fetch.
  std::optional<absl::Time> expiration() const;
  // Fetch attempts so far (successful or not).
  int fetches() const;
  // Whether the cached credentials are locked in RAM; nullopt before the first successful fetch.
  std::optional<bool> memory_locked() const;

 private:
  Fetcher fetch_;
  absl::Duration refresh_margin_;
  const Clock* clock_;
  RelayMetrics* metrics_;
  mutable absl::Mutex mu_;
  std::optional<awsclient::RoleCredentials> cached_ ABSL_GUARDED_BY(mu_);
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<bool> memory_locked_ ABSL_GUARDED_BY(mu_);
  bool lock_failure_logged_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace lockout::relay
