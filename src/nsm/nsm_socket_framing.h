#pragma once

// Length-prefixed framing for NSM messages over a stream socket, shared by the enclave-side
// UnixSocketNsmDevice and the local NSM service: each message is a 4-byte big-endian length
// followed by exactly that many bytes (the CBOR that /dev/nsm would carry).
//
// The functions work on a net::BlockingStream (the Boost.Asio client socket, deadlines on the
// stream's clock) with one deadline covering the whole frame; the overloads on a raw fd borrow it
// for the call (net::BlockingStream::Borrow: the fd may be blocking or not, and is left as it
// was, open). Writes use MSG_NOSIGNAL, so a closed peer yields an error instead of SIGPIPE.
// Thread-compatible: one reader and one writer per fd at a time.
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
#include "src/net/blocking_stream.h"

namespace lockout::nsm {

inline constexpr size_t kFrameHeaderSize = 4;

// The processes that wrote a frame's bytes, as the kernel reports them (SCM_CREDENTIALS, unix(7))
// on a Unix socket with SO_PASSCRED set. Linux never returns bytes of two senders from one
// recvmsg() there, so every byte of the frame is accounted for. The pids are as seen from the
// reader's pid namespace; 0 means a chunk came without credentials or from a process that is not
// visible there.
struct FrameSenders {
  std::vector<pid_t> pids;  // distinct, in order of first appearance
};

// Reads one frame from `stream` by `deadline`. A frame of length 0 is returned as empty Bytes.
// With `senders`, also fills it (cleared first) for the bytes read, header included; the stream
// must then be a Unix socket with SO_PASSCRED set.
absl::StatusOr<Bytes> ReadFrame(net::BlockingStream& stream, size_t max_size, absl::Time deadline,
                                FrameSenders* senders = nullptr);

// Writes `payload` as one frame to `stream` by `deadline`.
absl::Status WriteFrame(net::BlockingStream& stream, ByteView payload, size_t max_size,
                        absl::Time deadline);

// The same on a raw fd, borrowed for the call; `timeout` counts from the call on the real clock.
absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout);
absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout,
                                FrameSenders* senders);
absl::Status WriteFrame(int fd, ByteView payload, size_t max_size, absl::Duration timeout);

}  // namespace lockout::nsm
