#pragma once

// A fixed-size latency recorder: log-linear buckets (HdrHistogram-style) over nanoseconds.
//
// Values below 2^kSubBucketBits are recorded exactly; above, each power of two is split into
// 2^(kSubBucketBits-1) equal buckets, so a bucket's width is at most 1/128 of its lower bound and
// a reported percentile (the bucket's midpoint, clamped to the recorded min/max) is within 0.4%
// of a true sample value of that rank. Values above kMaxTrackableNs are counted in the top bucket
// (max() still reports the true maximum). Memory is constant (kBucketCount counters) whatever
// the number of samples.
// Thread-compatible: one histogram per thread, merged with Merge() after the run.

#include <array>
#include <cstddef>
#include <cstdint>

namespace lockout::loadgen {

class LatencyHistogram final {
 public:
  static constexpr int kSubBucketBits = 8;
  // About 18 minutes; more than any request timeout.
  static constexpr int64_t kMaxTrackableNs = int64_t{1} << 40;
  // kMaxTrackableNs = 2^40 lands in the first bucket of e = 40 - kSubBucketBits + 1 (see the
  // layout in the .cc): index (e + 1) * 2^(kSubBucketBits-1); nothing goes above it.
  static constexpr size_t kBucketCount =
      (40 - kSubBucketBits + 2) * (size_t{1} << (kSubBucketBits - 1)) + 1;

  LatencyHistogram() { counts_.fill(0); }

  // Records one value; negative values count as 0.
  void Record(int64_t value_ns);
  // Adds every sample of `other`.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

  // The value at percentile p (0 < p <= 100): the smallest recorded value v such that at least
  // p% of samples are <= v, to within the bucket error above. 0 when empty.
  int64_t Percentile(double p) const;

  // Bucket arithmetic, exposed for tests.
  static size_t BucketIndex(int64_t value_ns);
  static int64_t BucketLowerBound(size_t index);
  static int64_t BucketUpperBound(size_t index);  // inclusive

 private:
  std::array<uint64_t, kBucketCount> counts_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace lockout::loadgen
