#pragma once

// `lockout run-enclave --eif FILE`: the local analogue of `nitro-cli run-enclave`
// (docs/RUN-ENCLAVE.md). Boots the EIF's kernel, cmdline and ramdisks in qemu-system-x86_64
// (TCG, no KVM needed) with run-enclave's fixed command line (qemu_launch.h), and waits for it.
//
// The EIF, its kernel and its concatenated ramdisks are handed to QEMU as sealed memfds (fds 3,
// 4, 5; -kernel/-initrd name /proc/self/fd/4 and 5): nobody can change what QEMU loaded, and the
// local NSM service reads the same memfds to give the guest the EIF's PCRs
// (qemu/guest_measure.h). The file is read once; changing it afterwards changes nothing.
//
// QEMU's stdout (the guest's serial console) is this process's stdout. SIGINT/SIGTERM are passed
// on to QEMU as SIGTERM (SIGKILL if it has not exited 10 s later). Not thread-safe: call from the
// main thread of a process that has no other use for SIGCHLD.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/eif/measurements.h"
#include "src/qemu/qemu_launch.h"

namespace lockout::qemu {

inline constexpr char kDefaultQemu[] = "/usr/bin/qemu-system-x86_64";

struct RunEnclaveOptions {
  std::string eif_path;
  std::string qemu = kDefaultQemu;
  uint32_t memory_mib = 0;  // 0: the larger of 256 MiB and 4 x the EIF size (nitro-cli's floor)
  uint32_t cpu_count = 1;
  std::vector<PortForward> forwards;
  std::string nsm_socket;  // the local NSM service's socket (absolute); empty: the guest has none
};

struct BootedEnclave {
  int qemu_pid = 0;
  eif::Measurements pcrs;
  uint32_t memory_mib = 0;
};

// The least memory nitro-cli would accept for an EIF of `eif_size` bytes, at least 256 MiB.
uint32_t DefaultMemoryMiB(uint64_t eif_size);

// Boots and waits. `on_boot` is called once QEMU is running. Returns QEMU's exit status
// (128 + signal if it was killed). Errors: the EIF cannot be read or is invalid, less memory than
// nitro-cli requires, QEMU cannot be started (the message says to install qemu-system-x86).
absl::StatusOr<int> RunEnclave(const RunEnclaveOptions& options,
                               const std::function<void(const BootedEnclave&)>& on_boot);

}  // namespace lockout::qemu
