#include "src/image/command_runner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::image {
namespace {

using ::testing::HasSubstr;

TEST(CommandRunnerTest, CapturesOutputAndExitCode) {
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
}

TEST(CommandRunnerTest, ChildGetsExactlyTheGivenEnvironmentAndNoStdin) {
  setenv("LOCKOUT_RUNNER_LEAK", "leaked", 1);
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "echo \"[$LOCKOUT_RUNNER_LEAK][$ONLY]\"; cat"}, {"ONLY=1"});
  unsetenv("LOCKOUT_RUNNER_LEAK");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "[][1]\n");
  EXPECT_EQ(r->exit_code, 0);
}

TEST(CommandRunnerTest, MissingProgramIsNotFound) {
  EXPECT_EQ(RunCommand({"lockout-no-such-program"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RunCommand({"/no/such/program"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(RunCommand({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CommandRunnerTest, TooMuchOutputKillsTheChild) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"sh", "-c", "while :; do echo aaaaaaaaaaaaaaaa; done"}, {}, 4096);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("4096"));
}

TEST(CommandRunnerTest, SignalledChildReports128PlusSignal) {
  absl::StatusOr<CommandResult> r = RunCommand({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 128 + 9);
}

}  // namespace
}  // namespace lockout::image
