#include "src/image/local_blobs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file.h"

namespace lockout::image {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

void Write(const fs::path& path, std::string_view data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

// A fake module: some ELF-ish bytes and a .modinfo string table with depends=.
std::string Module(std::string_view depends) {
  std::string ko =
      "\x7f"
      "ELF junk";
  for (std::string_view entry : {std::string_view("license=GPL"), std::string_view("depends="),
                                 std::string_view("vermagic=6.1")}) {
    ko.push_back('\0');
    ko += entry;
    if (entry == "depends=") ko += depends;
  }
  ko.push_back('\0');
  return ko;
}

class LocalBlobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("local-blobs-" + std::to_string(getpid()));
    fs::remove_all(root_);
    Write(root_ / "kernel/boot/vmlinuz-6.1.0-9-cloud-amd64", "bzImage bytes");
    Write(root_ / "kernel/boot/config-6.1.0-9-cloud-amd64",
          "# Linux/x86 6.1.0 Kernel Configuration\n");
    const fs::path mods = root_ / "kernel/lib/modules/6.1.0-9-cloud-amd64/kernel";
    Write(mods / "drivers/virtio/virtio_ring.ko", Module(""));
    Write(mods / "drivers/virtio/virtio.ko", Module("virtio_ring"));
    Write(mods / "drivers/virtio/virtio_pci.ko", Module("virtio_ring,virtio"));
    Write(mods / "net/core/failover.ko", Module(""));
    Write(mods / "drivers/net/net_failover.ko", Module("failover"));
    Write(mods / "drivers/net/virtio_net.ko", Module("virtio_ring,virtio,net_failover"));
    Write(mods / "drivers/net/unrelated.ko", Module(""));
    Write(root_ / "init", "#!init");
  }
  void TearDown() override { fs::remove_all(root_); }

  LocalBlobsSpec Spec() {
    return {.kernel_root = (root_ / "kernel").string(),
            .init = (root_ / "init").string(),
            .output_dir = (root_ / "blobs").string()};
  }

  fs::path root_;
};

TEST_F(LocalBlobsTest, WritesTheBlobsWithModulesInDependencyOrder) {
  absl::StatusOr<LocalBlobs> blobs = WriteLocalBlobs(Spec());
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  EXPECT_EQ(blobs->kernel_release, "6.1.0-9-cloud-amd64");
  EXPECT_THAT(blobs->modules, ElementsAre("virtio_ring", "virtio", "virtio_pci", "failover",
                                          "net_failover", "virtio_net"));
  const fs::path out = root_ / "blobs";
  EXPECT_EQ(*ReadFileString((out / "bzImage").string()), "bzImage bytes");
  EXPECT_EQ(*ReadFileString((out / "init").string()), "#!init");
  const std::string cmdline = *ReadFileString((out / "cmdline").string());
  EXPECT_THAT(cmdline, HasSubstr("console=ttyS0"));
  EXPECT_THAT(cmdline, ::testing::Not(HasSubstr("pci=off")));
  EXPECT_THAT(cmdline, ::testing::Not(HasSubstr("nomodules")));
  const std::string bundle = *ReadFileString((out / "nsm.ko").string());
  EXPECT_TRUE(bundle.starts_with("070701"));
  EXPECT_LT(bundle.find("virtio_ring.ko"), bundle.find("virtio.ko"));
  EXPECT_LT(bundle.find("net_failover.ko"), bundle.find("virtio_net.ko"));
  EXPECT_EQ(bundle.find("unrelated.ko"), std::string::npos);
  EXPECT_EQ(bundle.size() % 512, 0u);
  // Same inputs, same bytes.
  ASSERT_TRUE(WriteLocalBlobs(Spec()).ok());
  EXPECT_EQ(*ReadFileString((out / "nsm.ko").string()), bundle);
}

TEST_F(LocalBlobsTest, NamesWhatIsMissing) {
  fs::remove(root_ / "kernel/lib/modules/6.1.0-9-cloud-amd64/kernel/net/core/failover.ko");
  absl::StatusOr<LocalBlobs> blobs = WriteLocalBlobs(Spec());
  ASSERT_FALSE(blobs.ok());
  EXPECT_THAT(std::string(blobs.status().message()), HasSubstr("module failover"));

  fs::remove_all(root_ / "kernel/boot");
  blobs = WriteLocalBlobs(Spec());
  ASSERT_FALSE(blobs.ok());
  EXPECT_THAT(std::string(blobs.status().message()), HasSubstr("no kernel"));
}

TEST_F(LocalBlobsTest, RefusesADependencyCycle) {
  Write(root_ / "kernel/lib/modules/6.1.0-9-cloud-amd64/kernel/drivers/virtio/virtio_ring.ko",
        Module("virtio_pci"));
  absl::StatusOr<LocalBlobs> blobs = WriteLocalBlobs(Spec());
  ASSERT_FALSE(blobs.ok());
  EXPECT_THAT(std::string(blobs.status().message()), HasSubstr("cycle"));
}

}  // namespace
}  // namespace lockout::image
