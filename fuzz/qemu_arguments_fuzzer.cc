// Fuzzes ParseQemuArguments: the local NSM service parses the /proc/PID/cmdline of any process
// that runs a QEMU binary and connects to it, so the argument list is chosen by that process.
// Input: NUL-separated arguments.
//
// Properties checked (abort on violation): an accepted list is exactly what QemuArguments writes
// for the parsed launch, and that launch is valid.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/qemu/qemu_launch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back().push_back(static_cast<char>(data[i]));
    }
  }
  absl::StatusOr<lockout::qemu::QemuLaunch> launch = lockout::qemu::ParseQemuArguments(args);
  if (launch.ok()) {
    if (!lockout::qemu::ValidateLaunch(*launch).ok()) std::abort();
    if (lockout::qemu::QemuArguments(*launch) != args) std::abort();
  }
  (void)lockout::qemu::ParsePortForward(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
