#pragma once

// OpenNsmDevice: the NSM device an `--nsm` value names, the one reading shared by the enclave,
// `lockout nsm`, `lockout check-lockout` and the demo.
//
//   unix:///abs/path   the local NSM service's socket (UnixSocketNsmDevice; connects on first call)
//   /abs/path          a Unix socket if the path is one, else a device node (/dev/nsm)
//   tcp://HOST:PORT    the same framing on TCP (the guest of `lockout run-enclave`)
//
// DefaultNsmSpec(): what to open when no --nsm is given ($LOCKOUT_NSM_SOCKET, else /dev/nsm).
//
// Errors: InvalidArgument for a unix:// value without an absolute path (quoting the value, which
// is a path, never a secret); otherwise what UnixSocketNsmDevice::Create / DevNsmDevice::Open
// return (NotFound, PermissionDenied, Unavailable).

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/nsm/nsm_device.h"

namespace lockout::nsm {

inline constexpr std::string_view kUnixDeviceScheme = "unix://";
// tcp://HOST:PORT: the local NSM service's framing on a TCP stream (the guest of run-enclave).
inline constexpr std::string_view kTcpDeviceScheme = "tcp://";

absl::StatusOr<std::unique_ptr<NsmDevice>> OpenNsmDevice(std::string_view spec);

// The NSM a command uses when no --nsm is given: $LOCKOUT_NSM_SOCKET if set and not empty (the
// socket `lockout local-aws env` exports; a path or unix:///path), else "/dev/nsm".
inline constexpr std::string_view kNsmSocketVariable = "LOCKOUT_NSM_SOCKET";
std::string DefaultNsmSpec();

}  // namespace lockout::nsm
