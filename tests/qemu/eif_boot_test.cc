#include "src/eif/eif_boot.h"

#include <string>

#include "gtest/gtest.h"
#include "src/eif/eif_reader.h"
#include "src/eif/eif_writer.h"

namespace lockout::eif {
namespace {

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(EifBootTest, KernelCmdlineAndRamdisksInFileOrder) {
  EifWriter w;
  w.SetKernel(B("kernel")).SetCmdline("console=ttyS0 quiet");
  w.AddRamdisk(B("first")).AddRamdisk(B("second")).AddRamdisk(B("third"));
  absl::StatusOr<Bytes> eif = w.Build();
  ASSERT_TRUE(eif.ok()) << eif.status();
  absl::StatusOr<EifBootFiles> files = EifBootFilesOf(*eif);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->kernel, B("kernel"));
  EXPECT_EQ(files->cmdline, "console=ttyS0 quiet");
  EXPECT_EQ(files->initrd, B("firstsecondthird"));
  absl::StatusOr<EifImage> image = EifReader::Parse(*eif);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(files->measurements, image->measurements);
}

TEST(EifBootTest, RefusesAnInvalidImage) {
  EifWriter w;
  w.SetKernel(B("kernel")).SetCmdline("x").AddRamdisk(B("r"));
  absl::StatusOr<Bytes> eif = w.Build();
  ASSERT_TRUE(eif.ok());
  Bytes corrupt = *eif;
  corrupt.back() ^= 1;  // CRC no longer matches
  EXPECT_FALSE(EifBootFilesOf(corrupt).ok());
  EXPECT_FALSE(EifBootFilesOf(Bytes(eif->begin(), eif->begin() + 100)).ok());
  EXPECT_FALSE(EifBootFilesOf(Bytes()).ok());
}

}  // namespace
}  // namespace lockout::eif
