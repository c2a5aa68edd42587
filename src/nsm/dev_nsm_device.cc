#include "src/nsm/dev_nsm_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/nsm/nsm_message.h"

namespace lockout::nsm {

// The hand-written constant must be what the kernel's macro computes on this architecture.
static_assert(kNsmIoctlRaw == _IOWR(kNsmIoctlMagic, 0x0, NsmRaw),
              "NSM_IOCTL_RAW must be _IOWR(0x0A, 0, struct nsm_raw)");

absl::StatusOr<std::unique_ptr<DevNsmDevice>> DevNsmDevice::Open(std::string_view path) {
  const std::string p(path);
  const int fd = open(p.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = absl::StrCat("nsm: cannot open ", p, ": ", std::strerror(err));
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat(msg, " (not inside a Nitro Enclave? locally, use the NSM service socket)"));
    }
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  return std::unique_ptr<DevNsmDevice>(new DevNsmDevice(fd, p));
}

DevNsmDevice::~DevNsmDevice() { close(fd_); }

absl::StatusOr<Bytes> DevNsmDevice::Call(ByteView request_cbor) {
  if (request_cbor.size() > kMaxRequestSize) {
    return absl::InvalidArgumentError(absl::StrCat("nsm: request of ", request_cbor.size(),
                                                   " bytes exceeds the device limit of ",
                                                   kMaxRequestSize));
  }
  Bytes response(kMaxResponseSize);
  NsmRaw raw{};
  raw.request.addr = reinterpret_cast<uintptr_t>(request_cbor.data());
  raw.request.len = request_cbor.size();
  raw.response.addr = reinterpret_cast<uintptr_t>(response.data());
  raw.response.len = response.size();
  // Not retried on EINTR: the NSM may already have acted on a non-idempotent request (ExtendPCR).
  if (ioctl(fd_, kNsmIoctlRaw, &raw) < 0) {
    const int err = errno;
    return absl::UnavailableError(
        absl::StrCat("nsm: NSM_IOCTL_RAW on ", path_, " failed: ", std::strerror(err)));
  }
  if (raw.response.len > response.size()) {
    return absl::InternalError(absl::StrCat("nsm: kernel reported a response of ", raw.response.len,
                                            " bytes for a buffer of ", response.size()));
  }
  response.resize(static_cast<size_t>(raw.response.len));
  return response;
}

}  // namespace lockout::nsm
