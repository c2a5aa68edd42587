// Runs the built `lockout describe-eif` on the committed test images.

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/eif/eif_test_util.h"

namespace lockout::eif {
namespace {

using ::testing::HasSubstr;
using testutil::RunResult;

struct CliResult {
  int status = -1;
  std::string out;
  std::string err;
};

CliResult Lockout(const std::string& args) {
  const std::string err_path = testutil::TempPath("stderr.txt");
  RunResult r =
      testutil::Run("'" + testing::BinaryDir() + "/lockout' " + args + " 2>'" + err_path + "'");
  std::ifstream f(err_path);
  std::stringstream err;
  err << f.rdbuf();
  std::remove(err_path.c_str());
  return {r.status, r.out, err.str()};
}

std::vector<std::string> Keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

// Expected values: tests/testdata/eif/README.md (computed by independent_eif.py and openssl).
constexpr char kPcr0[] =
    "0098d2cff88a599867a2b0865e5afe46238a4218492c1ffd69e9b239c6e7b28e33921f42f0913db9ccfb45b70e2c0e"
    "02";
constexpr char kPcr1[] =
    "925b73a8ff0d6fe35854dd0ffa6dfc8656c35abab2b7446f4bbe4a001d226677d1ded014f0421928eaa82f8ddeb27d"
    "ad";
constexpr char kPcr2[] =
    "51d49661af2c98904bfbfc3a46ac6a7de776dc22e7c87689d544e27d4d7e7c81dd759f4784d5ef7a3f7a3bcb375902"
    "0e";
constexpr char kPcr8[] =
    "d1b85c63d2609901700952d40eab939743cb543ceda7aec4e4d21bc07402622579be1d64c46d6741c6acaa4feedd45"
    "d3";

TEST(DescribeEifCliTest, PrintsSignedImageMeasurementsLikeNitroCli) {
  CliResult r = Lockout("describe-eif '" + testing::TestDataPath("eif/signed.eif") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(Keys(j),
            (std::vector<std::string>{"EifVersion", "Measurements", "IsSigned", "CheckCRC",
                                      "SignatureCheck", "ImageName", "ImageVersion", "Metadata"}));
  EXPECT_EQ(j["EifVersion"], 4);
  EXPECT_EQ(j["Measurements"]["HashAlgorithm"], "Sha384 { ... }");
  EXPECT_EQ(j["Measurements"]["PCR0"], kPcr0);
  EXPECT_EQ(j["Measurements"]["PCR1"], kPcr1);
  EXPECT_EQ(j["Measurements"]["PCR2"], kPcr2);
  EXPECT_EQ(j["Measurements"]["PCR8"], kPcr8);
  EXPECT_EQ(j["IsSigned"], true);
  EXPECT_EQ(j["CheckCRC"], true);
  EXPECT_EQ(j["SignatureCheck"], true);
  EXPECT_EQ(j["ImageName"], "lockout-test");
  EXPECT_EQ(j["Metadata"]["purpose"], "lockout unit tests");
  // Pretty-printed with two-space indentation, as serde_json::to_string_pretty does.
  EXPECT_THAT(r.out, HasSubstr("{\n  \"EifVersion\": 4,\n  \"Measurements\": {\n    \"Hash"));
}

TEST(DescribeEifCliTest, UnsignedImageHasNoPcr8AndAcceptsEifPathOption) {
  CliResult r =
      Lockout("describe-eif --eif-path '" + testing::TestDataPath("eif/unsigned.eif") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["Measurements"]["PCR0"], kPcr0);
  EXPECT_FALSE(j["Measurements"].contains("PCR8"));
  EXPECT_EQ(j["IsSigned"], false);
  EXPECT_FALSE(j.contains("SignatureCheck"));
}

TEST(DescribeEifCliTest, CorruptFileExitsOneWithOneLineError) {
  Bytes eif = testing::ReadTestFile(testing::TestDataPath("eif/unsigned.eif"));
  ASSERT_GT(eif.size(), 1000u);
  eif[1000] ^= 0x40;
  const std::string path = testutil::TempPath("corrupt.eif");
  testutil::WriteBytes(path, eif);

  CliResult r = Lockout("describe-eif '" + path + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("lockout: describe-eif: invalid EIF: CRC-32 mismatch"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  CliResult lenient = Lockout("describe-eif --allow-bad-crc '" + path + "'");
  ASSERT_EQ(lenient.status, 0) << lenient.err;
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(lenient.out, nullptr, false);
  EXPECT_EQ(j["CheckCRC"], false);
  EXPECT_NE(j["Measurements"]["PCR0"], kPcr0);
  std::remove(path.c_str());

  const std::string text_path = testutil::TempPath("not-an-eif.txt");
  testutil::WriteBytes(text_path, Bytes(600, 'x'));
  CliResult not_eif = Lockout("describe-eif '" + text_path + "'");
  EXPECT_EQ(not_eif.status, 1);
  EXPECT_THAT(not_eif.err, HasSubstr("bad magic 78787878"));
  std::remove(text_path.c_str());
}

TEST(DescribeEifCliTest, MissingFileExitsOne) {
  CliResult r = Lockout("describe-eif /nonexistent/enclave.eif");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot open /nonexistent/enclave.eif"));
}

TEST(DescribeEifCliTest, HelpDescribesTheCommand) {
  CliResult r = Lockout("describe-eif --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("nitro-cli describe-eif"));
  EXPECT_THAT(r.out, HasSubstr("--allow-bad-crc"));
  CliResult missing_arg = Lockout("describe-eif");
  EXPECT_NE(missing_arg.status, 0);
}

}  // namespace
}  // namespace lockout::eif
