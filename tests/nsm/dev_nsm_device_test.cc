#include "src/nsm/dev_nsm_device.h"

#include <sys/ioctl.h>

#include <cstddef>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/nsm/nsm_message.h"

namespace lockout::nsm {
namespace {

using ::testing::HasSubstr;

TEST(DevNsmDeviceTest, IoctlNumberAndStructLayoutMatchTheKernelHeader) {
  // include/uapi/linux/nsm.h: struct nsm_iovec { __u64 addr; __u64 len; };
  // struct nsm_raw { struct nsm_iovec request; struct nsm_iovec response; };
  EXPECT_EQ(sizeof(NsmRaw), 32u);
  EXPECT_EQ(offsetof(NsmIovec, addr), 0u);
  EXPECT_EQ(offsetof(NsmIovec, len), 8u);
  EXPECT_EQ(offsetof(NsmRaw, request), 0u);
  EXPECT_EQ(offsetof(NsmRaw, response), 16u);
  EXPECT_EQ(kNsmIoctlRaw, 0xC0200A00UL);
  EXPECT_EQ(kNsmIoctlRaw, static_cast<unsigned long>(_IOWR(0x0A, 0, NsmRaw)));
  EXPECT_EQ(kMaxRequestSize, 0x1000u);
  EXPECT_EQ(kMaxResponseSize, 0x3000u);
}

TEST(DevNsmDeviceTest, MissingDeviceGivesAClearNotFoundError) {
  const std::string path = ::testing::TempDir() + "no-such-dir/nsm";
  absl::StatusOr<std::unique_ptr<DevNsmDevice>> d = DevNsmDevice::Open(path);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("Nitro Enclave"));
}

TEST(DevNsmDeviceTest, OversizedRequestIsRefusedBeforeTheIoctl) {
  // /dev/null accepts open() but not NSM_IOCTL_RAW: an in-limit request reaches the ioctl and
  // fails there (ENOTTY), an oversized one never gets that far.
  absl::StatusOr<std::unique_ptr<DevNsmDevice>> d = DevNsmDevice::Open("/dev/null");
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<Bytes> big = (*d)->Call(Bytes(kMaxRequestSize + 1, 0));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("4097"));

  absl::StatusOr<Bytes> fits = (*d)->Call(Bytes(kMaxRequestSize, 0));
  EXPECT_EQ(fits.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(fits.status().message()), HasSubstr("NSM_IOCTL_RAW"));
}

}  // namespace
}  // namespace lockout::nsm
