#pragma once

// KeyMemoryLock: whether every piece of memory that held the signing key could be locked in RAM.
//
// Signing-key material sits in OpenSSL's secure heap (lockout-enclave's main sets it up; EC and
// Ed25519 private keys are allocated there), in the decrypted PKCS#8 (KeyLoader) and, for
// secp256k1, in the scalar libsecp256k1 signs with (Signer). Each is mlock()ed; if the kernel
// refuses (RLIMIT_MEMLOCK without CAP_IPC_LOCK) the key still works but may reach swap. Each of
// those places Record()s its outcome here: the first refusal is logged once, as an error
// (key_memory_not_locked, naming the memory and what to do), and the enclave's `health` reply
// shows locked() as "key_memory_locked" (docs/PROTOCOL.md).
//
// Process-wide because the secure heap is. Thread-safe.

#include <atomic>
#include <string_view>

namespace lockout::signer {

class KeyMemoryLock final {
 public:
  // The process's record.
  static KeyMemoryLock& Process();

  // Records whether locking `what` (a fixed name such as "pkcs8") succeeded.
  void Record(std::string_view what, bool locked);
  // False once any Record() was a refusal; true before anything was recorded.
  bool locked() const { return locked_.load(std::memory_order_acquire); }

  // Forgets every record (tests only: each test starts from a fresh process state).
  void ResetForTest();

 private:
  std::atomic<bool> locked_{true};
  std::atomic<bool> logged_{false};
};

}  // namespace lockout::signer
