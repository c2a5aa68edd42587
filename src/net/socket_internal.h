#pragma once

// Internal to src/net: the errno-to-Status mapping and socket creation that socket.cc and
// blocking_stream.cc share. Not for use outside src/net.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/unique_fd.h"

namespace lockout::net::internal {

// strerror text for `err` (thread-safe).
std::string ErrnoText(int err);

// The status for a failed syscall: "<what> <where>: <errno text>". `what` names the operation
// ("connect to", "read from"), `where` the endpoint or descriptor. EACCES/EPERM are
// PermissionDenied, ETIMEDOUT DeadlineExceeded, EBADF/ENOTSOCK/EINVAL/ENAMETOOLONG
// InvalidArgument, everything else Unavailable. With `vsock`, the errors a host without a vsock
// transport gives (EAFNOSUPPORT, ENODEV, ...) are Unavailable with a message that says so.
absl::Status SyscallError(int err, std::string_view what, std::string_view where,
                          bool vsock = false);

// A new stream socket of `family`, non-blocking and close-on-exec. Errors as SyscallError.
absl::StatusOr<UniqueFd> NewStreamSocket(int family, std::string_view where);

}  // namespace lockout::net::internal
