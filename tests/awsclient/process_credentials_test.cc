#include "src/awsclient/process_credentials.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "tests/testing/temp_dir.h"

namespace lockout::awsclient {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Split(std::string_view s) {
  absl::StatusOr<std::vector<std::string>> v = SplitCommandLine(s);
  EXPECT_TRUE(v.ok()) << s << ": " << v.status();
  return v.ok() ? *v : std::vector<std::string>{};
}

TEST(SplitCommandLineTest, SplitsLikePythonShlexPosix) {
  EXPECT_THAT(Split("  /usr/bin/helper   --profile  dev "),
              ElementsAre("/usr/bin/helper", "--profile", "dev"));
  EXPECT_THAT(Split("a 'b c' \"d e\" f\\ g"), ElementsAre("a", "b c", "d e", "f g"));
  EXPECT_THAT(Split(R"(x "a \"q\" \\ \$HOME" 'it''s')"),
              ElementsAre("x", R"(a "q" \ \$HOME)", "its"));
  EXPECT_THAT(Split("x '' \"\""), ElementsAre("x", "", ""));
  EXPECT_THAT(Split("a'b'\"c\"d"), ElementsAre("abcd"));
  // Nothing a shell would interpret is special.
  EXPECT_THAT(Split("echo $(id); rm -rf ~ | cat > f &"),
              ElementsAre("echo", "$(id);", "rm", "-rf", "~", "|", "cat", ">", "f", "&"));
}

TEST(SplitCommandLineTest, RefusesUnterminatedQuotesTrailingBackslashAndEmpty) {
  EXPECT_THAT(SplitCommandLine("a 'b").status().ToString(), HasSubstr("unterminated ' quote"));
  EXPECT_THAT(SplitCommandLine("a \"b").status().ToString(), HasSubstr("unterminated \" quote"));
  EXPECT_THAT(SplitCommandLine("a \\").status().ToString(), HasSubstr("backslash"));
  EXPECT_THAT(SplitCommandLine("   ").status().ToString(), HasSubstr("empty"));
}

TEST(ParseProcessCredentialsTest, AcceptsVersion1WithAndWithoutExpiry) {
  absl::StatusOr<RoleCredentials> c = ParseProcessCredentials(
      R"({"Version": 1, "AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr\u0065t",
          "SessionToken": "tok", "Expiration": "2030-01-02T03:04:05Z"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "ASIAX");
  EXPECT_EQ(c->secret_access_key.RevealAsString(), "s3cret");
  EXPECT_EQ(c->session_token.RevealAsString(), "tok");
  EXPECT_EQ(c->expiration, *ParseRfc3339("2030-01-02T03:04:05Z"));
  c = ParseProcessCredentials(R"({"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"s"})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->session_token.empty());
  EXPECT_EQ(c->expiration, absl::InfiniteFuture());
}

TEST(ParseProcessCredentialsTest, RefusesGarbageNamingTheFieldNeverTheValue) {
  struct Case {
    const char* output;
    const char* error;
  };
  const Case cases[] = {
      {"SECRETVALUE", "not JSON"},
      {"", "not JSON"},
      {"[\"SECRETVALUE\"]", "not a JSON object"},
      {R"({"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE"})", "Version is missing"},
      {R"({"Version":2,"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE"})", "Version is not 1"},
      {R"({"Version":"1","AccessKeyId":"A","SecretAccessKey":"SECRETVALUE"})", "Version is not 1"},
      {R"({"Version":1.0,"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE"})", "Version is not 1"},
      {R"({"Version":1,"SecretAccessKey":"SECRETVALUE"})", "AccessKeyId is missing"},
      {R"({"Version":1,"AccessKeyId":"A"})", "SecretAccessKey is missing"},
      {R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":""})",
       "SecretAccessKey is not a non-empty string"},
      {R"({"Version":1,"AccessKeyId":7,"SecretAccessKey":"SECRETVALUE"})",
       "AccessKeyId is not a non-empty string"},
      {R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE","SessionToken":[]})",
       "SessionToken is not a non-empty string"},
      {R"({"Version":1,"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE","Expiration":"soon"})",
       "Expiration is not an RFC 3339 timestamp"},
      {R"({"Version":1,"Version":1,"AccessKeyId":"A","SecretAccessKey":"SECRETVALUE"})",
       "not JSON"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RoleCredentials> r = ParseProcessCredentials(c.output);
    ASSERT_FALSE(r.ok()) << c.output;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().ToString(), HasSubstr(c.error)) << c.output;
    EXPECT_THAT(r.status().ToString(), Not(HasSubstr("SECRETVALUE")));
  }
}

constexpr char kGood[] =
    R"({"Version": 1, "AccessKeyId": "AKIAPROC", "SecretAccessKey": "procsecret"})";

TEST(RunCredentialProcessTest, RunsTheCommandWithoutAShell) {
  testing::TempDir dir;
  const std::string args = dir.path() + "/args";
  // The program sees exactly the split argv; its stdout is the document.
  absl::StatusOr<RoleCredentials> c = RunCredentialProcess(
      absl::StrCat("/bin/sh -c 'printf \"%s|\" \"$@\" > ", args, "; printf %s \"$0\"' '", kGood,
                   "' \"two words\" $(touch ", dir.path(), "/pwned)"),
      "test");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_key_id, "AKIAPROC");
  EXPECT_EQ(c->secret_access_key.RevealAsString(), "procsecret");
  absl::StatusOr<std::string> seen = [&]() -> absl::StatusOr<std::string> {
    FILE* f = fopen(args.c_str(), "r");
    if (f == nullptr) return absl::NotFoundError("no args file");
    char buf[256] = {};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    return std::string(buf, n);
  }();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, absl::StrCat("two words|$(touch|", dir.path(), "/pwned)|"));
  EXPECT_NE(access((dir.path() + "/pwned").c_str(), F_OK), 0);
}

TEST(RunCredentialProcessTest, FailuresSayWhatHappenedAndNeverQuoteTheOutput) {
  absl::StatusOr<RoleCredentials> r =
      RunCredentialProcess("/bin/sh -c 'echo SECRETVALUE; exit 3'", "credential_process of x");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), HasSubstr("credential_process of x"));
  EXPECT_THAT(r.status().ToString(), HasSubstr("exited with status 3"));
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr("SECRETVALUE")));

  r = RunCredentialProcess("/bin/sh -c 'echo SECRETVALUE is not json'", "p");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), HasSubstr("not JSON"));
  EXPECT_THAT(r.status().ToString(), HasSubstr("bytes of output"));
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr("SECRETVALUE")));

  r = RunCredentialProcess("/no/such/helper --x", "p");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), HasSubstr("cannot run \"/no/such/helper\""));
  EXPECT_THAT(r.status().ToString(), HasSubstr("without a shell"));

  r = RunCredentialProcess("/bin/sh -c 'kill -9 $$'", "p");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), HasSubstr("killed by signal 9"));
}

TEST(RunCredentialProcessTest, OutputSizeAndTimeAreBounded) {
  ProcessCredentialsOptions options;
  options.max_output_bytes = 1000;
  options.timeout = absl::Seconds(20);
  absl::Time start = absl::Now();
  absl::StatusOr<RoleCredentials> r =
      RunCredentialProcess("/bin/sh -c 'yes SECRETVALUE'", "p", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().ToString(), HasSubstr("more than 1000 bytes"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  options.timeout = absl::Milliseconds(300);
  start = absl::Now();
  r = RunCredentialProcess("/bin/sleep 30", "p", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().ToString(), HasSubstr("killed"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  // Closing stdout and lingering is bounded too.
  start = absl::Now();
  r = RunCredentialProcess("/bin/sh -c 'exec >&-; sleep 30'", "p", options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace lockout::awsclient
