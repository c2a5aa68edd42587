#include "src/measure/proc_text.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace lockout::measure {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr char kMaps[] =
    "55d0c0a00000-55d0c0a02000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
    "55d0c0a02000-55d0c0a07000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
    "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
    "7f1000000000-7f1000001000 r-xp 00000000 00:05 1234                       /my dir/lib (x).so "
    "(deleted)\n"
    "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                                  [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST(ParseMapsTest, ReadsEveryFieldIncludingPathsWithSpaces) {
  absl::StatusOr<std::vector<Mapping>> maps = ParseMaps(kMaps);
  ASSERT_TRUE(maps.ok()) << maps.status();
  ASSERT_EQ(maps->size(), 6u);
  const Mapping& code = (*maps)[1];
  EXPECT_EQ(code.start, 0x55d0c0a02000u);
  EXPECT_EQ(code.end, 0x55d0c0a07000u);
  EXPECT_TRUE(code.readable);
  EXPECT_FALSE(code.writable);
  EXPECT_TRUE(code.executable);
  EXPECT_FALSE(code.shared);
  EXPECT_EQ(code.offset, 0x2000u);
  EXPECT_EQ(code.dev_major, 0xfeu);
  EXPECT_EQ(code.dev_minor, 0u);
  EXPECT_EQ(code.inode, 247134u);
  EXPECT_EQ(code.path, "/usr/bin/cat");
  EXPECT_FALSE(code.anonymous_kb.has_value());
  EXPECT_EQ((*maps)[2].path, "");
  EXPECT_EQ((*maps)[2].inode, 0u);
  EXPECT_EQ((*maps)[3].path, "/my dir/lib (x).so (deleted)");
  EXPECT_EQ((*maps)[4].path, "[vdso]");
  EXPECT_EQ((*maps)[5].start, 0xffffffffff600000u);
}

TEST(ParseMapsTest, ReadsAnonymousFromSmapsAndSkipsOtherFields) {
  const std::string smaps =
      "55d0c0a02000-55d0c0a07000 r-xp 00002000 fe:00 247134 /usr/bin/cat\n"
      "Size:                 20 kB\n"
      "Anonymous:             8 kB\n"
      "VmFlags: rd ex mr mw me dw\n"
      "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
      "Anonymous:           132 kB\n"
      "THPeligible:    0\n";
  absl::StatusOr<std::vector<Mapping>> maps = ParseMaps(smaps);
  ASSERT_TRUE(maps.ok()) << maps.status();
  ASSERT_EQ(maps->size(), 2u);
  EXPECT_EQ((*maps)[0].anonymous_kb, 8u);
  EXPECT_EQ((*maps)[1].anonymous_kb, 132u);
}

TEST(ParseMapsTest, ParsesThisProcesssOwnMapsAndSmaps) {
  for (const char* file : {"/proc/self/maps", "/proc/self/smaps"}) {
    absl::StatusOr<std::vector<Mapping>> maps = ParseMaps(Slurp(file));
    ASSERT_TRUE(maps.ok()) << file << ": " << maps.status();
    EXPECT_GT(maps->size(), 5u) << file;
  }
}

TEST(ParseMapsTest, EmptyTextIsNoMappings) {
  absl::StatusOr<std::vector<Mapping>> maps = ParseMaps("");
  ASSERT_TRUE(maps.ok());
  EXPECT_TRUE(maps->empty());
}

TEST(ParseMapsTest, TruncatedTextIsRefused) {
  const std::string whole(kMaps);
  // Every cut that ends inside a line (not right after a newline) is truncation.
  for (size_t n = 1; n < whole.size(); ++n) {
    if (whole[n - 1] == '\n') continue;
    EXPECT_EQ(ParseMaps(whole.substr(0, n)).status().code(), absl::StatusCode::kInvalidArgument)
        << "cut at " << n;
  }
}

TEST(ParseMapsTest, OddLinesAreRefused) {
  const char* bad[] = {
      "Anonymous: 4 kB\n",                                       // a field before any mapping
      "55d0-55d1 r-xp 00000000 fe:00 1 /a\nnot a field line\n",  // junk after a mapping
      "55d0-55d1 r-xp 00000000 fe:00 1 /a\nAnonymous: 4 MB\n",   // wrong unit
      "55d0-55d1 r-xp 00000000 fe:00 1 /a\nAnonymous: 4 kB\nAnonymous: 4 kB\n",  // repeated
      "55d0-55d1 r-xp 00000000 fe:00 1 /a\nAnonymous: -4 kB\n",
      "55d1-55d0 r-xp 00000000 fe:00 1 /a\n",               // end before start
      "55D0-55D1 r-xp 00000000 fe:00 1 /a\n",               // upper-case hex is not the kernel's
      "55d0-55d1 r-x 00000000 fe:00 1 /a\n",                // three permission letters
      "55d0-55d1 rwxq 00000000 fe:00 1 /a\n",               // neither p nor s
      "55d0-55d1 xr-p 00000000 fe:00 1 /a\n",               // letters out of place
      "55d0-55d1 r-xp 0000zz00 fe:00 1 /a\n",               // offset not hex
      "55d0-55d1 r-xp 00000000 fe00 1 /a\n",                // device without ':'
      "55d0-55d1 r-xp 00000000 fe:00 x1 /a\n",              // inode not decimal
      "55d0-55d1 r-xp 00000000 fe:00 1\n",                  // inode without a path
      "55d0-55d1 r-xp 00000000 fe:00 0 relative/path\n",    // neither a path nor a pseudo name
      "55d0-55d1 r-xp 00000000 fe:00 1 [vdso]\n",           // inode with a pseudo name
      "12345678901234567-55d1 r-xp 00000000 fe:00 1 /a\n",  // 17 hex digits
      "55d0-55d1  r-xp 00000000 fe:00 1 /a\n",              // a doubled separator
      "55d0-55d1 r-xp 00000000 100000000:00 1 /a\n",        // device major over 32 bits
      "\n",                                                 // an empty line
  };
  for (const char* text : bad) {
    EXPECT_EQ(ParseMaps(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseMapsTest, TooManyMappingsAreResourceExhausted) {
  std::string text;
  const std::string line = "1000-2000 r--p 00000000 00:00 0 \n";
  text.reserve(line.size() * (kMaxMappings + 1));
  for (size_t i = 0; i <= kMaxMappings; ++i) text += line;
  EXPECT_EQ(ParseMaps(text).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ParseEnvironTest, SplitsOnNulAndDropsEmptyEntries) {
  constexpr char kEnv[] = "A=1\0LD_PRELOAD=/x.so\0\0\0NOEQUALS\0=v\0";
  const std::string env(kEnv, sizeof(kEnv) - 1);
  EXPECT_EQ(ParseEnviron(env),
            (std::vector<std::string>{"A=1", "LD_PRELOAD=/x.so", "NOEQUALS", "=v"}));
}

TEST(ParseEnvironTest, KeepsALastEntryWithoutItsNulAndAcceptsAnyBytes) {
  constexpr char kEnv[] = "A=\xff\x01\0LD_AUDIT=/a";
  EXPECT_EQ(ParseEnviron(std::string(kEnv, sizeof(kEnv) - 1)),
            (std::vector<std::string>{"A=\xff\x01", "LD_AUDIT=/a"}));
  EXPECT_TRUE(ParseEnviron("").empty());
  EXPECT_TRUE(ParseEnviron(std::string(64, '\0')).empty());  // a fully zeroed environment
}

TEST(ParseTracerPidTest, ReadsTheFieldAndThisProcessIsNotTraced) {
  EXPECT_EQ(*ParseTracerPid("Name:\tx\nTracerPid:\t4242\nUid:\t1 1 1 1\n"), 4242);
  absl::StatusOr<pid_t> self = ParseTracerPid(Slurp("/proc/self/status"));
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(*self, 0);
}

TEST(ParseTracerPidTest, MissingRepeatedOrOddValuesAreRefused) {
  const char* bad[] = {
      "Name:\tx\n",                             // missing
      "TracerPid:\t0\nTracerPid:\t0\n",         // repeated
      "TracerPid:\t-1\n",                       // negative
      "TracerPid:\t12ab\n",                     // not decimal
      "TracerPid:\t\n",                         // empty
      "TracerPid:\t99999999999999999999999\n",  // overflows
      "TracerPid:\t4294967296\n",               // over pid_t
      "TracerPid:\t0",                          // truncated (no newline)
  };
  for (const char* text : bad) {
    EXPECT_EQ(ParseTracerPid(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseStartTimeTest, CountsFieldsAfterTheLastParenthesis) {
  // A command name with spaces and parentheses, as a process may choose (prctl PR_SET_NAME).
  std::string stat = "123 (a) b (c) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 ";
  stat += "987654 12345 67 18446744073709551615\n";
  absl::StatusOr<uint64_t> start = ParseStartTime(stat);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, 987654u);
  EXPECT_TRUE(ParseStartTime(Slurp("/proc/self/stat")).ok());
}

TEST(ParseStartTimeTest, OddLinesAreRefused) {
  const char* bad[] = {
      "",
      "123 (x) S 1 2 3\n",                                                     // too few fields
      "123 x S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654\n",    // no parentheses
      "123 (x)S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654\n",   // no space after
      "123 (x) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98x654\n",  // not a number
      "123 (x) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654",    // truncated
      "123 (x) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 9\n\n",     // two lines
      "123 (x) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0  9\n",      // empty field
  };
  for (const char* text : bad) {
    EXPECT_EQ(ParseStartTime(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace lockout::measure
