#pragma once

// Credentials on Unix stream sockets (unix(7)): who is on the other end of a connection
// (SO_PEERCRED, as of connect()), and which process wrote the bytes a read returns
// (SO_PASSCRED + SCM_CREDENTIALS). Linux never returns bytes of two senders from one recvmsg()
// on a stream socket with SO_PASSCRED set, so every byte read is accounted for.
// Thread-safety: functions are thread-safe; one fd must not be read by two threads at once.

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

#include "absl/status/statusor.h"

namespace lockout::net {

// SO_PEERCRED of a connected Unix socket: pid, uid, gid of the peer when it connected.
// Unavailable with the errno text if the kernel gives none, or no pid (pid 0: the peer is not
// visible from this pid namespace).
absl::StatusOr<ucred> PeerCredentials(int fd);

// Sets SO_PASSCRED on `fd` (a listening socket's accepted sockets inherit it).
absl::Status EnablePassCredentials(int fd);

// One non-blocking recvmsg() of at most `size` bytes that also reports who sent them: as recv()
// (bytes read, 0 at end of stream, -1 with errno, EAGAIN when nothing is waiting); for bytes read,
// `*sender` is the pid from SCM_CREDENTIALS, or 0 if they came without credentials (SO_PASSCRED
// not set, control data truncated, or a sender not visible in our pid namespace).
ssize_t ReceiveWithSender(int fd, void* data, size_t size, pid_t* sender);

}  // namespace lockout::net
