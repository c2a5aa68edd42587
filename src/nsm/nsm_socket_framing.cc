#include "src/nsm/nsm_socket_framing.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/net/unix_credentials.h"

namespace lockout::nsm {
namespace {

// Keeps the codes this file's contract gives a meaning (DeadlineExceeded, DataLoss); every other
// socket error is Unavailable. The message keeps the stream's (peer, operation, errno text).
absl::Status SocketError(const absl::Status& s) {
  const std::string message = absl::StrCat("nsm socket: ", s.message());
  if (absl::IsDeadlineExceeded(s) || absl::IsDataLoss(s)) return absl::Status(s.code(), message);
  return absl::UnavailableError(message);
}

void NoteSender(FrameSenders* senders, pid_t pid) {
  if (std::find(senders->pids.begin(), senders->pids.end(), pid) == senders->pids.end()) {
    senders->pids.push_back(pid);
  }
}

// One recvmsg() that notes the sender of the bytes it returns (net::ReceiveWithSender).
// Returns like recvmsg: the count, 0 at end of stream, -1 with errno.
ssize_t ReceiveNotingSender(int fd, uint8_t* data, size_t size, FrameSenders* senders) {
  pid_t pid = 0;
  const ssize_t n = net::ReceiveWithSender(fd, data, size, &pid);
  if (n > 0) NoteSender(senders, pid);
  return n;
}

// Reads exactly out.size() bytes; DataLoss at end of stream. `*received` counts bytes read before
// any failure. Without `senders` this is the stream's own ReadExact; with it, the reads are
// recvmsg() calls of ours on the stream's descriptor, and the stream only waits.
absl::Status ReadExact(net::BlockingStream& stream, absl::Span<uint8_t> out, absl::Time deadline,
                       size_t* received, FrameSenders* senders) {
  if (senders == nullptr) return stream.ReadExact(out, deadline, received);
  *received = 0;
  while (*received < out.size()) {
    const ssize_t n = ReceiveNotingSender(stream.native_handle(), out.data() + *received,
                                          out.size() - *received, senders);
    if (n > 0) {
      *received += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return absl::DataLossError("peer closed the connection");
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      RETURN_IF_ERROR(stream.WaitReadable(deadline));
      continue;
    }
    return absl::UnavailableError(
        absl::StrCat("recvmsg from ", stream.peer(), ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> ReadFrame(net::BlockingStream& stream, size_t max_size, absl::Time deadline,
                                FrameSenders* senders) {
  if (senders != nullptr) senders->pids.clear();
  uint8_t header[kFrameHeaderSize];
  size_t received = 0;
  absl::Status s =
      ReadExact(stream, absl::Span<uint8_t>(header, sizeof(header)), deadline, &received, senders);
  if (!s.ok()) {
    if (received == 0 && absl::IsDataLoss(s)) {
      return absl::OutOfRangeError("nsm socket: peer closed the connection between frames");
    }
    if (absl::IsDataLoss(s)) {
      return absl::DataLossError(absl::StrCat("nsm socket: peer closed the connection after ",
                                              received, " of 4 length bytes"));
    }
    return SocketError(s);
  }
  const uint32_t length = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length > max_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("nsm socket: frame of ", length, " bytes exceeds the limit of ", max_size));
  }
  Bytes body(length);
  received = 0;
  s = ReadExact(stream, absl::Span<uint8_t>(body), deadline, &received, senders);
  if (!s.ok()) {
    if (absl::IsDataLoss(s)) {
      return absl::DataLossError(absl::StrCat("nsm socket: peer closed the connection after ",
                                              received, " of ", length, " frame bytes"));
    }
    return SocketError(s);
  }
  return body;
}

absl::Status WriteFrame(net::BlockingStream& stream, ByteView payload, size_t max_size,
                        absl::Time deadline) {
  if (payload.size() > max_size || payload.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("nsm socket: frame of ", payload.size(),
                                                   " bytes exceeds the limit of ", max_size));
  }
  const auto length = static_cast<uint32_t>(payload.size());
  Bytes frame;
  frame.reserve(kFrameHeaderSize + payload.size());
  frame.push_back(static_cast<uint8_t>(length >> 24));
  frame.push_back(static_cast<uint8_t>(length >> 16));
  frame.push_back(static_cast<uint8_t>(length >> 8));
  frame.push_back(static_cast<uint8_t>(length));
  frame.insert(frame.end(), payload.begin(), payload.end());
  if (absl::Status s = stream.WriteAll(frame, deadline); !s.ok()) return SocketError(s);
  return absl::OkStatus();
}

absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout) {
  return ReadFrame(fd, max_size, timeout, nullptr);
}

absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout,
                                FrameSenders* senders) {
  absl::StatusOr<net::BlockingStream> stream = net::BlockingStream::Borrow(fd);
  if (!stream.ok()) return SocketError(stream.status());
  return ReadFrame(*stream, max_size, stream->DeadlineAfter(timeout), senders);
}

absl::Status WriteFrame(int fd, ByteView payload, size_t max_size, absl::Duration timeout) {
  absl::StatusOr<net::BlockingStream> stream = net::BlockingStream::Borrow(fd);
  if (!stream.ok()) return SocketError(stream.status());
  return WriteFrame(*stream, payload, max_size, stream->DeadlineAfter(timeout));
}

}  // namespace lockout::nsm
