#include "src/nsm/unix_socket_nsm_device.h"

#include <sys/un.h>

#include <filesystem>
#include <system_error>
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
  if (socket_path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("nsm: socket path contains a NUL byte");
  }
  std::string path(socket_path);
  if (path.front() != '/') {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("nsm: cannot make socket path ", path, " absolute: ", ec.message()));
    }
    path = absolute.string();
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("nsm: socket path of ", path.size(),
                                                   " bytes is longer than sockaddr_un allows (",
                                                   sizeof(sockaddr_un{}.sun_path) - 1, ")"));
  }
  absl::StatusOr<net::Endpoint> endpoint = net::Endpoint::Unix(path);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("nsm: ", endpoint.status().message()));
  }
  return std::unique_ptr<UnixSocketNsmDevice>(
      new UnixSocketNsmDevice(*std::move(endpoint), options));
}

absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> UnixSocketNsmDevice::CreateTcp(
    std::string_view uri, UnixSocketNsmDeviceOptions options) {
  absl::StatusOr<net::Endpoint> endpoint = net::Endpoint::Parse(uri);
  if (!endpoint.ok() || !endpoint->is_tcp() || endpoint->port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("nsm: ", Absl(uri), " is not a tcp://HOST:PORT endpoint with a port"));
  }
  return std::unique_ptr<UnixSocketNsmDevice>(
      new UnixSocketNsmDevice(*std::move(endpoint), options));
}

UnixSocketNsmDevice::~UnixSocketNsmDevice() = default;

const std::string& UnixSocketNsmDevice::where() const {
  return endpoint_.is_unix() ? endpoint_.path() : where_;
}

absl::Status UnixSocketNsmDevice::ConnectLocked(absl::Time deadline) {
  // A unix connect never waits: a service with a full accept backlog fails the call (EAGAIN)
  // instead of hanging it.
  absl::StatusOr<net::BlockingStream> stream =
      net::BlockingStream::Connect(endpoint_, deadline, *options_.clock);
  if (!stream.ok()) {
    if (absl::IsDeadlineExceeded(stream.status())) return WithPath(stream.status(), where());
    return absl::UnavailableError(absl::StrCat("nsm: cannot connect to NSM service at ", where(),
                                               ": ", stream.status().message()));
  }
  stream_.emplace(*std::move(stream));
  return absl::OkStatus();
}

absl::StatusOr<Bytes> UnixSocketNsmDevice::Call(ByteView request_cbor) {
  if (request_cbor.size() > kMaxRequestSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "nsm: request of ", request_cbor.size(), " bytes exceeds the limit of ", kMaxRequestSize));
  }
  absl::MutexLock lock(&mu_);
  // One deadline for the whole call.
  const absl::Time deadline = options_.clock->Now() + options_.timeout;
  const std::string& path = where();
  // A service that closed an idle connection (or restarted) must not cost a failed call: check
  // before sending, when nothing has been delivered yet, so reconnecting cannot duplicate a
  // request. Between calls the service has nothing to say: readable data, end of stream or an
  // error all mean the connection cannot carry the next exchange.
  if (stream_.has_value() && stream_->ReadableNow()) stream_.reset();
  if (!stream_.has_value()) RETURN_IF_ERROR(ConnectLocked(deadline));

  absl::Status written = WriteFrame(*stream_, request_cbor, kMaxRequestSize, deadline);
  if (!written.ok()) {
    stream_.reset();
    return WithPath(written, path);
  }
  absl::StatusOr<Bytes> response = ReadFrame(*stream_, options_.max_response_size, deadline);
  if (!response.ok()) {
    stream_.reset();
    if (absl::IsOutOfRange(response.status())) {
      return absl::UnavailableError(
          absl::StrCat("nsm: ", path, ": NSM service closed the connection without answering"));
    }
    return WithPath(response.status(), path);
  }
  return response;
}

}  // namespace lockout::nsm
