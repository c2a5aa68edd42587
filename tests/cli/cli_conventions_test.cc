#include "src/cliutil/cli_conventions.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::cliutil {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

TEST(EditDistanceTest, CountsEditsAndAdjacentTranspositions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("sign", "sign"), 0u);
  EXPECT_EQ(EditDistance("", "sign"), 4u);
  EXPECT_EQ(EditDistance("enclve", "enclave"), 1u);  // deletion
  EXPECT_EQ(EditDistance("sing", "sign"), 1u);       // transposition
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("ca", "abc"), 3u);  // OSA, not unrestricted Damerau (2)
}

TEST(ClosestMatchTest, SuggestsOnlyNearMisses) {
  const std::vector<std::string> commands = {"sign", "verify", "doctor", "policy"};
  EXPECT_EQ(ClosestMatch("sing", commands), "sign");
  EXPECT_EQ(ClosestMatch("verfy", commands), "verify");
  EXPECT_EQ(ClosestMatch("doctr", commands), "doctor");
  EXPECT_EQ(ClosestMatch("frobnicate", commands), std::nullopt);
  EXPECT_EQ(ClosestMatch("", commands), std::nullopt);
  EXPECT_EQ(ClosestMatch("x", {}), std::nullopt);
}

TEST(ClosestMatchTest, IgnoresLeadingDashes) {
  EXPECT_EQ(ClosestMatch("--enclve", {"--message", "--enclave"}), "--enclave");
  EXPECT_EQ(ClosestMatch("-enclave", {"--message", "--enclave"}), "--enclave");
  EXPECT_EQ(ClosestMatch("--", {"--message"}), std::nullopt);
}

// An app shaped like `lockout`: required subcommand, a subcommand with a required flag and a
// nested subcommand.
class ParseTest : public ::testing::Test {
 protected:
  ParseTest() {
    app_.require_subcommand(1);
    AddVersionFlag(app_, "tool");
    CLI::App* sign = app_.add_subcommand("sign", "Sign");
    sign->add_option("--enclave", enclave_, "The enclave")->required();
    sign->add_option("--message", message_, "The message");
    CLI::App* policy = app_.add_subcommand("policy", "Policy");
    policy->require_subcommand(0, 1);
    policy->add_subcommand("lint", "Lint")->add_option("FILE", file_, "File");
    app_.add_subcommand("verify", "Verify");
  }

  // The message Parse would print, or "" when parsing succeeds.
  std::string Error(std::vector<std::string> args) {
    args.insert(args.begin(), "tool");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    try {
      app_.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return UsageErrorMessage(app_, e, "tool");
    }
    return "";
  }

  CLI::App app_{"tool"};
  std::string enclave_, message_, file_;
};

TEST_F(ParseTest, MistypedCommandIsSuggested) {
  EXPECT_EQ(Error({"sing"}), "tool: unknown command 'sing'; did you mean sign? (see tool --help)");
}

TEST_F(ParseTest, MistypedNestedCommandIsSuggestedFromItsParent) {
  EXPECT_EQ(Error({"policy", "lnt", "x.json"}),
            "tool policy: unknown command 'lnt'; did you mean lint? (see tool policy --help)");
}

TEST_F(ParseTest, MistypedRequiredFlagIsReportedAsUnknownNotMissing) {
  const std::string error = Error({"sign", "--enclve", "vsock://1:2", "--message", "m"});
  EXPECT_EQ(error,
            "tool sign: unknown option --enclve; did you mean --enclave? (see tool sign --help)");
}

TEST_F(ParseTest, FlagWithEqualsIsMatchedByName) {
  EXPECT_THAT(Error({"sign", "--enclave", "e", "--mesage=hi"}),
              HasSubstr("unknown option --mesage; did you mean --message?"));
}

TEST_F(ParseTest, FarOffWordsGetNoSuggestion) {
  const std::string error = Error({"frobnicate"});
  EXPECT_THAT(error, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(error, Not(HasSubstr("did you mean")));
}

TEST_F(ParseTest, MissingCommandListsTheCommands) {
  EXPECT_EQ(Error({}), "tool: a command is required: sign, policy, verify (see tool --help)");
}

TEST_F(ParseTest, MissingRequiredFlagNamesIt) {
  EXPECT_THAT(Error({"sign", "--message", "m"}),
              MatchesRegex("tool sign: --enclave is required.*\\(see tool sign --help\\)"));
}

TEST_F(ParseTest, ParseReturnsUsageExitForErrorsAndNothingOnSuccess) {
  std::vector<std::string> args = {"tool", "sign", "--enclave", "e"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EXPECT_EQ(Parse(app_, static_cast<int>(argv.size()), argv.data(), "tool"), std::nullopt);
  EXPECT_EQ(enclave_, "e");
}

TEST_F(ParseTest, ParseExitsTwoOnUsageError) {
  std::vector<std::string> args = {"tool", "sing"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EXPECT_EQ(Parse(app_, static_cast<int>(argv.size()), argv.data(), "tool"), kExitUsage);
}

TEST(VersionTextTest, NamesTheProgramVersionAndCommit) {
  EXPECT_THAT(VersionText("lockout-enclave"),
              MatchesRegex("lockout-enclave [0-9]+\\.[0-9]+\\.[0-9]+ "
                           "\\(commit ([0-9a-f]{40}|unknown)\\)"));
}

TEST(ExitCodeTest, TableIsStable) {
  // docs/CLI.md promises these numbers to scripts.
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitFailed, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitInconclusive, 3);
  EXPECT_EQ(kExitBreakGlass, 4);
}

TEST(ReadInputTest, ReadsAFileAndRefusesOversizedOnes) {
  const std::string path = ::testing::TempDir() + "/read_input_test.txt";
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("hello", f);
    std::fclose(f);
  }
  EXPECT_EQ(ReadInput(path, 16).value(), "hello");
  EXPECT_FALSE(ReadInput(path, 4).ok());
  EXPECT_FALSE(ReadInput(path + ".missing", 16).ok());
}

}  // namespace
}  // namespace lockout::cliutil
