#include "src/eif/eif_reader.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"
#include "src/eif/eif_writer.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

using ::testing::HasSubstr;
using testutil::IndependentPcrHex;
using testutil::RawEif;
using testutil::RawSection;

constexpr uint16_t kKernel = 1, kCmdline = 2, kRamdisk = 3, kSignature = 4, kMetadata = 5;

struct Parts {
  Bytes kernel = ToBytes("kernel image bytes");
  std::string cmdline = "console=ttyS0";
  std::vector<Bytes> ramdisks = {ToBytes("bootstrap initramfs"), ToBytes("customer app"),
                                 ToBytes("more app")};
};

EifWriter WriterFor(const Parts& p) {
  EifWriter w;
  w.SetKernel(p.kernel).SetCmdline(p.cmdline);
  for (const Bytes& r : p.ramdisks) w.AddRamdisk(r);
  return w;
}

Bytes Build(const EifWriter& w) {
  absl::StatusOr<Bytes> b = w.Build();
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bytes();
}

EifWriter SignedWriter(const Parts& p) {
  EifWriter w = WriterFor(p);
  Bytes cert = testing::ReadTestFile(testing::TestDataPath("eif/signing-cert.pem"));
  Bytes key = testing::ReadTestFile(testing::TestDataPath("eif/signing-key.pem"));
  w.SetSigner(cert, SecretBytes::CopyFrom(key));
  WipeBytes(key);
  return w;
}

std::string ErrorOf(ByteView eif, EifReadOptions options = {}) {
  absl::StatusOr<EifImage> r = EifReader::Parse(eif, options);
  EXPECT_FALSE(r.ok()) << "parsed unexpectedly";
  return r.ok() ? "" : std::string(r.status().message());
}

// --- happy paths ---------------------------------------------------------------------------

TEST(EifReaderTest, WriterOutputRoundTripsWithIndependentlyComputedPcrs) {
  Parts p;
  absl::StatusOr<EifImage> img = EifReader::Parse(Build(WriterFor(p)));
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->header.version, 4);
  EXPECT_TRUE(img->crc_ok);
  EXPECT_FALSE(img->is_signed());
  EXPECT_FALSE(img->measurements.pcr8.has_value());
  ASSERT_EQ(img->sections.size(), 5u);
  EXPECT_EQ(img->sections[0].type, SectionType::kKernel);
  EXPECT_EQ(img->sections[0].offset, 548u);
  EXPECT_EQ(img->sections[1].type, SectionType::kCmdline);
  EXPECT_EQ(img->sections[4].type, SectionType::kRamdisk);
  const Bytes cmd = ToBytes(p.cmdline);
  EXPECT_EQ(PcrHex(img->measurements.pcr0),
            IndependentPcrHex({p.kernel, cmd, p.ramdisks[0], p.ramdisks[1], p.ramdisks[2]}));
  EXPECT_EQ(PcrHex(img->measurements.pcr1), IndependentPcrHex({p.kernel, cmd, p.ramdisks[0]}));
  EXPECT_EQ(PcrHex(img->measurements.pcr2), IndependentPcrHex({p.ramdisks[1], p.ramdisks[2]}));
}

TEST(EifReaderTest, SingleRamdiskGivesPcr2OfEmptyInput) {
  Parts p;
  p.ramdisks.resize(1);
  absl::StatusOr<EifImage> img = EifReader::Parse(Build(WriterFor(p)));
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(PcrHex(img->measurements.pcr2), IndependentPcrHex({}));
  EXPECT_EQ(img->measurements.pcr0, img->measurements.pcr1);
}

TEST(EifReaderTest, WriterMeasureAgreesWithReader) {
  Parts p;
  EifWriter w = SignedWriter(p);
  absl::StatusOr<Measurements> expected = w.Measure();
  ASSERT_TRUE(expected.ok()) << expected.status();
  absl::StatusOr<EifImage> img = EifReader::Parse(Build(w));
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->measurements, *expected);
}

TEST(EifReaderTest, PythonImplementationAgreesOnUnsignedAndSignedWriterOutput) {
  Parts p;
  EifWriter unsigned_writer = WriterFor(p);
  unsigned_writer.SetMetadata(R"({"ImageName":"x"})");
  for (bool sign : {false, true}) {
    SCOPED_TRACE(sign ? "signed" : "unsigned");
    const Bytes eif = sign ? Build(SignedWriter(p)) : Build(unsigned_writer);
    const std::string path = testutil::TempPath(sign ? "signed.eif" : "unsigned.eif");
    testutil::WriteBytes(path, eif);
    absl::StatusOr<EifImage> img = EifReader::Open(path);
    ASSERT_TRUE(img.ok()) << img.status();
    nlohmann::json py = testutil::IndependentMeasure(path);
    EXPECT_EQ(py["pcr0"], PcrHex(img->measurements.pcr0));
    EXPECT_EQ(py["pcr1"], PcrHex(img->measurements.pcr1));
    EXPECT_EQ(py["pcr2"], PcrHex(img->measurements.pcr2));
    EXPECT_EQ(py["crc_computed"], py["crc_stored"]);
    EXPECT_EQ(py["crc_stored"], img->header.eif_crc32);
    if (sign) {
      ASSERT_TRUE(img->measurements.pcr8.has_value());
      EXPECT_EQ(py["pcr8"], PcrHex(*img->measurements.pcr8));
      EXPECT_EQ(py["signature_valid"], true);  // Python verifies our COSE_Sign1
      EXPECT_EQ(img->signature_valid, true);
    } else {
      EXPECT_FALSE(py.contains("pcr8"));
      EXPECT_EQ(img->metadata_json, R"({"ImageName":"x"})");
    }
    std::remove(path.c_str());
  }
}

// tests/testdata/eif/*.eif were written by independent_eif.py (not by EifWriter); the expected
// values are in tests/testdata/eif/README.md.
constexpr char kTestPcr0[] =
    "0098d2cff88a599867a2b0865e5afe46238a4218492c1ffd69e9b239c6e7b28e33921f42f0913db9ccfb45b70e2c0e"
    "02";
constexpr char kTestPcr1[] =
    "925b73a8ff0d6fe35854dd0ffa6dfc8656c35abab2b7446f4bbe4a001d226677d1ded014f0421928eaa82f8ddeb27d"
    "ad";
constexpr char kTestPcr2[] =
    "51d49661af2c98904bfbfc3a46ac6a7de776dc22e7c87689d544e27d4d7e7c81dd759f4784d5ef7a3f7a3bcb375902"
    "0e";
constexpr char kTestPcr8[] =
    "d1b85c63d2609901700952d40eab939743cb543ceda7aec4e4d21bc07402622579be1d64c46d6741c6acaa4feedd45"
    "d3";

TEST(EifReaderTest, ReadsTheIndependentlyWrittenTestImages) {
  for (const char* name : {"eif/unsigned.eif", "eif/signed.eif"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<EifImage> img = EifReader::Open(testing::TestDataPath(name));
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_EQ(PcrHex(img->measurements.pcr0), kTestPcr0);
    EXPECT_EQ(PcrHex(img->measurements.pcr1), kTestPcr1);
    EXPECT_EQ(PcrHex(img->measurements.pcr2), kTestPcr2);
    EXPECT_TRUE(img->crc_ok);
    ASSERT_TRUE(img->metadata_json.has_value());
    EXPECT_THAT(*img->metadata_json, HasSubstr("lockout-test"));
    if (std::string(name) == "eif/signed.eif") {
      ASSERT_TRUE(img->measurements.pcr8.has_value());
      EXPECT_EQ(PcrHex(*img->measurements.pcr8), kTestPcr8);
      EXPECT_EQ(img->signature_valid, true);  // signed by Python's `cryptography`
    } else {
      EXPECT_FALSE(img->is_signed());
    }
  }
}

TEST(EifReaderTest, OpenStreamsSectionsLargerThanOneChunk) {
  Parts p;
  p.kernel = crypto::RandomBytes((1 << 20) + 1);
  p.ramdisks = {crypto::RandomBytes(5 << 19), crypto::RandomBytes(3), crypto::RandomBytes(1 << 20)};
  const Bytes eif = Build(WriterFor(p));
  const std::string path = testutil::TempPath("large.eif");
  testutil::WriteBytes(path, eif);
  absl::StatusOr<EifImage> from_file = EifReader::Open(path);
  absl::StatusOr<EifImage> from_memory = EifReader::Parse(eif);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  ASSERT_TRUE(from_memory.ok()) << from_memory.status();
  EXPECT_EQ(from_file->measurements, from_memory->measurements);
  EXPECT_EQ(PcrHex(from_file->measurements.pcr2),
            IndependentPcrHex({p.ramdisks[1], p.ramdisks[2]}));
  nlohmann::json py = testutil::IndependentMeasure(path);
  EXPECT_EQ(py["pcr0"], PcrHex(from_file->measurements.pcr0));
  std::remove(path.c_str());
}

TEST(EifReaderTest, SectionsInAnyTableOrderAreMeasuredInFileOrder) {
  // Swap the table entries of the two last ramdisks: same file, different table order.
  Parts p;
  Bytes eif = Build(WriterFor(p));
  absl::StatusOr<EifImage> before = EifReader::Parse(eif);
  ASSERT_TRUE(before.ok());
  for (size_t table : {testutil::kOffsetsAt, testutil::kSizesAt}) {
    for (size_t k = 0; k < 8; ++k) std::swap(eif[table + 3 * 8 + k], eif[table + 4 * 8 + k]);
  }
  testutil::FixCrc(eif);
  absl::StatusOr<EifImage> after = EifReader::Parse(eif);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->measurements, before->measurements);
}

TEST(EifReaderTest, OlderVersionsWithoutMetadataAreAccepted) {
  Bytes eif = RawEif({{kKernel, ToBytes("k")}, {kCmdline, {}}, {kRamdisk, ToBytes("r")}},
                     /*version=*/2);
  absl::StatusOr<EifImage> img = EifReader::Parse(eif);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->header.version, 2);
  EXPECT_EQ(PcrHex(img->measurements.pcr0), IndependentPcrHex({ToBytes("k"), ToBytes("r")}));
}

// --- corrupt files ---------------------------------------------------------------------------

TEST(EifReaderTest, CorruptMagicIsRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  eif[0] = 'E';
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("bad magic 45656966"));
}

TEST(EifReaderTest, BadCrcIsRejectedUnlessAllowed) {
  Bytes eif = Build(WriterFor(Parts{}));
  eif[600] ^= 0x01;  // inside the kernel
  absl::StatusOr<EifImage> strict = EifReader::Parse(eif);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(strict.status().message(), HasSubstr("CRC-32 mismatch"));

  absl::StatusOr<EifImage> lenient = EifReader::Parse(eif, {.require_valid_crc = false});
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_FALSE(lenient->crc_ok);
  EXPECT_EQ(lenient->computed_crc32,
            testutil::BitwiseCrc32(ByteView(eif).subspan(testutil::kHeader),
                                   testutil::BitwiseCrc32(ByteView(eif).subspan(0, 544))));
}

TEST(EifReaderTest, EverySingleBitFlipIsRejected) {
  Parts p;
  p.ramdisks.resize(2);
  const Bytes good = Build(WriterFor(p));
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = good;
      bad[i] ^= static_cast<uint8_t>(1u << bit);
      ASSERT_FALSE(EifReader::Parse(bad).ok()) << "flip of bit " << bit << " at offset " << i;
    }
  }
}

TEST(EifReaderTest, TruncationAtEveryOffsetIsRejected) {
  const Bytes good = Build(WriterFor(Parts{}));
  ASSERT_TRUE(EifReader::Parse(good).ok());
  for (size_t n = 0; n < good.size(); ++n) {
    ASSERT_FALSE(EifReader::Parse(ByteView(good).subspan(0, n)).ok()) << "length " << n;
  }
  EXPECT_THAT(ErrorOf(ByteView(good).subspan(0, 100)), HasSubstr("shorter than the 548-byte"));
  EXPECT_THAT(ErrorOf(ByteView(good).subspan(0, good.size() - 1)),
              HasSubstr("extends past the end of the file"));
}

TEST(EifReaderTest, TrailingBytesAreRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  eif.push_back(0);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("1 trailing bytes after the last section"));
}

TEST(EifReaderTest, OversizedFilesAreRejectedBeforeReading) {
  const Bytes eif = Build(WriterFor(Parts{}));
  EXPECT_THAT(ErrorOf(eif, {.max_file_size = eif.size() - 1}), HasSubstr("the limit is"));
}

TEST(EifReaderTest, OutOfRangeSectionIsRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  testutil::SetBe(eif, testutil::kOffsetsAt + 2 * 8, eif.size() + 10, 8);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("section 2 (offset"));
  EXPECT_THAT(ErrorOf(eif), HasSubstr("extends past the end of the file"));

  // A size so large that offset + 12 + size overflows 64 bits.
  Bytes huge = Build(WriterFor(Parts{}));
  testutil::SetBe(huge, testutil::kSizesAt + 1 * 8, ~uint64_t{0} - 5, 8);
  testutil::FixCrc(huge);
  EXPECT_THAT(ErrorOf(huge), HasSubstr("extends past the end of the file"));
}

TEST(EifReaderTest, SectionOverlappingTheHeaderIsRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  testutil::SetBe(eif, testutil::kOffsetsAt, 100, 8);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("section 0 at offset 100 overlaps the EIF header"));
}

TEST(EifReaderTest, OverlappingSectionsAreRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  // Point section 1 (cmdline) two bytes earlier, into the kernel.
  const uint64_t cmdline_offset = 548 + 12 + Parts{}.kernel.size();
  testutil::SetBe(eif, testutil::kOffsetsAt + 8, cmdline_offset - 2, 8);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("sections 0 and 1 overlap"));

  // Two table entries naming the same section.
  Bytes dup = Build(WriterFor(Parts{}));
  for (size_t k = 0; k < 8; ++k) {
    dup[testutil::kOffsetsAt + 4 * 8 + k] = dup[testutil::kOffsetsAt + 3 * 8 + k];
    dup[testutil::kSizesAt + 4 * 8 + k] = dup[testutil::kSizesAt + 3 * 8 + k];
  }
  testutil::FixCrc(dup);
  EXPECT_THAT(ErrorOf(dup), HasSubstr("overlap"));
}

TEST(EifReaderTest, GapBetweenSectionsIsRejected) {
  Bytes eif = RawEif({{kKernel, ToBytes("k")}, {kCmdline, {}}, {kRamdisk, ToBytes("r")}});
  // Shrink the cmdline entry by claiming the ramdisk starts 1 byte later: insert a byte.
  const size_t ramdisk_at = 548 + 13 + 12;
  eif.insert(eif.begin() + static_cast<std::ptrdiff_t>(ramdisk_at), 0);
  testutil::SetBe(eif, testutil::kOffsetsAt + 2 * 8, ramdisk_at + 1, 8);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("gap of 1 bytes at offset 573 before section 2"));
}

TEST(EifReaderTest, SectionCountsOutsideOneToThirtyTwoAreRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  testutil::SetBe(eif, testutil::kNumSectionsAt, 33, 2);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("num_sections is 33; must be 1..32"));
  testutil::SetBe(eif, testutil::kNumSectionsAt, 0, 2);
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("num_sections is 0"));

  std::vector<RawSection> many = {{kKernel, ToBytes("k")}, {kCmdline, {}}};
  for (int i = 0; i < 31; ++i) many.push_back({kRamdisk, ToBytes("r")});
  EXPECT_THAT(ErrorOf(RawEif(many)), HasSubstr("num_sections is 33"));
}

TEST(EifReaderTest, NonZeroUnusedTableSlotIsRejected) {
  Bytes eif = Build(WriterFor(Parts{}));
  eif[testutil::kSizesAt + 31 * 8 + 7] = 1;
  testutil::FixCrc(eif);
  EXPECT_THAT(ErrorOf(eif), HasSubstr("section table slot 31 beyond num_sections 5"));
}

TEST(EifReaderTest, UnsupportedVersionsAreRejected) {
  for (uint16_t v : std::initializer_list<uint16_t>{0, 1, 5, 0xFFFF}) {
    EXPECT_THAT(ErrorOf(RawEif({{kKernel, ToBytes("k")}, {kCmdline, {}}, {kRamdisk, {}}}, v)),
                HasSubstr("unsupported version"))
        << v;
  }
}

TEST(EifReaderTest, InvalidSectionTypesAreRejected) {
  for (uint16_t t : std::initializer_list<uint16_t>{0, 6, 0xFFFF}) {
    EXPECT_THAT(ErrorOf(RawEif(
                    {{kKernel, ToBytes("k")}, {kCmdline, {}}, {t, ToBytes("x")}, {kRamdisk, {}}})),
                HasSubstr("section 2 at offset 573 has invalid type"))
        << t;
  }
}

TEST(EifReaderTest, SectionHeaderSizeMustMatchTheTable) {
  Bytes eif = RawEif({{kKernel, ToBytes("kk")}, {kCmdline, {}}, {kRamdisk, ToBytes("r")}});
  testutil::SetBe(eif, testutil::kSizesAt, 1, 8);  // table says 1, section header says 2
  // Keep the tiling consistent: the cmdline now starts 1 byte earlier per the table.
  testutil::FixCrc(eif);
  EXPECT_FALSE(EifReader::Parse(eif).ok());
  Bytes eif2 = RawEif({{kKernel, ToBytes("kk")}, {kCmdline, {}}, {kRamdisk, ToBytes("r")}});
  testutil::SetBe(eif2, 548 + 4, 3, 8);  // section header of the kernel says 3
  testutil::FixCrc(eif2);
  EXPECT_THAT(ErrorOf(eif2), HasSubstr("section 0 at offset 548 says size 3 but the EIF header"));
}

TEST(EifReaderTest, MissingOrMisorderedBootSectionsAreRejected) {
  const Bytes k = ToBytes("k");
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, {}}, {kCmdline, {}}, {kRamdisk, k}})),
              HasSubstr("empty kernel"));
  EXPECT_THAT(ErrorOf(RawEif({{kCmdline, {}}, {kKernel, k}, {kRamdisk, k}})),
              HasSubstr("cmdline before the kernel"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k}, {kRamdisk, k}, {kCmdline, {}}})),
              HasSubstr("ramdisk before the kernel and cmdline"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k}, {kCmdline, {}}})), HasSubstr("no ramdisk"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k}, {kMetadata, ToBytes("{}")}})), HasSubstr("no cmdline"));
  EXPECT_THAT(ErrorOf(RawEif({{kMetadata, ToBytes("{}")}})), HasSubstr("no kernel"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k}, {kKernel, k}, {kCmdline, {}}, {kRamdisk, k}})),
              HasSubstr("second kernel"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k}, {kCmdline, {}}, {kCmdline, {}}, {kRamdisk, k}})),
              HasSubstr("second cmdline"));
  EXPECT_THAT(ErrorOf(RawEif({{kKernel, k},
                              {kCmdline, {}},
                              {kMetadata, ToBytes("{}")},
                              {kMetadata, ToBytes("{}")},
                              {kRamdisk, k}})),
              HasSubstr("second metadata"));
}

TEST(EifReaderTest, MetadataMustBeAJsonObject) {
  const Bytes k = ToBytes("k");
  for (const char* bad : {"", "[1]", "{\"a\":", "\"text\""}) {
    EXPECT_THAT(
        ErrorOf(RawEif({{kKernel, k}, {kCmdline, {}}, {kMetadata, ToBytes(bad)}, {kRamdisk, k}})),
        HasSubstr("metadata section is not a JSON object"))
        << bad;
  }
}

TEST(EifReaderTest, MalformedSignatureSectionsAreRejected) {
  const Bytes k = ToBytes("k");
  // Not CBOR; an empty array; byte strings instead of serde's integer arrays; a bad cert.
  const std::vector<Bytes> bad = {
      ToBytes("not cbor"),
      {0x80},
      {0x81, 0xa2, 0x73, 's', 'i', 'g', 'n', 'i', 'n', 'g', '_',  'c',
       'e',  'r',  't',  'i', 'f', 'i', 'c', 'a', 't', 'e', 0x41, 0x00,
       0x69, 's',  'i',  'g', 'n', 'a', 't', 'u', 'r', 'e', 0x41, 0x00},
      {0x81, 0xa2, 0x73, 's', 'i', 'g', 'n', 'i', 'n', 'g', '_',  'c',
       'e',  'r',  't',  'i', 'f', 'i', 'c', 'a', 't', 'e', 0x81, 0x00,
       0x69, 's',  'i',  'g', 'n', 'a', 't', 'u', 'r', 'e', 0x81, 0x00},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    absl::StatusOr<EifImage> r = EifReader::Parse(
        RawEif({{kKernel, k}, {kCmdline, {}}, {kRamdisk, k}, {kSignature, bad[i]}}));
    EXPECT_FALSE(r.ok()) << "case " << i;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
}

TEST(EifReaderTest, SignatureOverAnotherImageDoesNotVerify) {
  Parts p;
  absl::StatusOr<EifImage> signed_img = EifReader::Parse(Build(SignedWriter(p)));
  ASSERT_TRUE(signed_img.ok()) << signed_img.status();
  ASSERT_EQ(signed_img->signature_valid, true);
  absl::StatusOr<Bytes> section = EncodeSignatureSection({*signed_img->signature});
  ASSERT_TRUE(section.ok());

  // Same signature section on an image with a different ramdisk: PCR8 stays, check fails.
  Parts other = p;
  other.ramdisks[2] = ToBytes("tampered app");
  EifWriter w = WriterFor(other);
  w.SetRawSignatureSection(*section);
  absl::StatusOr<EifImage> moved = EifReader::Parse(Build(w));
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_TRUE(moved->is_signed());
  EXPECT_EQ(moved->measurements.pcr8, signed_img->measurements.pcr8);
  EXPECT_EQ(moved->signature_valid, false);
}

TEST(EifReaderTest, OpenReportsMissingFiles) {
  absl::StatusOr<EifImage> r = EifReader::Open("/nonexistent/enclave.eif");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(EifReader::Open("/").ok());
}

}  // namespace
}  // namespace lockout::eif
