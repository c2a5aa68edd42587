#include "src/net/socket_internal.h"

// AF_VSOCK: on hosts without a vsock transport, socket() fails with EAFNOSUPPORT and
// bind()/connect() with ENODEV or EADDRNOTAVAIL (<linux/vm_sockets.h>); we say so plainly.

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::net::internal {
namespace {

bool IsVsockUnsupported(int err) {
  return err == EAFNOSUPPORT || err == ENODEV || err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT ||
         err == EADDRNOTAVAIL || err == ENETUNREACH;
}

}  // namespace

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r: returns a pointer to the message (maybe not `buf`).
  const char* text = strerror_r(err, buf, sizeof(buf));
  return text != nullptr ? std::string(text) : absl::StrCat("errno ", err);
}

absl::Status SyscallError(int err, std::string_view what, std::string_view where, bool vsock) {
  std::string message = absl::StrCat(Absl(what), " ", Absl(where), ": ", ErrnoText(err));
  if (vsock && IsVsockUnsupported(err)) {
    return absl::UnavailableError(
        absl::StrCat(message,
                     " (AF_VSOCK unusable here: no vsock transport on this host for "
                     "that CID; outside a Nitro Enclave use tcp:// or unix://)"));
  }
  switch (err) {
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ETIMEDOUT:
      return absl::DeadlineExceededError(message);
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

absl::StatusOr<UniqueFd> NewStreamSocket(int family, std::string_view where) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SyscallError(errno, "socket for", where, family == AF_VSOCK);
  return UniqueFd(fd);
}

}  // namespace lockout::net::internal
