#include "src/enclave/connection_rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/net/frame_decoder.h"

namespace lockout::enclave {

size_t MaxUnprocessedInput(size_t max_frame_size, size_t read_chunk) {
  // The framing overhead of either kind (v2 prefix, v1 "$$$" plus whitespace we may have read
  // before the frame) is small; round it into one chunk.
  return max_frame_size + net::kV2HeaderSize + net::kV1Terminator.size() + read_chunk;
}

size_t ReadAllowance(size_t unprocessed, size_t max_unprocessed, size_t read_chunk) {
  if (unprocessed >= max_unprocessed) return 0;
  return std::min(read_chunk, max_unprocessed - unprocessed);
}

bool MemoryBudget::TryCharge(size_t bytes) {
  size_t current = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || current > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return true;
}

bool MemoryBudget::ForceCharge(size_t bytes) {
  const size_t now = used_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  return now <= limit_;
}

void MemoryBudget::Release(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

std::vector<uint64_t> ChooseVictims(std::vector<ConnectionUsage> usages, size_t to_free) {
  std::vector<uint64_t> victims;
  if (to_free == 0) return victims;
  std::sort(usages.begin(), usages.end(), [](const ConnectionUsage& a, const ConnectionUsage& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.id > b.id;
  });
  size_t freed = 0;
  for (const ConnectionUsage& u : usages) {
    if (freed >= to_free || u.bytes == 0) break;
    victims.push_back(u.id);
    freed += u.bytes;
  }
  return victims;
}

DescriptorPlan FitDescriptorLimit(int max_connections, rlim_t soft, rlim_t hard, int headroom) {
  DescriptorPlan plan;
  plan.soft_limit = soft;
  plan.max_connections = max_connections;
  const rlim_t needed = static_cast<rlim_t>(max_connections) + static_cast<rlim_t>(headroom);
  if (soft != RLIM_INFINITY && soft < needed) {
    if (hard == RLIM_INFINITY || hard >= needed) {
      plan.soft_limit = needed;
      plan.raised = true;
    } else {
      plan.soft_limit = hard;
      plan.raised = hard > soft;
      const rlim_t fits =
          hard > static_cast<rlim_t>(headroom) ? hard - static_cast<rlim_t>(headroom) : 1;
      plan.max_connections = static_cast<int>(std::max<rlim_t>(fits, 1));
      plan.lowered = true;
    }
  }
  return plan;
}

std::string DescriptorPlan::Describe(int requested_max_connections, rlim_t old_soft) const {
  if (lowered) {
    return absl::StrCat("max_connections lowered from ", requested_max_connections, " to ",
                        max_connections, ": RLIMIT_NOFILE hard limit is ", soft_limit,
                        " (raise it, e.g. ulimit -Hn, to allow more)");
  }
  if (raised) {
    return absl::StrCat("RLIMIT_NOFILE soft limit raised from ", old_soft, " to ", soft_limit,
                        " to fit max_connections ", max_connections);
  }
  return absl::StrCat("RLIMIT_NOFILE soft limit ", old_soft, " fits max_connections ",
                      max_connections);
}

}  // namespace lockout::enclave
