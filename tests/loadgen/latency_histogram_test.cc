#include "src/loadgen/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace lockout::loadgen {
namespace {

// The exact nearest-rank percentile of `sorted`.
int64_t NearestRank(const std::vector<int64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectWithinOnePercent(int64_t got, int64_t want) {
  const double err = std::abs(static_cast<double>(got - want)) / static_cast<double>(want);
  EXPECT_LE(err, 0.01) << "got " << got << " want " << want;
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 50);
  EXPECT_EQ(h.Percentile(90), 90);
  EXPECT_EQ(h.Percentile(99), 99);
  EXPECT_EQ(h.Percentile(100), 100);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogramTest, BucketsAreContiguousAndNarrow) {
  for (size_t i = 1; i < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketLowerBound(i), LatencyHistogram::BucketUpperBound(i - 1) + 1)
        << i;
    const int64_t lo = LatencyHistogram::BucketLowerBound(i);
    const int64_t width = LatencyHistogram::BucketUpperBound(i) - lo + 1;
    if (lo < 256) {
      ASSERT_EQ(width, 1) << i;  // small values are exact
    } else {
      ASSERT_LE(static_cast<double>(width) / static_cast<double>(lo), 1.0 / 128 + 1e-12) << i;
    }
    ASSERT_EQ(LatencyHistogram::BucketIndex(lo), i);
    ASSERT_EQ(LatencyHistogram::BucketIndex(LatencyHistogram::BucketUpperBound(i)), i);
  }
  EXPECT_LT(LatencyHistogram::BucketIndex(LatencyHistogram::kMaxTrackableNs),
            LatencyHistogram::kBucketCount);
}

TEST(LatencyHistogramTest, UniformDistributionPercentilesWithinOnePercent) {
  // 1 µs .. 100 ms uniformly: the true percentiles are known.
  LatencyHistogram h;
  std::vector<int64_t> values;
  for (int64_t v = 1000; v <= 100'000'000; v += 997) values.push_back(v);
  for (int64_t v : values) h.Record(v);
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0}) {
    ExpectWithinOnePercent(h.Percentile(p), NearestRank(values, p));
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.Percentile(100), values.back());
}

TEST(LatencyHistogramTest, LogNormalDistributionPercentilesWithinOnePercent) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(/*m=*/13.0, /*s=*/1.0);  // median ~0.44 ms
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    ExpectWithinOnePercent(h.Percentile(p), NearestRank(values, p));
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int64_t v = 0; v < 50'000; ++v) {
    const int64_t x = v * 1237 % 9'999'991;
    ((v % 3 == 0) ? a : b).Record(x);
    all.Record(x);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 99.0, 99.9}) EXPECT_EQ(a.Percentile(p), all.Percentile(p)) << p;
}

TEST(LatencyHistogramTest, MergeIntoEmptyTakesTheOthersMinimum) {
  LatencyHistogram empty, b;
  b.Record(5000);
  b.Record(7000);
  empty.Merge(b);
  EXPECT_EQ(empty.min(), 5000);
  EXPECT_EQ(empty.max(), 7000);
}

TEST(LatencyHistogramTest, OutOfRangeValuesAreClampedButMaxIsTrue) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(LatencyHistogram::kMaxTrackableNs * 4);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxTrackableNs * 4);
  EXPECT_EQ(h.Percentile(100), LatencyHistogram::kMaxTrackableNs * 4);
}

}  // namespace
}  // namespace lockout::loadgen
