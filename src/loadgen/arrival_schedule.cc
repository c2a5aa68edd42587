#include "src/loadgen/arrival_schedule.h"

#include <cmath>

namespace lockout::loadgen {

int64_t ArrivalSchedule::ArrivalTimeNs(uint64_t i) const {
  // Global arrival k = lane + i * lanes at k / R s. Computed from k each time (never by adding
  // 1/R repeatedly) so rounding does not accumulate over a long run.
  const double k = static_cast<double>(lane_) + static_cast<double>(i) * lanes_;
  return static_cast<int64_t>(std::llround(k * 1e9 / rate_per_s_));
}

uint64_t ArrivalSchedule::ArrivedBy(int64_t now_ns) const {
  if (now_ns < 0) return 0;
  // Global arrivals at or before now: floor(now * R) + 1; ours are those with k % lanes == lane.
  const double global = std::floor(static_cast<double>(now_ns) * rate_per_s_ / 1e9) + 1;
  const double lane = static_cast<double>(lane_);
  if (global <= lane) return 0;
  auto n = static_cast<uint64_t>(std::ceil((global - lane) / lanes_));
  // Guard the floating-point edge: make the answer agree with ArrivalTimeNs exactly.
  while (n > 0 && ArrivalTimeNs(n - 1) > now_ns) --n;
  while (ArrivalTimeNs(n) <= now_ns) ++n;
  return n;
}

}  // namespace lockout::loadgen
