#include "src/image/elf_info.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file.h"

namespace lockout::image {
namespace {

using ::testing::HasSubstr;

void Put(Bytes& b, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// A minimal ELF64 executable: header + program headers (+ an interpreter string).
Bytes MakeElf(std::string_view interp, uint16_t machine = 62, int interps = 1) {
  Bytes b(64 + 56 * 2 + 64, 0);
  b[0] = 0x7f;
  b[1] = 'E';
  b[2] = 'L';
  b[3] = 'F';
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  Put(b, 16, 3, 2);  // ET_DYN
  Put(b, 18, machine, 2);
  Put(b, 32, 64, 8);  // e_phoff
  Put(b, 54, 56, 2);  // e_phentsize
  Put(b, 56, 2, 2);   // e_phnum
  Put(b, 64, 6, 4);   // PT_PHDR
  const size_t str = 64 + 56 * 2;
  for (int i = 0; i < interps; ++i) {
    const size_t ph = 64 + 56 * static_cast<size_t>(i + (interps == 2 ? 0 : 1));
    Put(b, ph, 3, 4);  // PT_INTERP
    Put(b, ph + 8, str, 8);
    Put(b, ph + 32, interp.size() + 1, 8);
  }
  std::copy(interp.begin(), interp.end(), b.begin() + static_cast<long>(str));
  return b;
}

TEST(ElfInfoTest, ReadsThisTestsOwnInterpreter) {
  absl::StatusOr<Bytes> self = ReadFile("/proc/self/exe", size_t{1} << 30);
  ASSERT_TRUE(self.ok()) << self.status();
  absl::StatusOr<ElfInfo> info = ParseElfInfo(*self);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->machine, kElfMachineX86_64);
  ASSERT_TRUE(info->interpreter.has_value());
  EXPECT_EQ(*info->interpreter, "/lib64/ld-linux-x86-64.so.2");
}

TEST(ElfInfoTest, ReadsASyntheticInterpreterAndMachine) {
  absl::StatusOr<ElfInfo> info = ParseElfInfo(MakeElf("/lib/ld-linux-aarch64.so.1", 183));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->machine, kElfMachineAarch64);
  EXPECT_EQ(info->interpreter, "/lib/ld-linux-aarch64.so.1");
}

TEST(ElfInfoTest, StaticExecutableHasNoInterpreter) {
  Bytes elf = MakeElf("/x");
  Put(elf, 64 + 56, 1, 4);  // the PT_INTERP becomes PT_LOAD
  absl::StatusOr<ElfInfo> info = ParseElfInfo(elf);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->interpreter.has_value());
}

TEST(ElfInfoTest, RefusesMalformedFiles) {
  const Bytes good = MakeElf("/lib64/ld.so");
  ASSERT_TRUE(ParseElfInfo(good).ok());
  auto with = [&](size_t at, uint64_t v, size_t n) {
    Bytes b = good;
    Put(b, at, v, n);
    return ParseElfInfo(b).status();
  };
  EXPECT_THAT(ParseElfInfo(ByteView(good).subspan(0, 63)).status().message(), HasSubstr("magic"));
  EXPECT_THAT(with(0, 0x7e, 1).message(), HasSubstr("magic"));
  EXPECT_THAT(with(4, 1, 1).message(), HasSubstr("ELFCLASS64"));
  EXPECT_THAT(with(5, 2, 1).message(), HasSubstr("little-endian"));
  EXPECT_THAT(with(16, 1, 2).message(), HasSubstr("e_type"));  // ET_REL
  EXPECT_THAT(with(54, 32, 2).message(), HasSubstr("e_phentsize"));
  EXPECT_THAT(with(32, good.size(), 8).message(), HasSubstr("past the end"));
  EXPECT_THAT(with(32, ~uint64_t{0}, 8).message(), HasSubstr("past the end"));
  EXPECT_THAT(with(56, 0xffff, 2).message(), HasSubstr("past the end"));
  const size_t interp_ph = 64 + 56;
  EXPECT_THAT(with(interp_ph + 8, good.size(), 8).message(), HasSubstr("outside"));
  EXPECT_THAT(with(interp_ph + 8, ~uint64_t{0} - 3, 8).message(), HasSubstr("outside"));
  EXPECT_THAT(with(interp_ph + 32, ~uint64_t{0}, 8).message(), HasSubstr("outside"));
  EXPECT_THAT(with(interp_ph + 32, 1, 8).message(), HasSubstr("empty"));
  EXPECT_THAT(with(interp_ph + 32, 5, 8).message(), HasSubstr("NUL-terminated"));
  EXPECT_THAT(ParseElfInfo(MakeElf("relative/ld.so")).status().message(), HasSubstr("absolute"));
  EXPECT_THAT(ParseElfInfo(MakeElf(std::string_view("/a\0b", 4))).status().message(),
              HasSubstr("NUL"));
  EXPECT_THAT(ParseElfInfo(MakeElf("/lib64/ld.so", 62, 2)).status().message(),
              HasSubstr("more than one"));
}

}  // namespace
}  // namespace lockout::image
