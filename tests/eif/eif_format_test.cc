#include "src/eif/eif_format.h"

#include "gtest/gtest.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

TEST(EifFormatTest, HeaderEncodesTo548BigEndianBytesAtTheDocumentedOffsets) {
  EifHeader h;
  h.version = 4;
  h.flags = kEifFlagArm64;
  h.default_mem = 0x0102030405060708;
  h.default_cpus = 2;
  h.num_sections = 3;
  h.section_offsets[0] = 548;
  h.section_sizes[31] = 0xAABB;
  h.eif_crc32 = 0xDEADBEEF;
  const Bytes b = h.Encode();
  ASSERT_EQ(b.size(), kEifHeaderSize);
  EXPECT_EQ(ToString(ByteView(b).subspan(0, 4)), ".eif");
  EXPECT_EQ(b[testutil::kVersionAt + 1], 4);
  EXPECT_EQ(b[7], 1);  // flags low byte
  EXPECT_EQ(b[8], 0x01);
  EXPECT_EQ(b[15], 0x08);
  EXPECT_EQ(b[testutil::kNumSectionsAt + 1], 3);
  EXPECT_EQ(b[testutil::kOffsetsAt + 6], 0x02);  // 548 = 0x0224
  EXPECT_EQ(b[testutil::kOffsetsAt + 7], 0x24);
  EXPECT_EQ(b[testutil::kSizesAt + 31 * 8 + 6], 0xAA);
  EXPECT_EQ(b[testutil::kCrcAt], 0xDE);
  EXPECT_EQ(b[547], 0xEF);
}

TEST(EifFormatTest, HeaderDecodeInvertsEncode) {
  EifHeader h;
  h.version = 3;
  h.default_cpus = 7;
  h.reserved = 9;
  h.num_sections = 32;
  for (size_t i = 0; i < kMaxSections; ++i) {
    h.section_offsets[i] = 1000 + i;
    h.section_sizes[i] = i * 3;
  }
  h.unused = 5;
  h.eif_crc32 = 0x12345678;
  absl::StatusOr<EifHeader> d = EifHeader::Decode(h.Encode());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->Encode(), h.Encode());
  EXPECT_EQ(d->section_offsets[31], 1031u);
  EXPECT_EQ(d->eif_crc32, 0x12345678u);
}

TEST(EifFormatTest, DecodeRejectsWrongLengths) {
  const Bytes b = EifHeader().Encode();
  EXPECT_FALSE(EifHeader::Decode(ByteView(b).subspan(0, 547)).ok());
  Bytes longer = b;
  longer.push_back(0);
  EXPECT_FALSE(EifHeader::Decode(longer).ok());
  EXPECT_FALSE(EifSectionHeader::Decode(Bytes(11)).ok());
  EXPECT_FALSE(EifSectionHeader::Decode(Bytes(13)).ok());
}

TEST(EifFormatTest, SectionHeaderRoundTrips) {
  EifSectionHeader s;
  s.type = static_cast<uint16_t>(SectionType::kSignature);
  s.flags = 3;
  s.size = 123;
  const Bytes b = s.Encode();
  ASSERT_EQ(b.size(), kSectionHeaderSize);
  EXPECT_EQ(b, (Bytes{0, 4, 0, 3, 0, 0, 0, 0, 0, 0, 0, 123}));
  absl::StatusOr<EifSectionHeader> d = EifSectionHeader::Decode(b);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, 4);
  EXPECT_EQ(d->flags, 3);
  EXPECT_EQ(d->size, 123u);
}

}  // namespace
}  // namespace lockout::eif
