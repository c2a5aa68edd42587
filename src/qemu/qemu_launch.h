#pragma once

// The QEMU command line `lockout run-enclave` boots an EIF with (docs/RUN-ENCLAVE.md), written
// by one function and parsed back by another, so that the local NSM service can tell a QEMU
// started exactly this way from any other process (localaws/nsm_service.h, "Guests").
//
//   -nodefaults -no-user-config -display none -no-reboot -accel tcg -machine q35 -cpu max
//   -m <memory_mib> -smp <cpu_count> -serial stdio
//   -kernel /proc/self/fd/4 -initrd /proc/self/fd/5 -append <cmdline>
//   [-chardev socket,id=nsm,path=<nsm_socket>,reconnect=1]
//   -netdev user,id=net0[,guestfwd=tcp:10.0.2.100:9000-chardev:nsm][,hostfwd=tcp:127.0.0.1:H-:G]...
//   -device virtio-net-pci,netdev=net0,romfile=
//
// File descriptors the QEMU process holds (sealed memfds, run_enclave.h): 3 the EIF itself,
// 4 its kernel, 5 its ramdisks concatenated (eif/eif_boot.h). There is no monitor, no gdb stub,
// no loader device, no extra initrd: ParseQemuArguments accepts only what QemuArguments writes.
//
// The guest sees QEMU user-mode networking: it is 10.0.2.15/24, the host's loopback is 10.0.2.2,
// and with an NSM socket, tcp://10.0.2.100:9000 is one stream to that socket (QEMU connects to
// it as a client at start and again a second after it is closed).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::qemu {

inline constexpr int kEifFd = 3;
inline constexpr int kKernelFd = 4;
inline constexpr int kInitrdFd = 5;
inline constexpr std::string_view kGuestNsmEndpoint = "tcp://10.0.2.100:9000";
inline constexpr std::string_view kHostFromGuest = "10.0.2.2";

struct PortForward {
  uint16_t host_port = 0;  // on 127.0.0.1
  uint16_t guest_port = 0;
  friend bool operator==(const PortForward&, const PortForward&) = default;
};

struct QemuLaunch {
  uint32_t memory_mib = 512;  // 64..65536
  uint32_t cpu_count = 1;     // 1..64
  std::string cmdline;        // the EIF's kernel command line (no NUL)
  std::string nsm_socket;     // absolute path of the local NSM service's socket; empty: none
  std::vector<PortForward> forwards;  // at most 64, host ports 1..65535 distinct
  friend bool operator==(const QemuLaunch&, const QemuLaunch&) = default;
};

// InvalidArgument naming the first field out of range.
absl::Status ValidateLaunch(const QemuLaunch& launch);

// The arguments after argv[0]. `launch` must be valid.
std::vector<std::string> QemuArguments(const QemuLaunch& launch);

// The launch whose QemuArguments are exactly `args` (argv without argv[0]); InvalidArgument for
// anything else (another option, order or spelling). Bounded: at most 256 arguments.
absl::StatusOr<QemuLaunch> ParseQemuArguments(const std::vector<std::string>& args);

// "HOST:GUEST" (decimal ports 1..65535), as --forward takes it.
absl::StatusOr<PortForward> ParsePortForward(std::string_view text);

}  // namespace lockout::qemu
