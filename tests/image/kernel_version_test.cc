#include "src/image/kernel_version.h"

#include "gtest/gtest.h"
#include "tests/image/image_test_util.h"

namespace lockout::image {
namespace {

TEST(KernelVersionTest, FromConfigHeaderLine) {
  EXPECT_EQ(KernelVersionFromConfig("#\n# Automatically generated file; DO NOT EDIT.\n"
                                    "# Linux/x86 4.14.256-118.488.amzn2.x86_64 Kernel "
                                    "Configuration\n#\nCONFIG_X=y\n"),
            "4.14.256-118.488.amzn2.x86_64");
  EXPECT_EQ(KernelVersionFromConfig("# Linux/arm64 6.1.0 Kernel Configuration"), "6.1.0");
}

TEST(KernelVersionTest, ConfigWithoutAUsableHeaderLineHasNoVersion) {
  EXPECT_EQ(KernelVersionFromConfig(""), std::nullopt);
  EXPECT_EQ(KernelVersionFromConfig("CONFIG_X=y\n"), std::nullopt);
  EXPECT_EQ(KernelVersionFromConfig("# Linux/x86 Kernel Configuration\n"), std::nullopt);
  EXPECT_EQ(KernelVersionFromConfig("# Linux/x86  Kernel Configuration\n"), std::nullopt);
  EXPECT_EQ(KernelVersionFromConfig("# Linux/x86 a\tb Kernel Configuration\n"), std::nullopt);
  std::string late(100, '\n');
  late += "# Linux/x86 6.1 Kernel Configuration\n";
  EXPECT_EQ(KernelVersionFromConfig(late), std::nullopt);  // only the first 64 lines
}

TEST(KernelVersionTest, FromBzImageSetupHeader) {
  const std::string k = testutil::FakeBzImage("6.1.0-18-cloud-amd64 (debian-kernel@lists) #1");
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(k)), "6.1.0-18-cloud-amd64");
  const std::string nul_ended = testutil::FakeBzImage("5.10.0");
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(nul_ended)), "5.10.0");
}

TEST(KernelVersionTest, BzImageWithoutAUsableHeaderHasNoVersion) {
  const std::string good = testutil::FakeBzImage("6.1.0 x");
  auto edited = [&](size_t at, char c) {
    std::string k = good;
    k[at] = c;
    return KernelVersionFromBzImage(AsBytes(k));
  };
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(good.substr(0, 0x20F))), std::nullopt);
  EXPECT_EQ(edited(0x1FE, 0), std::nullopt);    // boot flag
  EXPECT_EQ(edited(0x202, 'X'), std::nullopt);  // HdrS
  EXPECT_EQ(edited(0x207, 1), std::nullopt);    // protocol 1.x
  EXPECT_EQ(edited(0x500, ' '), std::nullopt);  // empty version
  std::string k = good;
  k[0x20E] = 0;
  k[0x20F] = 0;
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(k)), std::nullopt);  // no pointer
  k[0x20F] = '\x7f';  // 0x7f00 + 0x200: past the end of the 4 KiB file
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(k)), std::nullopt);
  // A version that runs to the end of the file, or past the length cap, is not taken.
  std::string runs_off = good.substr(0, 0x503);
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(runs_off)), std::nullopt);
  std::string long_version = testutil::FakeBzImage(std::string(300, 'v'));
  EXPECT_EQ(KernelVersionFromBzImage(AsBytes(long_version)), std::nullopt);
}

}  // namespace
}  // namespace lockout::image
