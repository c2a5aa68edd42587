#pragma once

// Length-prefixed framing for NSM messages over a stream socket, shared by the enclave-side
// UnixSocketNsmDevice and the local NSM service: each message is a 4-byte big-endian length
// followed by exactly that many bytes (the CBOR that /dev/nsm would carry).
//
// Both functions work on a connected stream socket whether it is blocking or not: every
// send/recv is non-blocking (MSG_DONTWAIT) and waits in poll() against one deadline covering the
// whole frame. Writes use MSG_NOSIGNAL, so a closed peer yields an error instead of SIGPIPE.
// They do not close the fd. Thread-compatible: one reader and one writer per fd at a time.
//
// Error codes (messages carry sizes and errno text, never payload bytes):
//   OutOfRange       — peer closed the connection cleanly before the first byte of a frame
//                      (the normal end of a conversation);
//   DataLoss         — peer closed the connection in the middle of a frame;
//   ResourceExhausted— the announced length exceeds max_size (nothing of the body is read);
//   InvalidArgument  — WriteFrame payload larger than max_size or 2^32-1;
//   DeadlineExceeded — the frame did not complete within the timeout;
//   Unavailable      — any other socket error (ECONNRESET, EPIPE, ...).

#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"

namespace lockout::nsm {

inline constexpr size_t kFrameHeaderSize = 4;

// Reads one frame from `fd`. A frame of length 0 is returned as empty Bytes.
absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout);

// The processes that wrote a frame's bytes, as the kernel reports them (SCM_CREDENTIALS, unix(7))
// on a Unix socket with SO_PASSCRED set. Linux never returns bytes of two senders from one
// recvmsg() there, so every byte of the frame is accounted for. The pids are as seen from the
// reader's pid namespace; 0 means a chunk came without credentials or from a process that is not
// visible there.
struct FrameSenders {
  std::vector<pid_t> pids;  // distinct, in order of first appearance
};

// ReadFrame that also fills `senders` (cleared first) for the bytes it read, header included.
absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout,
                                FrameSenders* senders);

// Writes `payload` as one frame to `fd`.
absl::Status WriteFrame(int fd, ByteView payload, size_t max_size, absl::Duration timeout);

}  // namespace lockout::nsm
