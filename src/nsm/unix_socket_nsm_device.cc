#include "src/nsm/unix_socket_nsm_device.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/nsm/nsm_socket_framing.h"

namespace lockout::nsm {
namespace {

// Prefixes a framing error with the socket path, keeping its code.
absl::Status WithPath(const absl::Status& s, const std::string& path) {
  return absl::Status(s.code(), absl::StrCat("nsm: ", path, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> UnixSocketNsmDevice::Create(
    std::string_view socket_path, UnixSocketNsmDeviceOptions options) {
  if (socket_path.empty()) return absl::InvalidArgumentError("nsm: empty socket path");
  if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("nsm: socket path of ", socket_path.size(),
                                                   " bytes is longer than sockaddr_un allows (",
                                                   sizeof(sockaddr_un{}.sun_path) - 1, ")"));
  }
  if (socket_path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("nsm: socket path contains a NUL byte");
  }
  return std::unique_ptr<UnixSocketNsmDevice>(
      new UnixSocketNsmDevice(std::string(socket_path), options));
}

UnixSocketNsmDevice::~UnixSocketNsmDevice() {
  absl::MutexLock lock(&mu_);
  DisconnectLocked();
}

absl::Status UnixSocketNsmDevice::ConnectLocked() {
  // Non-blocking so that a service with a full accept backlog fails the call (EAGAIN) instead of
  // hanging it; the framing functions never depend on the blocking mode.
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("nsm: socket(): ", std::strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());  // length checked in Create()
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("nsm: cannot connect to NSM service at ", path_, ": ", std::strerror(err)));
  }
  fd_ = fd;
  return absl::OkStatus();
}

bool UnixSocketNsmDevice::IdleConnectionIsDeadLocked() {
  pollfd pfd{};
  pfd.fd = fd_;
  pfd.events = POLLIN | POLLRDHUP;
  if (poll(&pfd, 1, 0) < 0) return true;
  // Between calls the service has nothing to say: readable data, hang-up or error all mean the
  // connection cannot carry the next exchange.
  return pfd.revents != 0;
}

void UnixSocketNsmDevice::DisconnectLocked() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::StatusOr<Bytes> UnixSocketNsmDevice::Call(ByteView request_cbor) {
  if (request_cbor.size() > kMaxRequestSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nsm: request of ", request_cbor.size(), " bytes exceeds the limit of ", kMaxRequestSize));
  }
  absl::MutexLock lock(&mu_);
  // One deadline for the whole call, on the monotonic clock.
  const auto start = std::chrono::steady_clock::now();
  auto remaining = [&] {
    return options_.timeout - absl::FromChrono(std::chrono::steady_clock::now() - start);
  };
  // A service that closed an idle connection (or restarted) must not cost a failed call: check
  // before sending, when nothing has been delivered yet, so reconnecting cannot duplicate a
  // request.
  if (fd_ >= 0 && IdleConnectionIsDeadLocked()) DisconnectLocked();
  if (fd_ < 0) RETURN_IF_ERROR(ConnectLocked());

  absl::Status written = WriteFrame(fd_, request_cbor, kMaxRequestSize, remaining());
  if (!written.ok()) {
    DisconnectLocked();
    return WithPath(written, path_);
  }
  absl::StatusOr<Bytes> response = ReadFrame(fd_, options_.max_response_size, remaining());
  if (!response.ok()) {
    DisconnectLocked();
    if (absl::IsOutOfRange(response.status())) {
      return absl::UnavailableError(
          absl::StrCat("nsm: ", path_, ": NSM service closed the connection without answering"));
    }
    return WithPath(response.status(), path_);
  }
  return response;
}

}  // namespace lockout::nsm
