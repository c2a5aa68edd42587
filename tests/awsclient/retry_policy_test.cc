#include "src/awsclient/retry_policy.h"

#include <vector>

#include "gtest/gtest.h"
#include "src/awsclient/aws_call_error.h"

namespace lockout::awsclient {
namespace {

RetryPolicy Policy(int attempts, absl::Duration total) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff = absl::Milliseconds(100);
  p.max_backoff = absl::Seconds(2);
  p.total_timeout = total;
  p.attempt_timeout = absl::Seconds(3);
  return p;
}

// A fake clock whose sleeps advance it: nothing in these tests waits for real.
struct FakeTime {
  FakeClock clock{absl::FromUnixSeconds(1700000000)};
  std::vector<absl::Duration> sleeps;
  RetryEnvironment Env(double u = 0.5) {
    RetryEnvironment env;
    env.clock = &clock;
    env.sleep = [this](absl::Duration d) {
      sleeps.push_back(d);
      clock.Advance(d);
    };
    env.uniform01 = [u] { return u; };
    return env;
  }
};

TEST(BackoffDelayTest, GrowsExponentiallyUpToTheCapScaledByJitter) {
  RetryPolicy p = Policy(10, absl::Seconds(60));
  EXPECT_EQ(BackoffDelay(p, 1, 1.0), absl::Milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 2, 1.0), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 3, 1.0), absl::Milliseconds(400));
  EXPECT_EQ(BackoffDelay(p, 6, 1.0), absl::Seconds(2));   // 3.2 s capped at 2 s
  EXPECT_EQ(BackoffDelay(p, 60, 1.0), absl::Seconds(2));  // no overflow for large counts
  EXPECT_EQ(BackoffDelay(p, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 3, 0.0), absl::ZeroDuration());
}

TEST(RunWithRetriesTest, StopsAtTheFirstSuccess) {
  FakeTime t;
  int calls = 0;
  int made = 0;
  absl::Status s = RunWithRetries(
      Policy(5, absl::Seconds(30)), t.Env(),
      [&](int n, absl::Duration) -> AttemptResult {
        ++calls;
        EXPECT_EQ(n, calls);
        if (n < 3) return {absl::UnavailableError("flaky"), true};
        return {absl::OkStatus(), false};
      },
      &made);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(made, 3);
  ASSERT_EQ(t.sleeps.size(), 2u);
  EXPECT_EQ(t.sleeps[0], absl::Milliseconds(50));   // 100 ms * 0.5
  EXPECT_EQ(t.sleeps[1], absl::Milliseconds(100));  // 200 ms * 0.5
}

TEST(RunWithRetriesTest, NonRetryableFailureIsReturnedAfterOneAttempt) {
  FakeTime t;
  int made = 0;
  absl::Status s = RunWithRetries(
      Policy(5, absl::Seconds(30)), t.Env(),
      [&](int, absl::Duration) -> AttemptResult {
        return {absl::PermissionDeniedError("denied"), false};
      },
      &made);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(made, 1);
  EXPECT_TRUE(t.sleeps.empty());
}

TEST(RunWithRetriesTest, GivesUpAfterMaxAttemptsKeepingCodeAndPayload) {
  FakeTime t;
  int made = 0;
  absl::Status s = RunWithRetries(
      Policy(4, absl::Seconds(30)), t.Env(),
      [&](int, absl::Duration) -> AttemptResult {
        return {MakeAwsCallStatus("kms.Decrypt", {"ThrottlingException", "slow down", 400}), true};
      },
      &made);
  EXPECT_EQ(made, 4);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsAwsErrorType(s, "ThrottlingException"));
  EXPECT_NE(std::string(s.message()).find("after 4 attempts"), std::string::npos) << s;
}

TEST(RunWithRetriesTest, StopsRetryingWhenTheNextSleepWouldPassTheDeadline) {
  FakeTime t;
  int made = 0;
  // Full backoff (u = 1): sleeps of 100, 200, 400, 800 ms ... under a 1 s deadline.
  absl::Status s = RunWithRetries(
      Policy(100, absl::Seconds(1)), t.Env(/*u=*/1.0),
      [&](int, absl::Duration) -> AttemptResult {
        return {absl::UnavailableError("down"), true};
      },
      &made);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  // 0 ms: attempt 1, sleep 100; 100: attempt 2, sleep 200; 300: attempt 3, sleep 400;
  // 700: attempt 4, next sleep 800 would end at 1500 > 1000: give up.
  EXPECT_EQ(made, 4);
  EXPECT_NE(std::string(s.message()).find("deadline"), std::string::npos) << s;
  EXPECT_LE(t.clock.Now() - absl::FromUnixSeconds(1700000000), absl::Seconds(1));
}

TEST(RunWithRetriesTest, EachAttemptGetsAtMostTheTimeLeft) {
  FakeTime t;
  std::vector<absl::Duration> timeouts;
  RetryPolicy p = Policy(3, absl::Seconds(4));
  (void)RunWithRetries(p, t.Env(/*u=*/0.0), [&](int, absl::Duration timeout) -> AttemptResult {
    timeouts.push_back(timeout);
    t.clock.Advance(absl::Milliseconds(1500));  // the attempt itself takes 1.5 s
    return {absl::DeadlineExceededError("slow"), true};
  });
  ASSERT_EQ(timeouts.size(), 3u);
  EXPECT_EQ(timeouts[0], absl::Seconds(3));  // attempt_timeout
  EXPECT_EQ(timeouts[1], absl::Milliseconds(2500));
  EXPECT_EQ(timeouts[2], absl::Seconds(1));
}

}  // namespace
}  // namespace lockout::awsclient
