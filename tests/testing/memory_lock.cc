#include "tests/testing/memory_lock.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lockout::testing {
namespace {

// capget/capset as raw system calls: libcap is not a dependency of the project.
bool GetCaps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, data) == 0;
}

bool SetCaps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &header, data) == 0;
}

constexpr uint32_t kIpcLockBit = 1u << CAP_IPC_LOCK;  // CAP_IPC_LOCK (14) is in word 0

}  // namespace

ScopedMemoryLockDenied::ScopedMemoryLockDenied() {
  if (getrlimit(RLIMIT_MEMLOCK, &saved_limit_) != 0) {
    why_ = std::string("getrlimit: ") + std::strerror(errno);
    return;
  }
  rlimit none = saved_limit_;
  none.rlim_cur = 0;
  if (setrlimit(RLIMIT_MEMLOCK, &none) != 0) {
    why_ = std::string("setrlimit(RLIMIT_MEMLOCK, 0): ") + std::strerror(errno);
    return;
  }
  restore_limit_ = true;
  __user_cap_data_struct caps[2] = {};
  if (!GetCaps(caps)) {
    why_ = std::string("capget: ") + std::strerror(errno);
    return;
  }
  if ((caps[0].effective & kIpcLockBit) != 0) {
    caps[0].effective &= ~kIpcLockBit;
    if (!SetCaps(caps)) {
      why_ = std::string("capset: ") + std::strerror(errno);
      return;
    }
    restore_capability_ = true;
  }
  ok_ = true;
}

ScopedMemoryLockDenied::~ScopedMemoryLockDenied() {
  if (restore_capability_) {
    __user_cap_data_struct caps[2] = {};
    if (GetCaps(caps)) {
      caps[0].effective |= kIpcLockBit;
      SetCaps(caps);
    }
  }
  if (restore_limit_) setrlimit(RLIMIT_MEMLOCK, &saved_limit_);
}

}  // namespace lockout::testing
