#pragma once

// ScopedMemoryLockDenied: makes mlock() fail for the calling thread while it lives, so tests can
// drive the "key memory not locked" paths in-process.
//
// It sets the process's soft RLIMIT_MEMLOCK to 0 and drops CAP_IPC_LOCK (which bypasses that
// limit, and which root has) from the calling thread's effective capability set, keeping it in
// the permitted set so the destructor can restore both. Capabilities are per thread: code under
// test must call Lock() on the constructing thread. ok() is false (with why()) if the process
// cannot do this (setrlimit or capset refused); the test should then fail, not skip.
//
// Not thread-safe; one at a time per process.

#include <sys/resource.h>

#include <cstdint>
#include <string>

namespace lockout::testing {

class ScopedMemoryLockDenied final {
 public:
  ScopedMemoryLockDenied();
  ~ScopedMemoryLockDenied();
  ScopedMemoryLockDenied(const ScopedMemoryLockDenied&) = delete;
  ScopedMemoryLockDenied& operator=(const ScopedMemoryLockDenied&) = delete;

  bool ok() const { return ok_; }
  const std::string& why() const { return why_; }

 private:
  bool ok_ = false;
  std::string why_;
  rlimit saved_limit_{};
  bool restore_limit_ = false;
  bool restore_capability_ = false;
};

}  // namespace lockout::testing
