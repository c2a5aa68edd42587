#include "src/image/debian_packages.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::image {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(DebianPackagesTest, ParsesSearchOutput) {
  EXPECT_THAT(ParseDpkgSearch("libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
                              "diversion by foo from: /bin/x\n"
                              "libc6:amd64, libc6-dev:amd64: /lib64/ld-linux-x86-64.so.2\n"
                              "garbage line\n"
                              ": /no/package\n"),
              ElementsAre(Pair("/lib64/ld-linux-x86-64.so.2", "libc6:amd64"),
                          Pair("/usr/lib/x86_64-linux-gnu/libssl.so.3", "libssl3:amd64")));
}

TEST(DebianPackagesTest, ParsesVersionOutput) {
  EXPECT_THAT(ParseDpkgVersions("libc6:amd64\t2.36-9+deb12u14\nbad\n\tnoname\nnoversion\t\n"),
              ElementsAre(Pair("libc6:amd64", "2.36-9+deb12u14")));
}

TEST(DebianPackagesTest, FindsTheOwnerOfTheLoaderThroughMergedUsr) {
  if (access("/usr/bin/dpkg-query", X_OK) != 0) {
    GTEST_SKIP() << "*** no dpkg-query on this machine: package lookup not tested";
  }
  // The loader reports /lib/... for libc, which Debian 12 packages under /lib or /usr/lib.
  const std::map<std::string, DebianPackage> found =
      FindDebianPackages({"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2",
                          "/no/such/file", "/lib/x86_64-linux-gnu/libc.so.[6]"});
  ASSERT_EQ(found.count("/lib/x86_64-linux-gnu/libc.so.6"), 1u);
  EXPECT_EQ(found.at("/lib/x86_64-linux-gnu/libc.so.6").name, "libc6:amd64");
  EXPECT_FALSE(found.at("/lib/x86_64-linux-gnu/libc.so.6").version.empty());
  EXPECT_EQ(found.at("/lib64/ld-linux-x86-64.so.2").name, "libc6:amd64");
  EXPECT_EQ(found.count("/no/such/file"), 0u);
  EXPECT_EQ(found.count("/lib/x86_64-linux-gnu/libc.so.[6]"), 0u);  // glob characters
  EXPECT_TRUE(FindDebianPackages({}).empty());
}

}  // namespace
}  // namespace lockout::image
