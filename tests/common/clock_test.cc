#include "src/common/clock.h"

#include "gtest/gtest.h"

namespace lockout {
namespace {

TEST(ClockTest, FakeClockIsFixedUntilAdvanced) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1005));
  clock.Set(absl::FromUnixSeconds(7));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(7));
}

TEST(ClockTest, ParsesAndFormatsRfc3339) {
  auto t = ParseRfc3339("2023-09-18T15:03:30.860Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(absl::ToUnixMillis(*t), 1695049410860);
  EXPECT_EQ(FormatRfc3339(*t), "2023-09-18T15:03:30.860Z");
  auto offset = ParseRfc3339("2023-09-18T17:03:30+02:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(absl::ToUnixSeconds(*offset), 1695049410);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("2023-09-18").ok());
}

}  // namespace
}  // namespace lockout
