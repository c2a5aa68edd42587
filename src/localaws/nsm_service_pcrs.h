#pragma once

// The PCR state of the processes the local NSM service answers (nsm_service.h).
//
// On Nitro, an enclave has one NSM: PCRs 16..31 extended or locked through one open of /dev/nsm
// are what every later document of that enclave shows, whichever descriptor asks. The local
// analogue of "one enclave" is one process — identified by pid, start time (a reused pid is
// another process) and the SHA-384 of the executable it runs (an exec() is another image) — so
// every connection of that process shares one PcrBank, and a process that reconnects (the service
// closed its idle connection; UnixSocketNsmDevice reconnects on its next call) keeps its sealed
// PCR16. Another process, even one running the same executable, has its own bank.
//
// The table is bounded: at `capacity` banks, those whose process has exited (its start time no
// longer matches /proc/PID/stat) are dropped; if every bank still belongs to a live process the
// newcomer is refused (ResourceExhausted) rather than a live process's PCRs being forgotten.

#include <sys/types.h>

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {

inline constexpr uint16_t kNsmMaxPcrs = 32;

// The 32 PCRs one process sees. Fields are guarded by `mu` once the bank is shared.
struct PcrBank {
  absl::Mutex mu;
  std::array<crypto::Sha384Digest, kNsmMaxPcrs> pcrs ABSL_GUARDED_BY(mu){};
  std::bitset<kNsmMaxPcrs> locked ABSL_GUARDED_BY(mu);
  std::bitset<kNsmMaxPcrs> touched ABSL_GUARDED_BY(mu);  // PCRs >= 16 extended or locked
};

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
  crypto::Sha384Digest executable_sha384{};  // zero where the service does not measure (debug)

  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ProcessIdentity& p) {
    return H::combine(std::move(h), p.pid, p.start_time, p.executable_sha384);
  }
};

class ProcessPcrTable final {
 public:
  // Whether `identity`'s process still runs (default: /proc/PID/stat's start time matches).
  using IsAlive = std::function<bool(const ProcessIdentity&)>;

  explicit ProcessPcrTable(size_t capacity = 4096, IsAlive is_alive = nullptr);

  // The bank of `identity`; a new one made by `initialise` (PCRs 0..15 as after boot) if the
  // process has none yet. Errors: ResourceExhausted when the table is full of live processes.
  absl::StatusOr<std::shared_ptr<PcrBank>> BankOf(const ProcessIdentity& identity,
                                                  const std::function<void(PcrBank&)>& initialise);

  size_t size() const;

 private:
  const size_t capacity_;
  const IsAlive is_alive_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<ProcessIdentity, std::shared_ptr<PcrBank>> banks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lockout::localaws
