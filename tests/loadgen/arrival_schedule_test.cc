#include "src/loadgen/arrival_schedule.h"

#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace lockout::loadgen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(ArrivalScheduleTest, OneLaneArrivesEvenlyAtTheRate) {
  ArrivalSchedule s(/*rate_per_s=*/1000, /*lane=*/0, /*lanes=*/1);
  EXPECT_EQ(s.ArrivalTimeNs(0), 0);
  EXPECT_EQ(s.ArrivalTimeNs(1), 1'000'000);
  EXPECT_EQ(s.ArrivalTimeNs(1000), kSecond);
  EXPECT_EQ(s.ArrivedBy(-1), 0u);
  EXPECT_EQ(s.ArrivedBy(0), 1u);
  EXPECT_EQ(s.ArrivedBy(999'999), 1u);
  EXPECT_EQ(s.ArrivedBy(1'000'000), 2u);
  EXPECT_EQ(s.ArrivedBy(kSecond - 1), 1000u);
}

TEST(ArrivalScheduleTest, LanesInterleaveIntoTheGlobalSchedule) {
  // 3 lanes at 300/s together: each global arrival k (at k/300 s) belongs to lane k % 3.
  std::vector<ArrivalSchedule> lanes;
  for (uint32_t c = 0; c < 3; ++c) lanes.emplace_back(300, c, 3);
  std::multiset<int64_t> times;
  for (auto& lane : lanes) {
    for (uint64_t i = 0; i < 100; ++i) times.insert(lane.ArrivalTimeNs(i));
  }
  int64_t k = 0;
  for (int64_t t : times) {
    EXPECT_NEAR(static_cast<double>(t), static_cast<double>(k) * kSecond / 300, 1.0);
    ++k;
  }
}

TEST(ArrivalScheduleTest, ArrivalsPerSecondSumToTheRateAcrossLanes) {
  for (double rate : {1.0, 7.0, 333.0, 1000.0, 12345.0}) {
    for (uint32_t lanes : {1u, 2u, 8u, 13u}) {
      uint64_t total = 0;
      for (uint32_t c = 0; c < lanes; ++c) {
        ArrivalSchedule s(rate, c, lanes);
        // Arrivals in [1 s, 3 s): exactly 2 * rate.
        total += s.ArrivedBy(3 * kSecond - 1) - s.ArrivedBy(kSecond - 1);
      }
      EXPECT_EQ(total, static_cast<uint64_t>(2 * rate)) << rate << " " << lanes;
    }
  }
}

TEST(ArrivalScheduleTest, ArrivedByAgreesWithArrivalTimeAtEveryBoundary) {
  ArrivalSchedule s(/*rate_per_s=*/3, /*lane=*/2, /*lanes=*/7);  // irrational-ish spacing
  for (uint64_t i = 0; i < 200; ++i) {
    const int64_t t = s.ArrivalTimeNs(i);
    EXPECT_EQ(s.ArrivedBy(t), i + 1);
    EXPECT_EQ(s.ArrivedBy(t - 1), i);
  }
}

TEST(ArrivalScheduleTest, TakeAdvancesAndBacklogCountsWhatIsLate) {
  // A fake clock: "now" is just a number we move.
  ArrivalSchedule s(/*rate_per_s=*/100, /*lane=*/0, /*lanes=*/1);  // every 10 ms
  int64_t now = 0;
  EXPECT_TRUE(s.Due(now));
  EXPECT_EQ(s.Take(), 0);
  EXPECT_FALSE(s.Due(now));
  EXPECT_EQ(s.Backlog(now), 0u);
  // The client stalls for 55 ms: arrivals at 10..50 ms are due, still scheduled at their times.
  now = 55'000'000;
  EXPECT_EQ(s.Backlog(now), 5u);
  std::vector<int64_t> starts;
  while (s.Due(now)) starts.push_back(s.Take());
  EXPECT_EQ(starts,
            (std::vector<int64_t>{10'000'000, 20'000'000, 30'000'000, 40'000'000, 50'000'000}));
  EXPECT_EQ(s.Backlog(now), 0u);
  EXPECT_EQ(s.NextArrivalNs(), 60'000'000);
  EXPECT_EQ(s.next_index(), 6u);
}

TEST(ArrivalScheduleTest, LongRunsDoNotDrift) {
  ArrivalSchedule s(/*rate_per_s=*/3, /*lane=*/0, /*lanes=*/1);
  // One day at 3/s: arrival 259200 is at exactly 86400 s.
  EXPECT_EQ(s.ArrivalTimeNs(259'200), 86'400 * kSecond);
}

}  // namespace
}  // namespace lockout::loadgen
