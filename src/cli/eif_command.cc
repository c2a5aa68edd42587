// `lockout describe-eif FILE`: measure an enclave image file and print nitro-cli-style JSON.
// `lockout build-eif ...`: build the enclave image reproducibly (src/image/enclave_image.h).

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/commands.h"
#include "src/common/file.h"
#include "src/eif/eif_description.h"
#include "src/eif/eif_reader.h"
#include "src/image/enclave_image.h"
#include "src/image/ramdisk.h"

namespace lockout::cli {
namespace {

struct DescribeEifOptions {
  std::string path;
  bool allow_bad_crc = false;
};

int RunDescribeEif(const DescribeEifOptions& options) {
  if (options.path.empty()) {
    std::cerr << "lockout describe-eif: give the image, FILE or --eif-path FILE (see lockout "
                 "describe-eif --help)\n";
    return 2;
  }
  eif::EifReadOptions read;
  read.require_valid_crc = !options.allow_bad_crc;
  absl::StatusOr<eif::EifImage> image = eif::EifReader::Open(options.path, read);
  if (!image.ok()) {
    std::cerr << "lockout: describe-eif: " << image.status().message()
              << "; check that the file is a complete EIF built by nitro-cli or lockout\n";
    return 1;
  }
  std::cout << eif::DescribeEif(*image).dump(2) << "\n";
  return 0;
}

struct BuildEifOptions {
  std::string blobs;
  std::string output;
  std::string rootfs_dir;
  std::string enclave_binary;
  std::string ca_bundle = image::kDefaultCaBundle;
  std::vector<std::string> env;
  std::vector<std::string> argv;
  bool json = false;
};

// The lockout-enclave beside this `lockout` executable.
std::string SiblingEnclaveBinary() {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "lockout-enclave";
  std::string path(self, static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return path.substr(0, slash + 1) + "lockout-enclave";
}

// --rootfs-dir: the tree as files (mkdir'd if missing; nothing in it is overwritten).
int WriteRootfs(const image::RootfsTree& tree, const std::string& dir, bool quiet) {
  absl::Status written = absl::OkStatus();
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    written = absl::InternalError(absl::StrCat("cannot create ", dir, ": ", std::strerror(errno)));
  } else {
    written = tree.WriteToDirectory(dir);
  }
  if (!written.ok()) {
    std::cerr << "lockout: build-eif: " << written.message()
              << " (--rootfs-dir needs a new or empty directory)\n";
    return 1;
  }
  if (!quiet) {
    std::cout << "wrote " << dir << ": " << tree.FileCount() << " files, " << tree.FileBytes()
              << " bytes\n";
  }
  return 0;
}

int RunBuildEif(const BuildEifOptions& options) {
  const auto fail = [](absl::string_view message) {
    std::cerr << "lockout: build-eif: " << message << "\n";
    return 1;
  };
  // Flags that do not go together are usage errors (exit 2, docs/CLI.md).
  const auto usage = [](absl::string_view message) {
    std::cerr << "lockout: build-eif: " << message << "\n";
    return 2;
  };
  const bool build_eif = !options.output.empty() || !options.blobs.empty();
  if (build_eif && (options.output.empty() || options.blobs.empty())) {
    return usage("--blobs DIR and --output FILE go together (or use --rootfs-dir DIR alone)");
  }
  if (!build_eif && options.rootfs_dir.empty()) {
    return usage("nothing to write: give --blobs DIR --output FILE, --rootfs-dir DIR, or both");
  }
  if (build_eif && options.argv.empty()) {
    return fail(
        "no enclave argv: put it after --, e.g. -- /lockout-enclave --listen vsock://ANY:5010 ...");
  }
  for (const std::string& item : options.env) {
    absl::Status s = image::CheckEnvItem(item);
    if (!s.ok()) return fail(absl::StrCat("--env: ", s.message()));
  }
  image::EnclaveImageSpec spec;
  spec.blobs_dir = options.blobs;
  spec.enclave_binary =
      options.enclave_binary.empty() ? SiblingEnclaveBinary() : options.enclave_binary;
  spec.ca_bundle = options.ca_bundle;
  spec.argv = options.argv;
  spec.env = options.env;
  if (!build_eif) {
    absl::StatusOr<image::ImageRootfs> rootfs = image::AssembleRootfs(spec);
    if (!rootfs.ok()) return fail(rootfs.status().message());
    return WriteRootfs(rootfs->tree, options.rootfs_dir, /*quiet=*/false);
  }
  absl::StatusOr<image::EnclaveImage> built = image::BuildEnclaveImage(spec);
  if (!built.ok()) return fail(built.status().message());
  if (!options.rootfs_dir.empty() &&
      WriteRootfs(built->rootfs, options.rootfs_dir, /*quiet=*/options.json) != 0) {
    return 1;
  }
  absl::Status written = WriteFileAtomic(options.output, built->eif, 0644);
  if (!written.ok()) return fail(written.message());
  // Printed from the written bytes, through the same reader as describe-eif: what build-eif
  // prints is what `lockout describe-eif FILE` (and the Nitro hypervisor) will measure.
  absl::StatusOr<eif::EifImage> described = eif::EifReader::Parse(built->eif);
  if (!described.ok()) return fail(described.status().message());
  if (!options.json) {
    std::cout << "wrote " << options.output << ": " << built->eif.size() << " bytes (kernel "
              << built->kernel_size << ", bootstrap ramdisk " << built->bootstrap_ramdisk_size
              << ", customer ramdisk " << built->customer_ramdisk_size << " with "
              << built->rootfs.FileCount() << " files), kernel " << built->kernel_version
              << "\nenclave memory: at least " << image::MinimumEnclaveMemoryMiB(built->eif.size())
              << " MiB (4 x the EIF size, as nitro-cli run-enclave requires)\n";
  }
  std::cout << eif::DescribeEif(*described).dump(2) << "\n";
  return 0;
}

constexpr char kBuildEifHelp[] =
    R"(Build the enclave image (EIF) without Docker, byte for byte reproducibly.

The image holds the kernel, cmdline, init and nsm.ko from --blobs (laid out like
/usr/share/nitro_enclaves/blobs on an instance with aws-nitro-enclaves-cli), and a root filesystem
with /lockout-enclave, exactly the shared libraries it loads (asked of its dynamic loader, without
ld.so.cache, as the enclave runs it), the loader, and the CA bundle at
/etc/ssl/certs/ca-certificates.crt. ARGV (after --) becomes /cmd, argv[0] first; --env items
become /env. Every entry has fixed owner, mode and time, so the same inputs give the same bytes
on any machine; the metadata section records each input's SHA-384, Debian package and version.
Prints the measurements like `lockout describe-eif` (--json: only that JSON).
--rootfs-dir DIR writes the image's root filesystem (same files, modes, mtime 0) for the Docker
path: deploy/Dockerfile is FROM scratch + that tree + CMD holding the whole argv.

Example (on the parent instance, from the repository root after a release build):
  lockout build-eif --blobs /usr/share/nitro_enclaves/blobs --output lockout.eif \
      --enclave-binary build/bin/lockout-enclave --env AWS_REGION=us-east-1 -- \
      /lockout-enclave --listen vsock://ANY:5010 --relay vsock://3:5011 --kms-via vsock://3:8000 \
      --ca-bundle /etc/ssl/certs/ca-certificates.crt --nsm /dev/nsm --load-at boot \
      --secret lockout/signing-key --key-type p521
  lockout describe-eif lockout.eif     # the same PCRs; PCR0 goes into the key policy)";

}  // namespace

void RegisterEifCommands(CLI::App& app, CommandContext& ctx) {
  auto build_options = std::make_shared<BuildEifOptions>();
  auto* build = app.add_subcommand("build-eif", kBuildEifHelp);
  build->add_option("--blobs", build_options->blobs,
                    "Directory with bzImage, cmdline, init, nsm.ko [, bzImage.config]");
  build->add_option("--output", build_options->output, "Where to write the .eif");
  build->add_option("--rootfs-dir", build_options->rootfs_dir,
                    "Also (or only) write the image's root filesystem into this new directory");
  build->add_option("--enclave-binary", build_options->enclave_binary,
                    "The enclave executable (default: lockout-enclave beside this lockout)");
  build
      ->add_option("--ca-bundle", build_options->ca_bundle,
                   "CA bundle for TLS to KMS, stored at /etc/ssl/certs/ca-certificates.crt")
      ->capture_default_str();
  build
      ->add_option("--env", build_options->env,
                   "NAME=VALUE for the enclave's environment (/env); repeat for more")
      ->allow_extra_args(false);  // one value per flag, repeatable (CLI11 2.1's expected(1)
                                  // would mean "at most once")
  build->add_flag("--json", build_options->json, "Print only the describe-eif JSON");
  build->add_option("argv", build_options->argv,
                    "The enclave's command line after --: argv[0] (/lockout-enclave) first");
  build->callback([&ctx, build_options] { ctx.exit_code = RunBuildEif(*build_options); });

  auto options = std::make_shared<DescribeEifOptions>();
  auto* describe = app.add_subcommand(
      "describe-eif",
      "Measure an enclave image file (EIF): prints JSON like `nitro-cli describe-eif` with\n"
      "EifVersion, Measurements (PCR0, PCR1, PCR2 and, for signed images, PCR8), IsSigned,\n"
      "CheckCRC and SignatureCheck. Exits 1 with a one-line error if the file is not a valid EIF.");
  // One argument with two spellings: not ->required(), which --help would show on both.
  describe
      ->add_option("file,--eif-path", options->path, "The .eif file (as FILE or --eif-path FILE)")
      ->type_name("FILE");
  describe->footer("\nExample: lockout describe-eif lockout.eif");
  describe->add_flag("--allow-bad-crc", options->allow_bad_crc,
                     "Report a CRC mismatch as \"CheckCRC\": false instead of failing");
  describe->callback([&ctx, options] { ctx.exit_code = RunDescribeEif(*options); });
}

}  // namespace lockout::cli
