#include "src/localaws/nsm_service_pcrs.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/measure/process_image.h"

namespace lockout::localaws {
namespace {

bool StillRuns(const ProcessIdentity& p) {
  absl::StatusOr<uint64_t> start = measure::ReadStartTime(p.pid);
  return start.ok() && *start == p.start_time;
}

}  // namespace

ProcessPcrTable::ProcessPcrTable(size_t capacity, IsAlive is_alive)
    : capacity_(capacity), is_alive_(is_alive ? std::move(is_alive) : IsAlive(StillRuns)) {}

absl::StatusOr<std::shared_ptr<PcrBank>> ProcessPcrTable::BankOf(
    const ProcessIdentity& identity, const std::function<void(PcrBank&)>& initialise) {
  absl::MutexLock lock(&mu_);
  if (auto it = banks_.find(identity); it != banks_.end()) return it->second;
  if (banks_.size() >= capacity_) {
    absl::erase_if(banks_, [this](const auto& entry) { return !is_alive_(entry.first); });
  }
  if (banks_.size() >= capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("nsm: PCR state is kept for at most ", capacity_,
                     " running processes, and all of them are still running"));
  }
  auto bank = std::make_shared<PcrBank>();
  initialise(*bank);
  banks_.emplace(identity, bank);
  return bank;
}

size_t ProcessPcrTable::size() const {
  absl::MutexLock lock(&mu_);
  return banks_.size();
}

}  // namespace lockout::localaws
