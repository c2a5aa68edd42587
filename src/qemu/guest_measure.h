#pragma once

// Measuring an enclave guest: the QEMU process `lockout run-enclave` started, seen from the
// local NSM service on the other end of the guest's NSM stream (localaws/nsm_service.h).
//
// The guest's code is what that QEMU booted, so its PCRs are the EIF's, computed from the EIF
// itself (eif/eif_boot.h), as the Nitro hypervisor measures an image at launch. The service
// gives them only to a process that
//   - runs a configured emulator binary (the caller checks /proc/PID/exe), owned by root and
//     writable only by root;
//   - was started with exactly run-enclave's arguments (qemu_launch.h: no monitor, gdb stub,
//     loader device or extra initrd) naming this service's socket;
//   - holds sealed memfds (F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK, so nobody can change them) at
//     fd 3 (a valid EIF), 4 (exactly its kernel) and 5 (exactly its ramdisks), and the -append
//     text is exactly its cmdline: -kernel and -initrd name fds 4 and 5, so these are the bytes
//     QEMU loaded;
//   - passes measure/process_image.h's rules (no LD_* variables, every executable file mapping
//     is QEMU itself or a root-owned system library, not traced) except for anonymous memory:
//     QEMU's TCG writes the guest's translated code into anonymous executable memory by design;
//   - is the same process (start time) before and after all this.
//
// Thread-safe (no shared state). Reads at most kMaxGuestEifSize of each memfd.

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "src/crypto/hash.h"
#include "src/eif/measurements.h"
#include "src/qemu/qemu_launch.h"

namespace lockout::qemu {

inline constexpr uint64_t kMaxGuestEifSize = uint64_t{1} << 30;

struct GuestMeasurement {
  uint64_t start_time = 0;            // /proc/PID/stat: the process, with its pid
  eif::Measurements pcrs;             // PCR0/1/2 (PCR8 of a signed EIF)
  crypto::Sha384Digest eif_sha384{};  // of the whole EIF file, for logs and identity
  QemuLaunch launch;
};

// Measures QEMU process `pid` whose NSM chardev must name `nsm_socket`. Errors:
// FailedPrecondition naming the rule broken (not run-enclave's arguments, an fd that is not a
// sealed memfd, boot files that are not the EIF's, traced, changed while measured), NotFound /
// PermissionDenied from /proc, InvalidArgument / DataLoss for an invalid EIF.
absl::StatusOr<GuestMeasurement> MeasureGuest(pid_t pid, const std::string& nsm_socket);

// The per-request re-check: `pid` is still the process measured (start time) and passes the
// process rules above.
absl::Status RecheckGuest(pid_t pid, uint64_t start_time);

}  // namespace lockout::qemu
