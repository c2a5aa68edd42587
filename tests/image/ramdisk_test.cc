#include "src/image/ramdisk.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"
#include "tests/image/image_test_util.h"
#include "tests/testing/vectors.h"

namespace lockout::image {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::CpioEntry;
using testutil::ReadNewc;

std::vector<std::string> Lines(const Bytes& file) {
  std::vector<std::string> out;
  std::string cur;
  for (uint8_t c : file) {
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(c));
    }
  }
  EXPECT_TRUE(cur.empty()) << "the file does not end in a newline";
  return out;
}

// nitro-cli's bootstrap ramdisk for the same init and nsm.ko (SOURCES.md, eif/g1-*).
TEST(RamdiskTest, BootstrapIsByteIdenticalToNitroCli) {
  LOCKOUT_VECTOR_OR_SKIP(golden_path, "eif/g1-bootstrap-ramdisk.cpio");
  LOCKOUT_VECTOR_OR_SKIP(init_path, "eif/g1-init");
  LOCKOUT_VECTOR_OR_SKIP(nsm_path, "eif/g1-nsm.ko");
  const Bytes golden = testing::ReadTestFile(golden_path);
  ASSERT_EQ(HexEncode(crypto::Sha384(golden)),
            "d3997eb0382238ac8e1d81c7bb4d7aa44a5b3ddb7bc755d856dca55c881d8754d43755e2d8e8cbb26f7e52"
            "e5b54058b7");
  absl::StatusOr<Bytes> ours =
      BootstrapRamdisk(testing::ReadTestFile(init_path), testing::ReadTestFile(nsm_path));
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(HexEncode(*ours), HexEncode(golden));
}

// nitro-cli's customer ramdisk for a FROM scratch image with /app and /etc/x.conf (mtime 0),
// Cmd ["/app","--flag"] and the image's Env (SOURCES.md, eif/g2-*).
TEST(RamdiskTest, CustomerIsByteIdenticalToNitroCliForTheSameTree) {
  LOCKOUT_VECTOR_OR_SKIP(golden_path, "eif/g2-customer-ramdisk.cpio");
  LOCKOUT_VECTOR_OR_SKIP(app_path, "eif/g2-app");
  LOCKOUT_VECTOR_OR_SKIP(conf_path, "eif/g2-x.conf");
  LOCKOUT_VECTOR_OR_SKIP(cmd_path, "eif/g2-cmd");
  LOCKOUT_VECTOR_OR_SKIP(env_path, "eif/g2-env");
  const Bytes golden = testing::ReadTestFile(golden_path);
  ASSERT_EQ(HexEncode(crypto::Sha384(golden)),
            "d64bb7aa34a8010b2befc2cdb737258ab30a2093c10c98d93c600b84473fdb5f3798533ef971a414e25cfc"
            "e65c83222c");
  RootfsTree tree;
  ASSERT_TRUE(tree.AddFile("/app", 0755, testing::ReadTestFile(app_path)).ok());
  ASSERT_TRUE(tree.AddFile("/etc/x.conf", 0644, testing::ReadTestFile(conf_path)).ok());
  const std::vector<std::string> argv = Lines(testing::ReadTestFile(cmd_path));
  const std::vector<std::string> env = Lines(testing::ReadTestFile(env_path));
  ASSERT_THAT(argv, ElementsAre("/app", "--flag"));
  absl::StatusOr<Bytes> ours = CustomerRamdisk(tree, argv, env);
  ASSERT_TRUE(ours.ok()) << ours.status();
  // Compare listings first: a difference shows up as a readable entry, not a hex offset.
  std::vector<std::string> golden_names;
  std::vector<std::string> our_names;
  for (const CpioEntry& e : ReadNewc(golden)) golden_names.push_back(e.name);
  for (const CpioEntry& e : ReadNewc(*ours)) our_names.push_back(e.name);
  EXPECT_EQ(our_names, golden_names);
  EXPECT_EQ(HexEncode(*ours), HexEncode(golden));
}

TEST(RamdiskTest, CustomerLayoutHasTheInitsDirectoriesAndCmdEnvLast) {
  RootfsTree tree;
  ASSERT_TRUE(tree.AddFile("/lockout-enclave", 0755, ToBytes("ELF")).ok());
  ASSERT_TRUE(tree.AddFile("/etc/ssl/certs/ca-certificates.crt", 0644, ToBytes("ca")).ok());
  absl::StatusOr<Bytes> r = CustomerRamdisk(tree, {"/lockout-enclave", "--x"}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<CpioEntry> e = ReadNewc(*r);
  std::vector<std::string> names;
  for (const CpioEntry& c : e) names.push_back(c.name);
  EXPECT_THAT(names,
              ElementsAre("rootfs", "rootfs/etc/", "rootfs/etc/ssl/", "rootfs/etc/ssl/certs/",
                          "rootfs/etc/ssl/certs/ca-certificates.crt", "rootfs/lockout-enclave",
                          "rootfs/dev", "rootfs/dev/pts", "rootfs/dev/shm", "rootfs/etc/hosts",
                          "rootfs/etc/mtab", "rootfs/etc/resolv.conf", "rootfs/proc", "rootfs/sys",
                          "rootfs", "rootfs/dev", "rootfs/run", "rootfs/sys", "rootfs/var",
                          "rootfs/proc", "rootfs/tmp", "cmd", "env", "TRAILER!!!"));
  EXPECT_EQ(e[5].mode, 0100755u);
  EXPECT_EQ(e[5].mtime, 0u);
  EXPECT_EQ(e[4].mode, 0100644u);
  EXPECT_EQ(e[e.size() - 3].data, "/lockout-enclave\n--x\n");
  EXPECT_EQ(e[e.size() - 2].data, "");  // always written, even when empty
  EXPECT_EQ(e[e.size() - 2].mode, 0100644u);
}

TEST(RamdiskTest, CmdAndEnvFilesAreOneItemPerLine) {
  EXPECT_EQ(*CmdFile({"/a", "b c", ""}), "/a\nb c\n\n");
  EXPECT_EQ(*EnvFile({"A=1", "B_2=x=y", "C="}), "A=1\nB_2=x=y\nC=\n");
  EXPECT_EQ(*EnvFile({}), "");
}

TEST(RamdiskTest, RefusesItemsTheInitWouldMisread) {
  EXPECT_THAT(CmdFile({}).status().message(), HasSubstr("empty"));
  EXPECT_FALSE(CmdFile({"/a", "two\nlines"}).ok());
  EXPECT_FALSE(CmdFile({std::string("nul\0", 4)}).ok());
  for (const char* bad : {"NOEQUALS", "=v", "1A=v", "A-B=v", "A B=v", "A=line\nbreak"}) {
    EXPECT_FALSE(CheckEnvItem(bad).ok()) << bad;
    EXPECT_FALSE(EnvFile({bad}).ok()) << bad;
  }
  EXPECT_TRUE(CheckEnvItem("_A1=anything goes=here").ok());
}

TEST(RamdiskTest, CustomerRamdiskNeedsEtc) {
  RootfsTree tree;
  ASSERT_TRUE(tree.AddFile("/app", 0755, ToBytes("x")).ok());
  EXPECT_THAT(CustomerRamdisk(tree, {"/app"}, {}).status().message(), HasSubstr("/etc"));
}

}  // namespace
}  // namespace lockout::image
