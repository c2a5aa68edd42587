#include "src/signer/key_memory_lock.h"

#include <string>

#include "src/common/logger.h"

namespace lockout::signer {

KeyMemoryLock& KeyMemoryLock::Process() {
  static KeyMemoryLock* const kProcess = new KeyMemoryLock();  // never destroyed
  return *kProcess;
}

void KeyMemoryLock::Record(std::string_view what, bool locked) {
  if (locked) return;
  locked_.store(false, std::memory_order_release);
  // Once per process: a refusal repeats on every load attempt and is the same news each time.
  if (logged_.exchange(true, std::memory_order_acq_rel)) return;
  LogError("key_memory_not_locked",
           {{"memory", std::string(what)},
            {"detail",
             "mlock refused: signing-key memory may be swapped to disk; raise RLIMIT_MEMLOCK "
             "(ulimit -l, LimitMEMLOCK=) for lockout-enclave"}});
}

void KeyMemoryLock::ResetForTest() {
  locked_.store(true, std::memory_order_release);
  logged_.store(false, std::memory_order_release);
}

}  // namespace lockout::signer
