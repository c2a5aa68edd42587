#include "src/eif/eif_writer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file.h"
#include "src/eif/eif_reader.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

using ::testing::HasSubstr;

TEST(EifWriterTest, LaysOutSectionsLikeNitroCli) {
  EifWriter w;
  w.SetKernel(ToBytes("kernel")).SetCmdline("cmd").AddRamdisk(ToBytes("r1")).AddRamdisk({});
  w.SetMetadata("{}").SetFlags(kEifFlagArm64).SetDefaultMemory(512 << 20).SetDefaultCpus(4);
  absl::StatusOr<Bytes> eif = w.Build();
  ASSERT_TRUE(eif.ok()) << eif.status();
  absl::StatusOr<EifImage> img = EifReader::Parse(*eif);
  ASSERT_TRUE(img.ok()) << img.status();
  std::vector<SectionType> types;
  for (const SectionInfo& s : img->sections) types.push_back(s.type);
  EXPECT_THAT(types, ::testing::ElementsAre(SectionType::kKernel, SectionType::kCmdline,
                                            SectionType::kMetadata, SectionType::kRamdisk,
                                            SectionType::kRamdisk));
  EXPECT_EQ(img->header.num_sections, 5);
  EXPECT_TRUE(img->is_arm64());
  EXPECT_EQ(img->header.default_mem, uint64_t{512} << 20);
  EXPECT_EQ(img->header.default_cpus, 4u);
  // The CRC the writer stored is the one an independent CRC computes.
  uint32_t crc = testutil::BitwiseCrc32(ByteView(*eif).subspan(0, 544));
  crc = testutil::BitwiseCrc32(ByteView(*eif).subspan(548), crc);
  EXPECT_EQ(img->header.eif_crc32, crc);
  // The cmdline is stored without a terminating NUL (nitro-cli's CString::into_bytes).
  EXPECT_EQ(img->sections[1].size, 3u);
}

TEST(EifWriterTest, RefusesImagesThatCannotBoot) {
  EifWriter no_kernel;
  no_kernel.AddRamdisk(ToBytes("r"));
  EXPECT_THAT(no_kernel.Build().status().message(), HasSubstr("kernel is empty"));
  EifWriter no_ramdisk;
  no_ramdisk.SetKernel(ToBytes("k"));
  EXPECT_THAT(no_ramdisk.Build().status().message(), HasSubstr("no ramdisk"));
  EifWriter too_many;
  too_many.SetKernel(ToBytes("k"));
  for (int i = 0; i < 31; ++i) too_many.AddRamdisk(ToBytes("r"));
  EXPECT_THAT(too_many.Build().status().message(), HasSubstr("33 sections; at most 32"));
}

TEST(EifWriterTest, WriteFileProducesAReadableImage) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).AddRamdisk(ToBytes("r"));
  const std::string path = testutil::TempPath("written.eif");
  ASSERT_TRUE(w.WriteFile(path).ok());
  absl::StatusOr<EifImage> img = EifReader::Open(path);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(PcrHex(img->measurements.pcr0),
            testutil::IndependentPcrHex({ToBytes("k"), ToBytes("r")}));
  std::remove(path.c_str());
}

TEST(EifWriterTest, BadSignerFailsTheBuild) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).AddRamdisk(ToBytes("r"));
  w.SetSigner(ToBytes("not a cert"), SecretBytes::CopyFrom("not a key"));
  EXPECT_FALSE(w.Build().ok());
}

}  // namespace
}  // namespace lockout::eif
