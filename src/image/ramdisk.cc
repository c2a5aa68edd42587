#include "src/image/ramdisk.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/image/cpio_writer.h"

namespace lockout::image {
namespace {

absl::Status CheckLineItem(const char* what, std::string_view item) {
  if (item.find('\n') != std::string_view::npos || item.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " items cannot contain a newline or NUL (/cmd and /env hold one item per line)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> BootstrapRamdisk(ByteView init, ByteView nsm_ko) {
  CpioWriter w;
  RETURN_IF_ERROR(w.AddDirectory("dev", 0755, kLinuxkitMtime));
  RETURN_IF_ERROR(w.AddFile("init", 0755, kLinuxkitMtime, init));
  RETURN_IF_ERROR(w.AddFile("nsm.ko", 0755, kLinuxkitMtime, nsm_ko));
  return std::move(w).Finish();
}

absl::Status CheckEnvItem(std::string_view item) {
  RETURN_IF_ERROR(CheckLineItem("env", item));
  const size_t eq = item.find('=');
  const std::string_view name = item.substr(0, eq);
  bool valid = eq != std::string_view::npos && !name.empty() &&
               !absl::ascii_isdigit(static_cast<unsigned char>(name.front()));
  for (char c : name) {
    valid = valid && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        "env items are NAME=VALUE with NAME made of letters, digits and _ (not first a digit)");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CmdFile(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return absl::InvalidArgumentError(
        "the enclave's argv is empty (the AWS init would run sh, which the image does not have)");
  }
  std::string out;
  for (const std::string& item : argv) {
    RETURN_IF_ERROR(CheckLineItem("argv", item));
    absl::StrAppend(&out, item, "\n");
  }
  return out;
}

absl::StatusOr<std::string> EnvFile(const std::vector<std::string>& env) {
  std::string out;
  for (const std::string& item : env) {
    RETURN_IF_ERROR(CheckEnvItem(item));
    absl::StrAppend(&out, item, "\n");
  }
  return out;
}

absl::StatusOr<Bytes> CustomerRamdisk(const RootfsTree& tree, const std::vector<std::string>& argv,
                                      const std::vector<std::string>& env) {
  ASSIGN_OR_RETURN(const std::string cmd, CmdFile(argv));
  ASSIGN_OR_RETURN(const std::string env_file, EnvFile(env));
  if (!tree.HasDirectory("/etc")) {
    return absl::InvalidArgumentError(
        "the image has no /etc directory (linuxkit's hosts, mtab and resolv.conf go there)");
  }

  CpioWriter w;
  RETURN_IF_ERROR(w.AddDirectory("rootfs", 0755, kLinuxkitMtime));
  // The image's own files (a container export, in nitro-cli's case).
  for (const RootfsTree::Entry& e : tree.Entries()) {
    if (e.is_directory) {
      RETURN_IF_ERROR(w.AddDirectory(absl::StrCat("rootfs/", e.path, "/"), 0755, kLinuxkitMtime));
    } else {
      RETURN_IF_ERROR(w.AddFile(absl::StrCat("rootfs/", e.path), e.permissions, 0, *e.data));
    }
  }
  // What linuxkit adds to every container's filesystem.
  for (const char* dir : {"rootfs/dev", "rootfs/dev/pts", "rootfs/dev/shm"}) {
    RETURN_IF_ERROR(w.AddDirectory(dir, 0755, kLinuxkitMtime));
  }
  RETURN_IF_ERROR(w.AddFile("rootfs/etc/hosts", 0644, kLinuxkitMtime, AsBytes(kLinuxkitHosts)));
  RETURN_IF_ERROR(w.AddSymlink("rootfs/etc/mtab", "/proc/mounts", 0755, kLinuxkitMtime));
  RETURN_IF_ERROR(
      w.AddSymlink("rootfs/etc/resolv.conf", "/run/resolvconf/resolv.conf", 0644, kLinuxkitMtime));
  for (const char* dir : {"rootfs/proc", "rootfs/sys"}) {
    RETURN_IF_ERROR(w.AddDirectory(dir, 0755, kLinuxkitMtime));
  }
  // nitro-cli's linuxkit YAML: the directories the AWS init mounts on, then /cmd and /env.
  for (const char* dir : {"rootfs", "rootfs/dev", "rootfs/run", "rootfs/sys", "rootfs/var",
                          "rootfs/proc", "rootfs/tmp"}) {
    RETURN_IF_ERROR(w.AddDirectory(dir, 0755, kLinuxkitMtime));
  }
  RETURN_IF_ERROR(w.AddFile("cmd", 0644, kLinuxkitMtime, AsBytes(cmd)));
  RETURN_IF_ERROR(w.AddFile("env", 0644, kLinuxkitMtime, AsBytes(env_file)));
  return std::move(w).Finish();
}

}  // namespace lockout::image
