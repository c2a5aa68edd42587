#pragma once

// Builds the enclave image (EIF) of `lockout build-eif`, byte for byte reproducibly, without
// Docker (ENCLAVE-IMAGE.md; docs/ENCLAVE-IMAGE.md for users):
//
//   kernel, cmdline          <- the blobs directory (bzImage, cmdline)
//   bootstrap ramdisk        <- init, nsm.ko from the blobs directory (ramdisk.h)
//   customer ramdisk         <- rootfs: /lockout-enclave, its dynamic loader and the shared
//                               libraries it loads (shared_libraries.h), the CA bundle at
//                               /etc/ssl/certs/ca-certificates.crt; /cmd from argv, /env from env
//   metadata (not measured)  <- the inputs: SHA-384 and size of every blob and image file, the
//                               Debian package and version of each, the kernel version
//
// The EIF is a pure function of the input files' contents, argv and env: nothing of the build
// machine (paths, times, owners, umask, hostname) reaches it. File modes in the image are fixed
// by role (0755 executables and loader, 0644 libraries and CA bundle), not copied from the
// host. The metadata's BuildTime is fixed (kFixedBuildTime); only a different dpkg database (or
// none) changes the metadata, and never a PCR.
//
//   EnclaveImageSpec spec{.blobs_dir = "/usr/share/nitro_enclaves/blobs",
//                         .enclave_binary = "build/bin/lockout-enclave",
//                         .argv = {"/lockout-enclave", "--listen", "vsock://ANY:5010"}};
//   absl::StatusOr<EnclaveImage> image = BuildEnclaveImage(spec);
//
// Errors: NotFound (a missing blob, binary, CA bundle or library), InvalidArgument (an
// incomplete or malformed input, a bad argv/env, argv[0] not in the image, a non-x86-64
// binary), Internal (I/O, the loader failing). Messages name the file and what to do.
// Thread-safe (no shared state; it runs the loader and dpkg-query as subprocesses).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/crypto/hash.h"
#include "src/eif/measurements.h"
#include "src/image/rootfs_tree.h"

namespace lockout::image {

inline constexpr char kDefaultCaBundle[] = "/etc/ssl/certs/ca-certificates.crt";
inline constexpr char kImageCaBundlePath[] = "/etc/ssl/certs/ca-certificates.crt";
inline constexpr char kImageEnclavePath[] = "/lockout-enclave";
inline constexpr char kFixedBuildTime[] = "1970-01-01T00:00:00+00:00";
// The blobs nitro-cli's build-enclave reads (aws-nitro-enclaves-cli, /usr/share/nitro_enclaves).
inline constexpr char kDefaultBlobsDir[] = "/usr/share/nitro_enclaves/blobs";

struct EnclaveImageSpec {
  std::string blobs_dir;
  std::string enclave_binary;
  std::string ca_bundle = kDefaultCaBundle;
  std::vector<std::string> argv;  // becomes /cmd; argv[0] must be a file in the image
  std::vector<std::string> env;   // becomes /env: NAME=VALUE items
};

struct Blobs {
  Bytes kernel;
  std::string cmdline;  // the blob's text with surrounding whitespace trimmed
  Bytes init;
  Bytes nsm_ko;
  std::optional<std::string> kernel_config;  // bzImage.config, if present
};

// One input file of the image, as the metadata records it.
struct InputFile {
  std::string name;       // blob file name, or the path inside the image
  std::string role;       // "kernel", "cmdline", "init", "nsm.ko", "kernel-config",
                          // "enclave-binary", "dynamic-loader", "shared-library", "ca-bundle"
  std::string host_path;  // where it was read (never recorded in the image)
  crypto::Sha384Digest sha384{};
  uint64_t size = 0;
  std::optional<std::string> package;  // Debian package, for image files
  std::optional<std::string> package_version;
};

struct EnclaveImage {
  Bytes eif;
  eif::Measurements measurements;
  std::string metadata_json;
  RootfsTree rootfs;
  std::vector<InputFile> inputs;
  std::string kernel_version;  // "unknown" when neither blob carries it
  uint64_t kernel_size = 0;
  uint64_t bootstrap_ramdisk_size = 0;
  uint64_t customer_ramdisk_size = 0;
};

// The image's root filesystem alone: the enclave binary, its loader and libraries, the CA bundle
// (what `build-eif --rootfs-dir` writes for the Docker path, deploy/Dockerfile). Checks argv[0]
// against it when spec.argv is not empty; spec.blobs_dir and spec.env are not used.
struct ImageRootfs {
  RootfsTree tree;
  std::vector<InputFile> inputs;
};
absl::StatusOr<ImageRootfs> AssembleRootfs(const EnclaveImageSpec& spec);

// Reads DIR/{bzImage,cmdline,init,nsm.ko[,bzImage.config]}; names every missing file at once.
absl::StatusOr<Blobs> LoadBlobs(const std::string& dir);

absl::StatusOr<EnclaveImage> BuildEnclaveImage(const EnclaveImageSpec& spec);

// The least enclave memory nitro-cli's run-enclave accepts for an EIF of `eif_size` bytes: four
// times the file (its ramdisks are unpacked into enclave memory), in MiB, rounded up.
uint64_t MinimumEnclaveMemoryMiB(uint64_t eif_size);

}  // namespace lockout::image
