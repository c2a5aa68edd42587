#include "src/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace lockout::loadgen {
namespace {

constexpr int64_t kLinearLimit = int64_t{1} << LatencyHistogram::kSubBucketBits;
constexpr size_t kHalf = size_t{1} << (LatencyHistogram::kSubBucketBits - 1);

}  // namespace

// Layout: indexes [0, kLinearLimit) hold values exactly. Above, a value v with
// bit_width(v) = kSubBucketBits + e (e >= 1) keeps its top kSubBucketBits bits, v >> e, which lie
// in [kHalf, 2 * kHalf): index = e * kHalf + (v >> e). Consecutive e continue without gaps.
size_t LatencyHistogram::BucketIndex(int64_t value_ns) {
  if (value_ns < 0) value_ns = 0;
  if (value_ns > kMaxTrackableNs) value_ns = kMaxTrackableNs;
  if (value_ns < kLinearLimit) return static_cast<size_t>(value_ns);
  const auto v = static_cast<uint64_t>(value_ns);
  const int e = static_cast<int>(std::bit_width(v)) - kSubBucketBits;
  return static_cast<size_t>(e) * kHalf + static_cast<size_t>(v >> e);
}

int64_t LatencyHistogram::BucketLowerBound(size_t index) {
  if (index < static_cast<size_t>(kLinearLimit)) return static_cast<int64_t>(index);
  const size_t e = index / kHalf - 1;
  const size_t mantissa = index - e * kHalf;
  return static_cast<int64_t>(mantissa) << e;
}

int64_t LatencyHistogram::BucketUpperBound(size_t index) {
  if (index < static_cast<size_t>(kLinearLimit)) return static_cast<int64_t>(index);
  const size_t e = index / kHalf - 1;
  return BucketLowerBound(index) + (int64_t{1} << e) - 1;
}

void LatencyHistogram::Record(int64_t value_ns) {
  if (value_ns < 0) value_ns = 0;
  ++counts_[BucketIndex(value_ns)];
  if (count_ == 0 || value_ns < min_) min_ = value_ns;
  if (value_ns > max_) max_ = value_ns;
  ++count_;
  sum_ += static_cast<double>(value_ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

int64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // Rank of the sample (1-based): the smallest r with r >= p% of count_.
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == count_) return max_;  // the largest sample is known exactly
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const int64_t lo = BucketLowerBound(i);
      const int64_t mid = lo + (BucketUpperBound(i) - lo) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace lockout::loadgen
