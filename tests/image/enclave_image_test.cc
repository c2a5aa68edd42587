#include "src/image/enclave_image.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"
#include "src/eif/eif_reader.h"
#include "src/image/ramdisk.h"
#include "tests/eif/eif_test_util.h"
#include "tests/image/image_test_util.h"
#include "tests/testing/temp_dir.h"

namespace lockout::image {
namespace {

using ::testing::HasSubstr;

// A small dynamically linked executable from the base system stands in for lockout-enclave.
constexpr char kStandInBinary[] = "/usr/bin/true";

class EnclaveImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testutil::WriteFakeBlobs(blobs());
    testutil::WriteTestFile(ca(), "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n");
  }
  std::string blobs() const { return dir_.path() + "/blobs"; }
  std::string ca() const { return dir_.path() + "/ca.crt"; }
  EnclaveImageSpec Spec() const {
    return EnclaveImageSpec{.blobs_dir = blobs(),
                            .enclave_binary = kStandInBinary,
                            .ca_bundle = ca(),
                            .argv = {"/lockout-enclave", "--listen", "vsock://ANY:5010"},
                            .env = {"AWS_REGION=eu-west-1"}};
  }
  testing::TempDir dir_;
};

// Copies `from` to `to` with the given mode and modification time.
void CopyAs(const std::string& from, const std::string& to, mode_t mode, time_t mtime) {
  std::filesystem::copy_file(from, to);
  chmod(to.c_str(), mode);
  const struct timeval times[2] = {{mtime, 0}, {mtime, 0}};
  utimes(to.c_str(), times);
}

TEST_F(EnclaveImageTest, SameInputsInDifferentPlacesGiveTheSameBytes) {
  // Two "checkouts": different directories, file modes and times for the same contents.
  testing::TempDir a("lockout-eif-a");
  testing::TempDir b("lockout-eif-bb");
  std::vector<EnclaveImageSpec> specs;
  int n = 0;
  for (const std::string& root : {a.path(), b.path()}) {
    const mode_t mode = n == 0 ? 0700 : 0755;
    const time_t mtime = n == 0 ? 1000000000 : 1700000000;
    mkdir((root + "/blobs").c_str(), 0700);
    for (const char* f : {"bzImage", "cmdline", "init", "nsm.ko"}) {
      CopyAs(blobs() + "/" + f, root + "/blobs/" + f, mode, mtime);
    }
    CopyAs(kStandInBinary, root + "/lockout-enclave", mode, mtime);
    CopyAs(ca(), root + "/ca.crt", mode, mtime);
    EnclaveImageSpec spec = Spec();
    spec.blobs_dir = root + "/blobs";
    spec.enclave_binary = root + "/lockout-enclave";
    spec.ca_bundle = root + "/ca.crt";
    specs.push_back(spec);
    ++n;
  }
  absl::StatusOr<EnclaveImage> first = BuildEnclaveImage(specs[0]);
  absl::StatusOr<EnclaveImage> second = BuildEnclaveImage(specs[1]);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->eif.size(), second->eif.size());
  EXPECT_TRUE(first->eif == second->eif) << "the EIF depends on where or when its inputs were";
  EXPECT_EQ(first->measurements, second->measurements);
  EXPECT_EQ(first->metadata_json.find(a.path()), std::string::npos);
}

TEST_F(EnclaveImageTest, MeasurementsAreWhatTheReaderAndAnIndependentHashSee) {
  absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  absl::StatusOr<eif::EifImage> read = eif::EifReader::Parse(image->eif);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->crc_ok);
  EXPECT_EQ(read->measurements, image->measurements);
  EXPECT_FALSE(read->is_signed());
  // PCR1 = kernel ‖ trimmed cmdline ‖ bootstrap ramdisk, whatever the customer ramdisk holds.
  const Bytes kernel = testing::ReadTestFile(blobs() + "/bzImage");
  std::string cmdline = testutil::kAwsCmdline;
  cmdline.pop_back();
  absl::StatusOr<Bytes> bootstrap = BootstrapRamdisk(ToBytes("#!init\n"), ToBytes("nsm\n"));
  ASSERT_TRUE(bootstrap.ok());
  EXPECT_EQ(eif::PcrHex(image->measurements.pcr1),
            eif::testutil::IndependentPcrHex({kernel, AsBytes(cmdline), *bootstrap}));
  EXPECT_EQ(image->bootstrap_ramdisk_size, bootstrap->size());
}

TEST_F(EnclaveImageTest, RootfsHoldsTheBinaryItsLoaderLibrariesAndCaBundle) {
  absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(image->rootfs.HasFile("/lockout-enclave"));
  EXPECT_TRUE(image->rootfs.HasFile("/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(image->rootfs.HasFile("/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(image->rootfs.HasFile("/etc/ssl/certs/ca-certificates.crt"));
  // /usr/bin/true needs libc alone: the binary, the loader, libc and the CA bundle.
  EXPECT_EQ(image->rootfs.FileCount(), 4u);
  for (const RootfsTree::Entry& e : image->rootfs.Entries()) {
    if (e.is_directory) continue;
    const bool executable = e.path == "lockout-enclave" || e.path == "lib64/ld-linux-x86-64.so.2";
    EXPECT_EQ(e.permissions, executable ? 0755u : 0644u) << e.path;
  }
}

TEST_F(EnclaveImageTest, MetadataRecordsEveryInputsHashPackageAndTheKernelVersion) {
  testutil::WriteTestFile(blobs() + "/bzImage.config",
                          "#\n# Linux/x86 4.14.256-aws Kernel Configuration\n");
  absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->kernel_version, "4.14.256-aws");  // the config wins over the bzImage
  const nlohmann::json meta = nlohmann::json::parse(image->metadata_json);
  EXPECT_EQ(meta["BuildMetadata"]["BuildTime"], kFixedBuildTime);
  EXPECT_EQ(meta["BuildMetadata"]["KernelVersion"], "4.14.256-aws");
  EXPECT_EQ(meta["CustomMetadata"]["Cmd"][0], "/lockout-enclave");
  EXPECT_EQ(meta["CustomMetadata"]["Env"][0], "AWS_REGION=eu-west-1");
  std::map<std::string, nlohmann::json> by_name;
  for (const nlohmann::json& f : meta["CustomMetadata"]["LockoutInputs"]) {
    by_name[f["Name"].get<std::string>()] = f;
  }
  for (const char* name :
       {"bzImage", "cmdline", "init", "nsm.ko", "bzImage.config", "/lockout-enclave",
        "/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libc.so.6", kImageCaBundlePath}) {
    ASSERT_EQ(by_name.count(name), 1u) << name;
  }
  EXPECT_EQ(by_name["/lockout-enclave"]["Sha384"],
            HexEncode(crypto::Sha384(testing::ReadTestFile(kStandInBinary))));
  EXPECT_EQ(by_name["init"]["Sha384"], HexEncode(crypto::Sha384(ToBytes("#!init\n"))));
  EXPECT_EQ(by_name["/lockout-enclave"]["Role"], "enclave-binary");
  if (access("/usr/bin/dpkg-query", X_OK) == 0) {
    EXPECT_EQ(by_name["/lib/x86_64-linux-gnu/libc.so.6"]["Package"], "libc6:amd64");
    EXPECT_TRUE(by_name["/lib/x86_64-linux-gnu/libc.so.6"]["PackageVersion"].is_string());
  }
  EXPECT_TRUE(by_name[kImageCaBundlePath]["Package"].is_null());
}

TEST_F(EnclaveImageTest, KernelVersionFallsBackToTheBzImageThenUnknown) {
  absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->kernel_version, "6.1.0-lockout-test");
  testutil::WriteTestFile(blobs() + "/bzImage", "not a kernel");
  image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->kernel_version, "unknown");
}

TEST_F(EnclaveImageTest, MissingOrIncompleteBlobsAreNamed) {
  EnclaveImageSpec spec = Spec();
  spec.blobs_dir = dir_.path() + "/nowhere";
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("does not exist"));
  std::filesystem::remove(blobs() + "/init");
  std::filesystem::remove(blobs() + "/nsm.ko");
  absl::Status s = BuildEnclaveImage(Spec()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("has no init, nsm.ko"));
  testutil::WriteFakeBlobs(blobs());
  testutil::WriteTestFile(blobs() + "/cmdline", " \n\t");
  EXPECT_THAT(BuildEnclaveImage(Spec()).status().message(), HasSubstr("empty"));
}

TEST_F(EnclaveImageTest, BadBinaryCaBundleArgvAndEnvAreRefused) {
  EnclaveImageSpec spec = Spec();
  spec.enclave_binary = dir_.path() + "/missing";
  EXPECT_EQ(BuildEnclaveImage(spec).status().code(), absl::StatusCode::kNotFound);
  spec.enclave_binary = ca();
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("ELF"));
  spec = Spec();
  spec.ca_bundle = dir_.path() + "/missing.crt";
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("CA bundle"));
  spec = Spec();
  spec.argv = {};
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("argv is empty"));
  spec.argv = {"/usr/bin/true"};
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("not a file in the image"));
  spec.argv = {"lockout-enclave"};  // no '/': searched in the init's PATH, where it is not
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("not a file in the image"));
  spec = Spec();
  spec.env = {"not-an-assignment"};
  EXPECT_THAT(BuildEnclaveImage(spec).status().message(), HasSubstr("NAME=VALUE"));
}

TEST_F(EnclaveImageTest, RootfsAloneNeedsNoBlobsAndIsTheImagesTree) {
  EnclaveImageSpec spec = Spec();
  spec.blobs_dir = dir_.path() + "/nowhere";
  absl::StatusOr<ImageRootfs> rootfs = AssembleRootfs(spec);
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(Spec());
  ASSERT_TRUE(image.ok()) << image.status();
  const std::vector<RootfsTree::Entry> alone = rootfs->tree.Entries();
  const std::vector<RootfsTree::Entry> in_image = image->rootfs.Entries();
  ASSERT_EQ(alone.size(), in_image.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    const RootfsTree::Entry& a = alone[i];
    const RootfsTree::Entry& b = in_image[i];
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.permissions, b.permissions);
    EXPECT_TRUE(a.is_directory || *a.data == *b.data) << a.path;
  }
  spec.argv = {};  // no argv: nothing to check
  EXPECT_TRUE(AssembleRootfs(spec).ok());
  spec.argv = {"/elsewhere"};
  EXPECT_THAT(AssembleRootfs(spec).status().message(), HasSubstr("not a file in the image"));
}

TEST(EnclaveMemoryTest, FourTimesTheEifRoundedUpToMiB) {
  EXPECT_EQ(MinimumEnclaveMemoryMiB(0), 0u);
  EXPECT_EQ(MinimumEnclaveMemoryMiB(1), 1u);
  EXPECT_EQ(MinimumEnclaveMemoryMiB(uint64_t{1} << 20), 4u);
  EXPECT_EQ(MinimumEnclaveMemoryMiB(17285426), 66u);
}

}  // namespace
}  // namespace lockout::image
