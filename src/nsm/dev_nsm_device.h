#pragma once

// DevNsmDevice: the real Nitro Security Module, through the Linux driver's /dev/nsm.
//
// Each Call() is one NSM_IOCTL_RAW ioctl (include/uapi/linux/nsm.h, Linux 6.8+; AWS's out-of-tree
// driver uses the same number and layout): the kernel forwards the request bytes to the NSM over
// virtio and writes the response into our 0x3000-byte buffer, updating response.len.
// Thread-safe: the fd is only read after construction; concurrent ioctls are serialised by the
// driver, and every call uses its own buffers.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/nsm/nsm_device.h"

namespace lockout::nsm {

// The kernel ABI, declared here because distribution headers (Debian 12: Linux 6.1) predate
// <linux/nsm.h>. dev_nsm_device.cc checks these against _IOWR() at compile time.
struct NsmIovec {
  uint64_t addr;  // user virtual address of the buffer
  uint64_t len;   // buffer length; for the response, the kernel writes the used length back
};
struct NsmRaw {
  NsmIovec request;
  NsmIovec response;
};
static_assert(sizeof(NsmIovec) == 16, "struct nsm_iovec is two __u64");
static_assert(sizeof(NsmRaw) == 32, "struct nsm_raw is two nsm_iovec");

inline constexpr uint8_t kNsmIoctlMagic = 0x0A;  // NSM_MAGIC
// NSM_IOCTL_RAW = _IOWR(NSM_MAGIC, 0x0, struct nsm_raw): dir 3 << 30 | size 32 << 16 | 0x0A << 8.
inline constexpr unsigned long kNsmIoctlRaw = 0xC0200A00UL;

class DevNsmDevice final : public NsmDevice {
 public:
  static constexpr std::string_view kDefaultPath = "/dev/nsm";

  // Opens `path` read-write. NotFound if it does not exist (not inside a Nitro Enclave),
  // PermissionDenied if we may not open it, Unavailable for other open(2) errors.
  static absl::StatusOr<std::unique_ptr<DevNsmDevice>> Open(std::string_view path = kDefaultPath);

  ~DevNsmDevice() override;
  DevNsmDevice(const DevNsmDevice&) = delete;
  DevNsmDevice& operator=(const DevNsmDevice&) = delete;

  // InvalidArgument if `request_cbor` exceeds kMaxRequestSize (checked before the ioctl);
  // Unavailable if the ioctl fails (errno text in the message); Internal if the kernel reports a
  // response length beyond our buffer.
  absl::StatusOr<Bytes> Call(ByteView request_cbor) override;

 private:
  DevNsmDevice(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  const int fd_;
  const std::string path_;
};

}  // namespace lockout::nsm
