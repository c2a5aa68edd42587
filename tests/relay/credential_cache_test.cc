#include "src/relay/credential_cache.h"

#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/relay/fake_upstream.h"
#include "tests/testing/memory_lock.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// An IMDS stand-in: each fetch returns credentials valid for one hour from "now" with a key id
// that counts the fetches, or fails while `failing`.
struct ScriptedImds {
  FakeClock* clock;
  int fetches = 0;
  bool failing = false;
  absl::Duration lifetime = absl::Hours(1);

  CredentialCache::Fetcher Fetcher() {
    return [this]() -> absl::StatusOr<awsclient::RoleCredentials> {
      ++fetches;
      if (failing) return absl::UnavailableError("IMDS unreachable");
      awsclient::RoleCredentials c;
      c.access_key_id = "ASIA" + std::to_string(fetches);
      c.secret_access_key = SecretBytes::CopyFrom(std::string_view(testing::kCanarySecretKey));
      c.session_token = SecretBytes::CopyFrom(std::string_view(testing::kCanaryToken));
      c.expiration = clock->Now() + lifetime;
      return c;
    };
  }
};

TEST(CredentialCacheTest, FetchesOnceAndServesFromCacheWhileValid) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  EXPECT_FALSE(cache.expiration().has_value());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<awsclient::RoleCredentials> c = cache.Get();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->access_key_id, "ASIA1");
    EXPECT_EQ(c->secret_access_key.RevealAsString(), testing::kCanarySecretKey);
    clock.Advance(absl::Minutes(10));
  }
  EXPECT_EQ(imds.fetches, 1);
  EXPECT_EQ(cache.expiration(), kT0 + absl::Hours(1));
}

TEST(CredentialCacheTest, RefreshesOnlyInsideTheMarginBeforeExpiry) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  ASSERT_TRUE(cache.Get().ok());
  clock.Set(kT0 + absl::Minutes(55) - absl::Seconds(1));  // 5 min + 1 s before expiry
  EXPECT_EQ(cache.Get()->access_key_id, "ASIA1");
  clock.Set(kT0 + absl::Minutes(55));  // exactly the margin: refresh
  EXPECT_EQ(cache.Get()->access_key_id, "ASIA2");
  EXPECT_EQ(imds.fetches, 2);
  EXPECT_EQ(cache.expiration(), kT0 + absl::Minutes(115));
}

TEST(CredentialCacheTest, FailedRefreshServesCachedCredentialsUntilTheyExpire) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  ASSERT_TRUE(cache.Get().ok());
  imds.failing = true;
  clock.Set(kT0 + absl::Minutes(58));
  absl::StatusOr<awsclient::RoleCredentials> c = cache.Get();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ASIA1");
  clock.Set(kT0 + absl::Hours(1));
  EXPECT_EQ(cache.Get().status().code(), absl::StatusCode::kUnavailable);
  imds.failing = false;
  EXPECT_EQ(cache.Get()->access_key_id, "ASIA4");
}

TEST(CredentialCacheTest, FailureWithNothingCachedIsReturned) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  imds.failing = true;
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  EXPECT_EQ(cache.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(cache.fetches(), 1);
}

TEST(CredentialCacheTest, AlreadyExpiredCredentialsAreNeitherServedNorCached) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  imds.lifetime = absl::ZeroDuration();
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  EXPECT_EQ(cache.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(cache.expiration().has_value());
}

TEST(CredentialCacheTest, ShortLivedCredentialsInsideTheMarginAreServedButRefetched) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  imds.lifetime = absl::Minutes(2);
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  EXPECT_TRUE(cache.Get().ok());
  EXPECT_TRUE(cache.Get().ok());
  EXPECT_EQ(imds.fetches, 2);
}

TEST(CredentialCacheTest, ConcurrentCallersShareOneFetch) {
  FakeClock clock(kT0);
  absl::Notification release;
  std::atomic<int> fetches{0};
  CredentialCache cache(
      [&]() -> absl::StatusOr<awsclient::RoleCredentials> {
        ++fetches;
        release.WaitForNotification();
        awsclient::RoleCredentials c;
        c.access_key_id = "ASIA";
        c.secret_access_key = SecretBytes::CopyFrom(std::string_view("k"));
        c.expiration = kT0 + absl::Hours(1);
        return c;
      },
      absl::Minutes(5), &clock, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.Get().ok()) ++ok;
    });
  }
  release.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(fetches.load(), 1);
}

TEST(CredentialCacheTest, RealFetchesAreTimedAndPublishExpiryCacheHitsAreNot) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  RelayMetrics metrics(&clock);
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, &metrics);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(metrics.upstream_calls(kOpImdsCredentials), 1u);
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr("lockout_relay_credentials_expiry_seconds 3600\n"));
}

TEST(CredentialCacheTest, RefreshLogsNeverContainCredentials) {
  testing::LogCapture logs;
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, nullptr);
  ASSERT_TRUE(cache.Get().ok());
  imds.failing = true;
  clock.Advance(absl::Minutes(58));
  ASSERT_TRUE(cache.Get().ok());
  const std::string text = logs.str();
  EXPECT_THAT(text, HasSubstr("relay_credentials_refreshed"));
  EXPECT_THAT(text, HasSubstr("relay_credentials_refresh_failed"));
  EXPECT_THAT(text, Not(HasSubstr("CANARY")));
}

TEST(CredentialCacheTest, CachedCredentialsAreLockedAndThatIsPublished) {
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  RelayMetrics metrics(&clock);
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, &metrics);
  EXPECT_FALSE(cache.memory_locked().has_value());
  EXPECT_THAT(metrics.RenderPrometheus(), Not(HasSubstr("credentials_memory_locked")));
  ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(cache.memory_locked(), true);
  EXPECT_THAT(metrics.RenderPrometheus(), HasSubstr("lockout_relay_credentials_memory_locked 1\n"));
}

TEST(CredentialCacheTest, RefusedLockIsLoggedOncePublishedAndStillServes) {
  testing::LogCapture logs;
  FakeClock clock(kT0);
  ScriptedImds imds{&clock};
  RelayMetrics metrics(&clock);
  CredentialCache cache(imds.Fetcher(), absl::Minutes(5), &clock, &metrics);
  {
    lockout::testing::ScopedMemoryLockDenied denied;  // this thread is the one that fetches
    ASSERT_TRUE(denied.ok()) << denied.why();
    for (int refresh = 0; refresh < 3; ++refresh) {
      absl::StatusOr<awsclient::RoleCredentials> c = cache.Get();
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_EQ(c->session_token.RevealAsString(), testing::kCanaryToken);
      clock.Advance(absl::Minutes(58));  // inside the margin: the next Get refetches
    }
  }
  EXPECT_EQ(imds.fetches, 3);
  EXPECT_EQ(cache.memory_locked(), false);
  EXPECT_THAT(metrics.RenderPrometheus(), HasSubstr("lockout_relay_credentials_memory_locked 0\n"));
  const std::string text = logs.str();
  const size_t first = text.find("relay_credentials_memory_not_locked");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("relay_credentials_memory_not_locked", first + 1), std::string::npos)
      << "logged more than once";
  EXPECT_THAT(text, Not(HasSubstr("CANARY")));
  // Once the limit allows it again, the next refresh is locked and says so.
  ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(cache.memory_locked(), true);
  EXPECT_THAT(metrics.RenderPrometheus(), HasSubstr("lockout_relay_credentials_memory_locked 1\n"));
}

}  // namespace
}  // namespace lockout::relay
