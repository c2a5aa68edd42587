#include "src/nsm/nsm_socket_framing.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::nsm {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// nullopt = no deadline (infinite timeout).
std::optional<SteadyTime> DeadlineFrom(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return std::nullopt;
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
}

absl::Status Errno(std::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat("nsm socket: ", Absl(what), ": ", std::strerror(err)));
}

// Waits until `fd` is ready for `events` or the deadline passes.
absl::Status WaitReady(int fd, short events, const std::optional<SteadyTime>& deadline) {
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("nsm socket: timed out");
      timeout_ms = left.count() > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                                                  : static_cast<int>(left.count());
    }
    pollfd pfd{};
    pfd.fd = fd;
    pfd.events = events;
    const int n = poll(&pfd, 1, timeout_ms);
    if (n > 0) return absl::OkStatus();  // readable, writable, or an error the next call reports
    if (n == 0) return absl::DeadlineExceededError("nsm socket: timed out");
    if (errno != EINTR) return Errno("poll", errno);
  }
}

void NoteSender(FrameSenders* senders, pid_t pid) {
  if (std::find(senders->pids.begin(), senders->pids.end(), pid) == senders->pids.end()) {
    senders->pids.push_back(pid);
  }
}

// recv(), or with `senders` recvmsg() noting the sender of the bytes it returns.
ssize_t Receive(int fd, uint8_t* data, size_t size, FrameSenders* senders) {
  if (senders == nullptr) return recv(fd, data, size, MSG_DONTWAIT);
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n <= 0) return n;
  pid_t pid = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      ucred cred{};
      std::memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      pid = cred.pid;
    }
  }
  NoteSender(senders, (msg.msg_flags & MSG_CTRUNC) != 0 ? 0 : pid);
  return n;
}

// Reads exactly out.size() bytes. `*received` counts bytes read before any failure.
absl::Status ReadExact(int fd, absl::Span<uint8_t> out, const std::optional<SteadyTime>& deadline,
                       size_t* received, FrameSenders* senders) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = Receive(fd, out.data() + done, out.size() - done, senders);
    if (n > 0) {
      done += static_cast<size_t>(n);
      *received += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return absl::DataLossError("nsm socket: peer closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      RETURN_IF_ERROR(WaitReady(fd, POLLIN, deadline));
      continue;
    }
    return Errno("recv", errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout) {
  return ReadFrame(fd, max_size, timeout, nullptr);
}

absl::StatusOr<Bytes> ReadFrame(int fd, size_t max_size, absl::Duration timeout,
                                FrameSenders* senders) {
  if (senders != nullptr) senders->pids.clear();
  const std::optional<SteadyTime> deadline = DeadlineFrom(timeout);
  uint8_t header[kFrameHeaderSize];
  size_t received = 0;
  absl::Status s =
      ReadExact(fd, absl::Span<uint8_t>(header, sizeof(header)), deadline, &received, senders);
  if (!s.ok()) {
    if (received == 0 && absl::IsDataLoss(s)) {
      return absl::OutOfRangeError("nsm socket: peer closed the connection between frames");
    }
    if (absl::IsDataLoss(s)) {
      return absl::DataLossError(absl::StrCat("nsm socket: peer closed the connection after ",
                                              received, " of 4 length bytes"));
    }
    return s;
  }
  const uint32_t length = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length > max_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("nsm socket: frame of ", length, " bytes exceeds the limit of ", max_size));
  }
  Bytes body(length);
  received = 0;
  s = ReadExact(fd, absl::Span<uint8_t>(body), deadline, &received, senders);
  if (!s.ok()) {
    if (absl::IsDataLoss(s)) {
      return absl::DataLossError(absl::StrCat("nsm socket: peer closed the connection after ",
                                              received, " of ", length, " frame bytes"));
    }
    return s;
  }
  return body;
}

absl::Status WriteFrame(int fd, ByteView payload, size_t max_size, absl::Duration timeout) {
  if (payload.size() > max_size || payload.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("nsm socket: frame of ", payload.size(),
                                                   " bytes exceeds the limit of ", max_size));
  }
  const std::optional<SteadyTime> deadline = DeadlineFrom(timeout);
  const auto length = static_cast<uint32_t>(payload.size());
  Bytes frame;
  frame.reserve(kFrameHeaderSize + payload.size());
  frame.push_back(static_cast<uint8_t>(length >> 24));
  frame.push_back(static_cast<uint8_t>(length >> 16));
  frame.push_back(static_cast<uint8_t>(length >> 8));
  frame.push_back(static_cast<uint8_t>(length));
  frame.insert(frame.end(), payload.begin(), payload.end());
  size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n =
        send(fd, frame.data() + done, frame.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      RETURN_IF_ERROR(WaitReady(fd, POLLOUT, deadline));
      continue;
    }
    return Errno("send", errno);
  }
  return absl::OkStatus();
}

}  // namespace lockout::nsm
