#include "src/image/shared_libraries.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::image {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kInterp[] = "/lib64/ld-linux-x86-64.so.2";

TEST(SharedLibrariesTest, ParsesTheLoadersListing) {
  absl::StatusOr<std::vector<SharedLibrary>> libs = ParseLoaderList(
      "\tlinux-vdso.so.1 (0x00007ffd3a1f2000)\n"
      "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f4e65357000)\n"
      "\t/opt/abs/libx.so (0x00007f4e65300000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f4e6381e000)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f4e69f9e000)\n",
      kInterp);
  ASSERT_TRUE(libs.ok()) << libs.status();
  ASSERT_EQ(libs->size(), 3u);
  EXPECT_EQ((*libs)[0].name, "libssl.so.3");
  EXPECT_EQ((*libs)[0].path, "/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_EQ((*libs)[1].path, "/opt/abs/libx.so");
  EXPECT_EQ((*libs)[2].name, "libc.so.6");
}

TEST(SharedLibrariesTest, MissingLibraryIsNotFoundAndNamed) {
  absl::StatusOr<std::vector<SharedLibrary>> libs =
      ParseLoaderList("\tlibgone.so.1 => not found\n", kInterp);
  EXPECT_EQ(libs.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(libs.status().message(), HasSubstr("libgone.so.1"));
  EXPECT_THAT(libs.status().message(), HasSubstr("ld.so.cache"));
}

TEST(SharedLibrariesTest, RefusesOutputItDoesNotUnderstand) {
  for (const char* bad :
       {"\tlibx.so => /lib/libx.so\n", "\tgarbage\n", "\tlibx.so => relative/libx.so (0x1)\n",
        "\t => /lib/x.so (0x1)\n", "\trelative/x.so (0x1)\n"}) {
    EXPECT_EQ(ParseLoaderList(bad, kInterp).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_TRUE(ParseLoaderList("", kInterp).ok());
}

std::string SelfPath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(SharedLibrariesTest, AsksTheRealLoaderAboutThisTest) {
  // Not /proc/self/exe: in the child that names the loader itself.
  absl::StatusOr<std::vector<SharedLibrary>> libs = ResolveSharedLibraries(SelfPath(), kInterp);
  ASSERT_TRUE(libs.ok()) << libs.status();
  EXPECT_THAT(*libs, Contains(Field(&SharedLibrary::name, "libc.so.6")));
  EXPECT_THAT(*libs, Not(Contains(Field(&SharedLibrary::path, kInterp))));
  for (const SharedLibrary& lib : *libs) EXPECT_EQ(lib.path.front(), '/') << lib.path;
}

TEST(SharedLibrariesTest, ReportsAMissingLoaderOrAFailingListing) {
  EXPECT_EQ(ResolveSharedLibraries(SelfPath(), "/nonexistent/ld.so").status().code(),
            absl::StatusCode::kNotFound);
  // The loader refuses a file that is not an ELF object.
  absl::StatusOr<std::vector<SharedLibrary>> r = ResolveSharedLibraries("/etc/hostname", kInterp);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
}

}  // namespace
}  // namespace lockout::image
