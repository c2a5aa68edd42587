#include "src/operator/measurement.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "tests/testing/vectors.h"

namespace lockout::ops {
namespace {

Pcr0Source Source(std::string pcr0, std::string eif, std::string binary) {
  Pcr0Source s;
  s.pcr0_hex = std::move(pcr0);
  s.eif_path = std::move(eif);
  s.enclave_binary_path = std::move(binary);
  return s;
}

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(MeasurementTest, EnclaveBinaryPcr0IsExtendOfZeroWithTheFileHash) {
  // Computed independently: python3 -c 'import hashlib; h=hashlib.sha384;
  //   print(h(bytes(48) + h(b"hello enclave").digest()).hexdigest())'
  const std::string path = WriteTemp("op-binary", "hello enclave");
  auto pcr0 = Pcr0OfEnclaveBinary(path);
  ASSERT_TRUE(pcr0.ok()) << pcr0.status();
  const crypto::Sha384Digest file_hash = crypto::Sha384(AsBytes("hello enclave"));
  Bytes extend(48, 0);
  extend.insert(extend.end(), file_hash.begin(), file_hash.end());
  EXPECT_EQ(HexEncode(*pcr0), HexEncode(crypto::Sha384(extend)));
}

TEST(MeasurementTest, EnclaveBinaryPcr0MatchesAPythonComputation) {
  const std::string path = WriteTemp("op-binary2", std::string(3 << 20, 'x'));  // > one chunk
  auto pcr0 = Pcr0OfEnclaveBinary(path);
  ASSERT_TRUE(pcr0.ok());
  const std::string cmd =
      "python3 -c 'import hashlib,sys; h=hashlib.sha384; "
      "print(h(bytes(48)+h(open(sys.argv[1],\"rb\").read()).digest()).hexdigest())' " +
      path;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[200] = {};
  ASSERT_NE(fgets(buf, sizeof(buf), p), nullptr);
  pclose(p);
  EXPECT_EQ(HexEncode(*pcr0) + "\n", std::string(buf));
}

TEST(MeasurementTest, OneByteMoreGivesADifferentPcr0) {
  auto a = Pcr0OfEnclaveBinary(WriteTemp("op-a", "binary"));
  auto b = Pcr0OfEnclaveBinary(WriteTemp("op-b", std::string("binary\0", 7)));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(MeasurementTest, MissingBinaryIsNotFoundNamingThePath) {
  auto r = Pcr0OfEnclaveBinary("/nonexistent/lockout-enclave");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("/nonexistent/lockout-enclave"));
}

TEST(MeasurementTest, Pcr3OfRoleIsExtendOfTheArn) {
  const std::string arn = "arn:aws:iam::123456789012:role/lockout-instance";
  Bytes extend(48, 0);
  extend.insert(extend.end(), arn.begin(), arn.end());
  EXPECT_EQ(Pcr3OfRole(arn), crypto::Sha384(extend));
}

TEST(MeasurementTest, ParsePcrHexAcceptsCaseAndPrefixAndRejectsWrongSizes) {
  const std::string hex(96, 'A');
  EXPECT_TRUE(ParsePcrHex(hex, "--pcr0").ok());
  EXPECT_TRUE(ParsePcrHex("0x" + std::string(96, 'b'), "--pcr0").ok());
  auto short_hex = ParsePcrHex(std::string(64, 'a'), "--pcr8");
  ASSERT_FALSE(short_hex.ok());
  EXPECT_THAT(std::string(short_hex.status().message()), ::testing::HasSubstr("--pcr8"));
  EXPECT_THAT(std::string(short_hex.status().message()), ::testing::HasSubstr("32 bytes"));
  EXPECT_FALSE(ParsePcrHex(std::string(95, 'a'), "x").ok());
  EXPECT_FALSE(ParsePcrHex(std::string(96, 'g'), "x").ok());
  EXPECT_FALSE(ParsePcrHex("", "x").ok());
}

TEST(MeasurementTest, ResolvePcr0WantsExactlyOneSource) {
  EXPECT_FALSE(ResolvePcr0({}).ok());
  EXPECT_FALSE(ResolvePcr0(Source(std::string(96, 'a'), "x.eif", "")).ok());
  auto r = ResolvePcr0(Source(std::string(96, 'a'), "", ""));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(HexEncode(*r), std::string(96, 'a'));
  const std::string path = WriteTemp("op-c", "c");
  EXPECT_EQ(*ResolvePcr0(Source("", "", path)), *Pcr0OfEnclaveBinary(path));
}

TEST(MeasurementTest, EifPcr0ComesFromTheEifReader) {
  // tests/testdata/eif/README.md: PCR0 computed by an independent Python EIF implementation.
  auto pcr0 = Pcr0OfEif(lockout::testing::TestDataPath("eif/unsigned.eif"));
  ASSERT_TRUE(pcr0.ok()) << pcr0.status();
  EXPECT_EQ(HexEncode(*pcr0),
            "0098d2cff88a599867a2b0865e5afe46238a4218492c1ffd69e9b239c6e7b28e"
            "33921f42f0913db9ccfb45b70e2c0e02");
  auto via_resolve = ResolvePcr0(Source("", lockout::testing::TestDataPath("eif/signed.eif"), ""));
  ASSERT_TRUE(via_resolve.ok());
  EXPECT_EQ(*via_resolve, *pcr0);
  EXPECT_FALSE(Pcr0OfEif(WriteTemp("op-not-eif", "not an eif")).ok());
}

}  // namespace
}  // namespace lockout::ops
