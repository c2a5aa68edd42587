#include "src/image/enclave_image.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/eif/eif_writer.h"
#include "src/image/debian_packages.h"
#include "src/image/elf_info.h"
#include "src/image/kernel_version.h"
#include "src/image/ramdisk.h"
#include "src/image/shared_libraries.h"

#ifndef LOCKOUT_VERSION
#error "LOCKOUT_VERSION must be defined by the build (src/image/CMakeLists.txt)"
#endif

namespace lockout::image {
namespace {

constexpr size_t kMaxBlobSize = size_t{256} << 20;
constexpr size_t kMaxImageFileSize = size_t{1} << 30;
constexpr size_t kMaxCaBundleSize = size_t{16} << 20;
constexpr size_t kMaxCmdlineSize = 4096;
// The AWS init's PATH for execvpe (ENCLAVE-IMAGE.md, step 7).
constexpr const char* kInitPath[] = {"/sbin", "/usr/sbin", "/bin", "/usr/bin"};

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<Bytes> ReadInput(const std::string& what, const std::string& path, size_t max_size) {
  absl::StatusOr<Bytes> data = ReadFile(path, max_size);
  if (!data.ok()) {
    return absl::Status(data.status().code(),
                        absl::StrCat("cannot read the ", what, ": ", data.status().message()));
  }
  return data;
}

InputFile Describe(std::string name, std::string role, std::string host_path, ByteView data) {
  InputFile f;
  f.name = std::move(name);
  f.role = std::move(role);
  f.host_path = std::move(host_path);
  f.sha384 = crypto::Sha384(data);
  f.size = data.size();
  return f;
}

// Puts the executable, its loader and libraries, and the CA bundle into `tree`.
absl::Status CollectImageFiles(const EnclaveImageSpec& spec, RootfsTree& tree,
                               std::vector<InputFile>& inputs) {
  if (!IsRegularFile(spec.enclave_binary)) {
    return absl::NotFoundError(absl::StrCat(
        "the enclave binary ", spec.enclave_binary,
        " is not a file (build it: cmake --build --preset release --target lockout-enclave, or "
        "pass --enclave-binary)"));
  }
  ASSIGN_OR_RETURN(Bytes binary,
                   ReadInput("enclave binary", spec.enclave_binary, kMaxImageFileSize));
  absl::StatusOr<ElfInfo> elf = ParseElfInfo(binary);
  if (!elf.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the enclave binary ", spec.enclave_binary, ": ", elf.status().message()));
  }
  if (elf->machine != kElfMachineX86_64) {
    return absl::InvalidArgumentError(absl::StrCat("the enclave binary ", spec.enclave_binary,
                                                   " is for ELF machine ", elf->machine,
                                                   "; build-eif writes x86-64 images only"));
  }
  std::vector<std::pair<std::string, std::string>> libraries;  // image path, role
  if (elf->interpreter.has_value()) {
    ASSIGN_OR_RETURN(std::vector<SharedLibrary> libs,
                     ResolveSharedLibraries(spec.enclave_binary, *elf->interpreter));
    libraries.emplace_back(*elf->interpreter, "dynamic-loader");
    for (SharedLibrary& lib : libs) libraries.emplace_back(std::move(lib.path), "shared-library");
  }
  inputs.push_back(Describe(kImageEnclavePath, "enclave-binary", spec.enclave_binary, binary));
  RETURN_IF_ERROR(tree.AddFile(kImageEnclavePath, 0755, std::move(binary)));
  for (auto& [path, role] : libraries) {
    ASSIGN_OR_RETURN(Bytes data, ReadInput(role, path, kMaxImageFileSize));
    inputs.push_back(Describe(path, role, path, data));
    // Modes by role, not from the host: the image must not depend on how files were installed.
    RETURN_IF_ERROR(tree.AddFile(path, role == "dynamic-loader" ? 0755 : 0644, std::move(data)));
  }
  if (!IsRegularFile(spec.ca_bundle)) {
    return absl::NotFoundError(
        absl::StrCat("the CA bundle ", spec.ca_bundle,
                     " is not a file (install ca-certificates or pass --ca-bundle FILE)"));
  }
  ASSIGN_OR_RETURN(Bytes ca, ReadInput("CA bundle", spec.ca_bundle, kMaxCaBundleSize));
  inputs.push_back(Describe(kImageCaBundlePath, "ca-bundle", spec.ca_bundle, ca));
  return tree.AddFile(kImageCaBundlePath, 0644, std::move(ca));
}

absl::Status CheckArgv0(const RootfsTree& tree, const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::OkStatus();  // CmdFile reports it
  const std::string& program = argv[0];
  if (program.find('/') != std::string::npos) {
    if (tree.HasFile(program)) return absl::OkStatus();
  } else {
    for (const char* dir : kInitPath) {
      if (tree.HasFile(absl::StrCat(dir, "/", program))) return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("argv[0] \"", program.substr(0, 200),
                                                 "\" is not a file in the image (the ",
                                                 "enclave binary is ", kImageEnclavePath, ")"));
}

void AddPackages(std::vector<InputFile>& inputs) {
  std::vector<std::string> paths;
  for (const InputFile& f : inputs) {
    if (f.role == "dynamic-loader" || f.role == "shared-library") paths.push_back(f.host_path);
  }
  const std::map<std::string, DebianPackage> packages = FindDebianPackages(paths);
  for (InputFile& f : inputs) {
    auto it = packages.find(f.host_path);
    if (it == packages.end()) continue;
    f.package = it->second.name;
    f.package_version = it->second.version;
  }
}

// nitro-cli's EifIdentityInfo shape (ImageName, ImageVersion, BuildMetadata, DockerInfo,
// CustomMetadata), so `nitro-cli describe-eif` and `lockout describe-eif` both show it.
std::string Metadata(const std::vector<InputFile>& inputs, const std::string& kernel_version,
                     const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const InputFile& f : inputs) {
    nlohmann::ordered_json j;
    j["Name"] = f.name;
    j["Role"] = f.role;
    j["Sha384"] = HexEncode(f.sha384);
    j["Size"] = f.size;
    j["Package"] = f.package.has_value() ? nlohmann::ordered_json(*f.package) : nullptr;
    j["PackageVersion"] =
        f.package_version.has_value() ? nlohmann::ordered_json(*f.package_version) : nullptr;
    files.push_back(std::move(j));
  }
  nlohmann::ordered_json meta;
  meta["ImageName"] = "lockout-enclave";
  meta["ImageVersion"] = LOCKOUT_VERSION;
  meta["BuildMetadata"] = {{"BuildTime", kFixedBuildTime},
                           {"BuildTool", "lockout build-eif"},
                           {"BuildToolVersion", LOCKOUT_VERSION},
                           {"OperatingSystem", "Linux"},
                           {"KernelVersion", kernel_version}};
  meta["DockerInfo"] = nullptr;
  meta["CustomMetadata"] = {{"LockoutInputs", files}, {"Cmd", argv}, {"Env", env}};
  return meta.dump();
}

}  // namespace

absl::StatusOr<Blobs> LoadBlobs(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("the blobs directory ", dir,
                     " does not exist (on an instance with aws-nitro-enclaves-cli "
                     "it is ",
                     kDefaultBlobsDir, ")"));
  }
  std::vector<std::string> missing;
  for (const char* name : {"bzImage", "cmdline", "init", "nsm.ko"}) {
    if (!IsRegularFile(absl::StrCat(dir, "/", name))) missing.emplace_back(name);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the blobs directory ", dir, " has no ", absl::StrJoin(missing, ", "),
        " (it must hold bzImage, cmdline, init, nsm.ko and optionally bzImage.config, as ",
        kDefaultBlobsDir, " does)"));
  }
  Blobs blobs;
  ASSIGN_OR_RETURN(blobs.kernel, ReadInput("kernel", absl::StrCat(dir, "/bzImage"), kMaxBlobSize));
  ASSIGN_OR_RETURN(Bytes cmdline,
                   ReadInput("cmdline", absl::StrCat(dir, "/cmdline"), kMaxCmdlineSize));
  ASSIGN_OR_RETURN(blobs.init, ReadInput("init", absl::StrCat(dir, "/init"), kMaxBlobSize));
  ASSIGN_OR_RETURN(blobs.nsm_ko, ReadInput("nsm.ko", absl::StrCat(dir, "/nsm.ko"), kMaxBlobSize));
  blobs.cmdline = std::string(absl::StripAsciiWhitespace(ToString(cmdline)));
  if (blobs.kernel.empty() || blobs.cmdline.empty() || blobs.init.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the blobs directory ", dir, " has an empty bzImage, cmdline or init"));
  }
  if (blobs.cmdline.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/cmdline contains a NUL byte"));
  }
  const std::string config_path = absl::StrCat(dir, "/bzImage.config");
  if (IsRegularFile(config_path)) {
    ASSIGN_OR_RETURN(Bytes config, ReadInput("kernel config", config_path, kMaxBlobSize));
    blobs.kernel_config = ToString(config);
  }
  return blobs;
}

absl::StatusOr<ImageRootfs> AssembleRootfs(const EnclaveImageSpec& spec) {
  ImageRootfs rootfs;
  RETURN_IF_ERROR(CollectImageFiles(spec, rootfs.tree, rootfs.inputs));
  if (!spec.argv.empty()) RETURN_IF_ERROR(CheckArgv0(rootfs.tree, spec.argv));
  return rootfs;
}

absl::StatusOr<EnclaveImage> BuildEnclaveImage(const EnclaveImageSpec& spec) {
  // Cheap argument checks first, before reading hundreds of MiB.
  RETURN_IF_ERROR(CmdFile(spec.argv).status());
  RETURN_IF_ERROR(EnvFile(spec.env).status());
  ASSIGN_OR_RETURN(Blobs blobs, LoadBlobs(spec.blobs_dir));

  EnclaveImage image;
  image.inputs.push_back(Describe("bzImage", "kernel", "", blobs.kernel));
  image.inputs.push_back(Describe("cmdline", "cmdline", "", AsBytes(blobs.cmdline)));
  image.inputs.push_back(Describe("init", "init", "", blobs.init));
  image.inputs.push_back(Describe("nsm.ko", "nsm.ko", "", blobs.nsm_ko));
  std::optional<std::string> version;
  if (blobs.kernel_config.has_value()) {
    image.inputs.push_back(
        Describe("bzImage.config", "kernel-config", "", AsBytes(*blobs.kernel_config)));
    version = KernelVersionFromConfig(*blobs.kernel_config);
  }
  if (!version.has_value()) version = KernelVersionFromBzImage(blobs.kernel);
  image.kernel_version = version.value_or("unknown");

  ASSIGN_OR_RETURN(ImageRootfs rootfs, AssembleRootfs(spec));
  image.rootfs = std::move(rootfs.tree);
  image.inputs.insert(image.inputs.end(), std::make_move_iterator(rootfs.inputs.begin()),
                      std::make_move_iterator(rootfs.inputs.end()));
  AddPackages(image.inputs);
  image.metadata_json = Metadata(image.inputs, image.kernel_version, spec.argv, spec.env);

  ASSIGN_OR_RETURN(Bytes bootstrap, BootstrapRamdisk(blobs.init, blobs.nsm_ko));
  ASSIGN_OR_RETURN(Bytes customer, CustomerRamdisk(image.rootfs, spec.argv, spec.env));
  image.kernel_size = blobs.kernel.size();
  image.bootstrap_ramdisk_size = bootstrap.size();
  image.customer_ramdisk_size = customer.size();

  eif::EifWriter writer;
  writer.SetKernel(std::move(blobs.kernel))
      .SetCmdline(blobs.cmdline)
      .SetMetadata(image.metadata_json)
      .AddRamdisk(std::move(bootstrap))
      .AddRamdisk(std::move(customer));
  ASSIGN_OR_RETURN(image.measurements, writer.Measure());
  ASSIGN_OR_RETURN(image.eif, writer.Build());
  return image;
}

uint64_t MinimumEnclaveMemoryMiB(uint64_t eif_size) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  return (4 * eif_size + kMiB - 1) / kMiB;
}

}  // namespace lockout::image
