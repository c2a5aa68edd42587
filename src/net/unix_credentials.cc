#include "src/net/unix_credentials.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lockout::net {

absl::StatusOr<ucred> PeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return absl::ErrnoToStatus(errno, "SO_PEERCRED");
  }
  if (len != sizeof(cred) || cred.pid <= 0) {
    return absl::UnavailableError("SO_PEERCRED: no peer process");
  }
  return cred;
}

absl::Status EnablePassCredentials(int fd) {
  const int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0) {
    return absl::ErrnoToStatus(errno, "SO_PASSCRED");
  }
  return absl::OkStatus();
}

ssize_t ReceiveWithSender(int fd, void* data, size_t size, pid_t* sender) {
  *sender = 0;
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n <= 0) return n;
  if ((msg.msg_flags & MSG_CTRUNC) != 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      ucred cred{};
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      *sender = cred.pid;
    }
  }
  return n;
}

}  // namespace lockout::net
