#include "src/eif/eif_description.h"

#include "gtest/gtest.h"
#include "src/eif/eif_writer.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

std::vector<std::string> Keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

EifImage ImageOf(const EifWriter& w) {
  absl::StatusOr<Bytes> eif = w.Build();
  EXPECT_TRUE(eif.ok()) << eif.status();
  absl::StatusOr<EifImage> img = EifReader::Parse(eif.ok() ? *eif : Bytes());
  EXPECT_TRUE(img.ok()) << img.status();
  return img.ok() ? *img : EifImage();
}

TEST(EifDescriptionTest, UnsignedImageHasNitroCliFieldsInOrder) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).SetCmdline("c").AddRamdisk(ToBytes("r"));
  const nlohmann::ordered_json j = DescribeEif(ImageOf(w));
  EXPECT_EQ(Keys(j),
            (std::vector<std::string>{"EifVersion", "Measurements", "IsSigned", "CheckCRC"}));
  EXPECT_EQ(j["EifVersion"], 4);
  EXPECT_EQ(j["IsSigned"], false);
  EXPECT_EQ(j["CheckCRC"], true);
  EXPECT_EQ(Keys(j["Measurements"]),
            (std::vector<std::string>{"HashAlgorithm", "PCR0", "PCR1", "PCR2"}));
  EXPECT_EQ(j["Measurements"]["HashAlgorithm"], "Sha384 { ... }");
  EXPECT_EQ(j["Measurements"]["PCR0"],
            testutil::IndependentPcrHex({ToBytes("k"), ToBytes("c"), ToBytes("r")}));
}

TEST(EifDescriptionTest, MetadataIsFlattenedLikeNitroCli) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).AddRamdisk(ToBytes("r"));
  w.SetMetadata(R"({"ImageName":"img","ImageVersion":"2","BuildMetadata":{"BuildTime":"t",)"
                R"("BuildTool":"bt","BuildToolVersion":"v","OperatingSystem":"os",)"
                R"("KernelVersion":"kv"},"DockerInfo":{"Id":"x"},"CustomMetadata":{"team":"a"}})");
  const nlohmann::ordered_json j = DescribeEif(ImageOf(w));
  EXPECT_EQ(Keys(j), (std::vector<std::string>{"EifVersion", "Measurements", "IsSigned", "CheckCRC",
                                               "ImageName", "ImageVersion", "Metadata"}));
  EXPECT_EQ(j["ImageName"], "img");
  EXPECT_EQ(Keys(j["Metadata"]),
            (std::vector<std::string>{"BuildTime", "BuildTool", "BuildToolVersion",
                                      "OperatingSystem", "KernelVersion", "DockerInfo", "team"}));
  EXPECT_EQ(j["Metadata"]["DockerInfo"]["Id"], "x");
}

TEST(EifDescriptionTest, OddlyShapedMetadataIsDescribedPartially) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).AddRamdisk(ToBytes("r")).SetMetadata(R"({"ImageName":7})");
  const nlohmann::ordered_json j = DescribeEif(ImageOf(w));
  EXPECT_FALSE(j.contains("ImageName"));
  EXPECT_FALSE(j.contains("Metadata"));
}

TEST(EifDescriptionTest, BadCrcIsReportedWhenAllowed) {
  EifWriter w;
  w.SetKernel(ToBytes("k")).AddRamdisk(ToBytes("r"));
  absl::StatusOr<Bytes> eif = w.Build();
  ASSERT_TRUE(eif.ok());
  (*eif)[testutil::kCrcAt] ^= 0xFF;
  absl::StatusOr<EifImage> img = EifReader::Parse(*eif, {.require_valid_crc = false});
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(DescribeEif(*img)["CheckCRC"], false);
}

}  // namespace
}  // namespace lockout::eif
