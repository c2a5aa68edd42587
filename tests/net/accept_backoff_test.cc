#include "src/net/accept_backoff.h"

#include "gtest/gtest.h"

namespace lockout::net {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(AcceptBackoffTest, PauseDoublesUpToTheMaximum) {
  AcceptBackoff backoff;  // 100 ms .. 1 s
  absl::Time now = kStart;
  const absl::Duration expected[] = {absl::Milliseconds(100), absl::Milliseconds(200),
                                     absl::Milliseconds(400), absl::Milliseconds(800),
                                     absl::Seconds(1),        absl::Seconds(1)};
  for (absl::Duration want : expected) {
    const AcceptBackoff::Decision d = backoff.OnFailure(now);
    EXPECT_EQ(d.pause, want);
    EXPECT_EQ(d.resume_at, now + want);
    now = d.resume_at;
  }
  EXPECT_EQ(backoff.consecutive_failures(), 6u);
}

TEST(AcceptBackoffTest, SuccessResetsThePause) {
  AcceptBackoff backoff;
  backoff.OnFailure(kStart);
  backoff.OnFailure(kStart + absl::Seconds(1));
  backoff.OnSuccess();
  EXPECT_EQ(backoff.consecutive_failures(), 0u);
  EXPECT_EQ(backoff.OnFailure(kStart + absl::Seconds(2)).pause, absl::Milliseconds(100));
}

TEST(AcceptBackoffTest, LogsTheFirstFailureThenAtMostOncePerInterval) {
  AcceptBackoff backoff(AcceptBackoff::Options{.initial = absl::Milliseconds(100),
                                               .max = absl::Seconds(1),
                                               .log_interval = absl::Seconds(10)});
  absl::Time now = kStart;
  AcceptBackoff::Decision first = backoff.OnFailure(now);
  EXPECT_TRUE(first.log);
  EXPECT_EQ(first.failures_since_log, 1u);
  // One failure every 100 ms for 9.9 s: no line.
  int lines = 0;
  for (int i = 0; i < 99; ++i) {
    now += absl::Milliseconds(100);
    if (backoff.OnFailure(now).log) ++lines;
  }
  EXPECT_EQ(lines, 0);
  now += absl::Milliseconds(100);  // 10 s after the first line
  AcceptBackoff::Decision second = backoff.OnFailure(now);
  EXPECT_TRUE(second.log);
  EXPECT_EQ(second.failures_since_log, 100u);  // the 99 silent ones and this one
}

TEST(AcceptBackoffTest, SuccessDoesNotResetTheLogRateLimit) {
  AcceptBackoff backoff;
  EXPECT_TRUE(backoff.OnFailure(kStart).log);
  backoff.OnSuccess();
  EXPECT_FALSE(backoff.OnFailure(kStart + absl::Seconds(1)).log);
}

TEST(AcceptBackoffTest, NonPositiveOptionsFallBackToDefaults) {
  AcceptBackoff backoff(AcceptBackoff::Options{.initial = absl::ZeroDuration(),
                                               .max = absl::Milliseconds(-5),
                                               .log_interval = absl::ZeroDuration()});
  EXPECT_EQ(backoff.options().initial, absl::Milliseconds(100));
  EXPECT_EQ(backoff.options().max, absl::Seconds(1));
  EXPECT_EQ(backoff.options().log_interval, absl::Seconds(10));
}

TEST(AcceptBackoffTest, MaxBelowInitialIsRaisedToInitial) {
  AcceptBackoff backoff(AcceptBackoff::Options{
      .initial = absl::Seconds(2), .max = absl::Seconds(1), .log_interval = absl::Seconds(10)});
  EXPECT_EQ(backoff.OnFailure(kStart).pause, absl::Seconds(2));
  EXPECT_EQ(backoff.OnFailure(kStart).pause, absl::Seconds(2));
}

}  // namespace
}  // namespace lockout::net
