#pragma once

// The two ramdisks of an enclave image, laid out byte for byte as nitro-cli's linuxkit writes
// them (ENCLAVE-IMAGE.md; golden files ../vectors/eif/g1-*, g2-*), in src/image/cpio_writer.h's
// format.
//
// Bootstrap ramdisk (PCR1 measures it after the kernel and cmdline):
//   dev/ (0755), init (0755), nsm.ko (0755), all with linuxkit's mtime.
//
// Customer ramdisk (PCR2):
//   1. rootfs (directory);
//   2. the image's tree (RootfsTree order): directories as "rootfs/<path>/" 0755 with linuxkit's
//      mtime, files as "rootfs/<path>" with their permission bits and mtime 0;
//   3. linuxkit's own entries: rootfs/dev, rootfs/dev/pts, rootfs/dev/shm, rootfs/etc/hosts
//      (0644), rootfs/etc/mtab -> /proc/mounts, rootfs/etc/resolv.conf ->
//      /run/resolvconf/resolv.conf, rootfs/proc, rootfs/sys;
//   4. nitro-cli's directories rootfs, rootfs/{dev,run,sys,var,proc,tmp} (0755);
//   5. cmd and env (0644): one item per line, each '\n'-terminated.
// Every entry of steps 1 and 3-5 has linuxkit's mtime. The tree must have an /etc directory
// (linuxkit's entries go inside it; lockout's images always have one for the CA bundle; what
// linuxkit does for an image without /etc is not covered by the golden files).
//
// Errors (InvalidArgument): a tree without /etc, an empty argv, an argv or env item containing a
// newline or NUL, an env item that is not NAME=VALUE with NAME of [A-Za-z_][A-Za-z0-9_]*.
// Thread-safe (pure).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/image/rootfs_tree.h"

namespace lockout::image {

// linuxkit's /etc/hosts.
inline constexpr std::string_view kLinuxkitHosts =
    "127.0.0.1       localhost\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
    "fe00::0 ip6-localnet\n"
    "ff00::0 ip6-mcastprefix\n"
    "ff02::1 ip6-allnodes\n"
    "ff02::2 ip6-allrouters\n";

absl::StatusOr<Bytes> BootstrapRamdisk(ByteView init, ByteView nsm_ko);

// The /cmd and /env files (validated as above).
absl::StatusOr<std::string> CmdFile(const std::vector<std::string>& argv);
absl::StatusOr<std::string> EnvFile(const std::vector<std::string>& env);
// Checks one --env item.
absl::Status CheckEnvItem(std::string_view item);

absl::StatusOr<Bytes> CustomerRamdisk(const RootfsTree& tree, const std::vector<std::string>& argv,
                                      const std::vector<std::string>& env);

}  // namespace lockout::image
