#include "src/awsclient/ini_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::awsclient {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IniFileTest, ParsesSectionsKeysCommentsAndContinuations) {
  absl::StatusOr<IniFile> ini = IniFile::Parse(
      "# a comment\n"
      "; another\n"
      "[default]\r\n"
      "region = eu-west-1\r\n"
      "  [ profile dev ]   # trailing comment\n"
      "AWS_Access_Key_ID=AKIAEXAMPLE\n"
      "aws_secret_access_key =  abc=def  \n"
      "\n"
      "s3 =\n"
      "  max_concurrent_requests = 20\n"
      "\tmax_queue_size = 1000\n"
      "empty =\n");
  ASSERT_TRUE(ini.ok()) << ini.status();
  ASSERT_NE(ini->Find("default"), nullptr);
  EXPECT_EQ(ini->Find("default")->at("region"), "eu-west-1");
  const IniFile::Section* dev = ini->Find("profile dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->at("aws_access_key_id"), "AKIAEXAMPLE");  // keys are lower-cased
  EXPECT_EQ(dev->at("aws_secret_access_key"), "abc=def");  // split at the first '='
  EXPECT_EQ(dev->at("s3"), "\nmax_concurrent_requests = 20\nmax_queue_size = 1000");
  EXPECT_EQ(dev->at("empty"), "");
  EXPECT_EQ(ini->Find("dev"), nullptr);
  EXPECT_EQ(ini->sections().size(), 2u);
}

TEST(IniFileTest, RepeatedSectionsMergeAndTheLastValueWins) {
  absl::StatusOr<IniFile> ini = IniFile::Parse("[a]\nx = 1\ny = 2\n[b]\nx = 3\n[a]\nx = 4\n");
  ASSERT_TRUE(ini.ok()) << ini.status();
  EXPECT_EQ(ini->Find("a")->at("x"), "4");
  EXPECT_EQ(ini->Find("a")->at("y"), "2");
  EXPECT_EQ(ini->Find("b")->at("x"), "3");
}

TEST(IniFileTest, AnEmptyFileHasNoSections) {
  absl::StatusOr<IniFile> ini = IniFile::Parse("");
  ASSERT_TRUE(ini.ok());
  EXPECT_TRUE(ini->sections().empty());
  ini = IniFile::Parse("\n\n# only comments\n   \n");
  ASSERT_TRUE(ini.ok());
  EXPECT_TRUE(ini->sections().empty());
}

TEST(IniFileTest, MalformedLinesAreRefusedByLineNumberWithoutTheirText) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"key = SECRETVALUE\n", "line 1: setting before any [section]"},
      {"[a]\nSECRETVALUE\n", "line 2: expected \"[section]\" or \"key = value\""},
      {"[a\nx = 1\n", "line 1: section without ']'"},
      {"[]\n", "line 1: empty section name"},
      {"[  ]\n", "line 1: empty section name"},
      {"[a] SECRETVALUE\n", "line 1: text after a section's ']'"},
      {"[a]\n= SECRETVALUE\n", "line 2: empty key"},
      {"  continued SECRETVALUE\n[a]\n", "line 1: indented line continues no setting"},
      {"[a]\nx = 1\n[b]\n  SECRETVALUE\n", "line 4: indented line continues no setting"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<IniFile> ini = IniFile::Parse(c.text);
    ASSERT_FALSE(ini.ok()) << c.text;
    EXPECT_EQ(ini.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ini.status().ToString(), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(ini.status().ToString(), Not(HasSubstr("SECRETVALUE")));
  }
}

TEST(IniFileTest, NulBytesAndOversizedFilesAreRefused) {
  const std::string with_nul("[a]\nx = 1\0\n", 11);
  EXPECT_THAT(IniFile::Parse(with_nul).status().ToString(), HasSubstr("NUL"));
  std::string big = "[a]\n";
  big += std::string(kMaxIniBytes, '#');
  EXPECT_THAT(IniFile::Parse(big).status().ToString(), HasSubstr("larger than"));
}

}  // namespace
}  // namespace lockout::awsclient
