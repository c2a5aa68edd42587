#include "src/common/backoff.h"

#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(BackoffTest, DoublesFromInitialUpToMax) {
  const absl::Duration initial = absl::Milliseconds(100), max = absl::Seconds(1);
  EXPECT_EQ(ExponentialBackoff(initial, max, 1), absl::Milliseconds(100));
  EXPECT_EQ(ExponentialBackoff(initial, max, 2), absl::Milliseconds(200));
  EXPECT_EQ(ExponentialBackoff(initial, max, 4), absl::Milliseconds(800));
  EXPECT_EQ(ExponentialBackoff(initial, max, 5), absl::Seconds(1));     // 1.6 s capped
  EXPECT_EQ(ExponentialBackoff(initial, max, 1000), absl::Seconds(1));  // no overflow
  EXPECT_EQ(ExponentialBackoff(initial, max, 0), absl::Milliseconds(100));
  EXPECT_EQ(ExponentialBackoff(initial, max, -5), absl::Milliseconds(100));
}

TEST(BackoffTest, NonPositiveBoundsGiveNoWait) {
  EXPECT_EQ(ExponentialBackoff(absl::ZeroDuration(), absl::Seconds(1), 3), absl::ZeroDuration());
  EXPECT_EQ(ExponentialBackoff(absl::Seconds(1), -absl::Seconds(1), 3), absl::ZeroDuration());
}

TEST(BackoffTest, FullJitterScalesTheCeilingByTheDraw) {
  const absl::Duration initial = absl::Milliseconds(100), max = absl::Seconds(2);
  EXPECT_EQ(FullJitterBackoff(initial, max, 3, 1.0), absl::Milliseconds(400));
  EXPECT_EQ(FullJitterBackoff(initial, max, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(FullJitterBackoff(initial, max, 3, 0.0), absl::ZeroDuration());
  EXPECT_EQ(FullJitterBackoff(initial, max, 3, 7.0), absl::Milliseconds(400));  // clamped
  EXPECT_EQ(FullJitterBackoff(initial, max, 3, -1.0), absl::ZeroDuration());
}

}  // namespace
}  // namespace lockout
