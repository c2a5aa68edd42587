#pragma once

// RootfsTree: the files of an enclave image's root filesystem (what goes under `rootfs/` in the
// customer ramdisk, or into a container image for the Docker path), held in memory.
//
//   RootfsTree tree;
//   RETURN_IF_ERROR(tree.AddFile("/lockout-enclave", 0755, binary));
//   for (const RootfsTree::Entry& e : tree.Entries()) ...
//
// Paths are absolute and canonical ("/etc/ssl/certs/ca-certificates.crt": no empty, "." or ".."
// components, no trailing slash). Adding a file creates its parent directories. Entries() lists
// the tree depth-first with each directory's children sorted by name (bytewise): the order a
// container export walks a tree, so the same files always give the same archive.
//
// What the tree stores is only path, permission bits and content: ownership and times are not
// inputs (the ramdisk writer fixes them), so a tree built from files copied anywhere, by anyone,
// at any time, is the same tree.
//
// Paths the AWS init or linuxkit own are refused (InvalidArgument): anything under /dev, /proc,
// /sys, /run and /tmp (mounted over at boot), and /etc/hosts, /etc/mtab, /etc/resolv.conf
// (linuxkit writes its own). A path that is already a file, or a file under a file, is refused
// too (AlreadyExists / InvalidArgument). Not thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::image {

class RootfsTree final {
 public:
  struct Entry {
    std::string path;  // relative: "etc/ssl", "lockout-enclave"
    bool is_directory = false;
    uint32_t permissions = 0;     // 0755 for directories
    const Bytes* data = nullptr;  // files only; owned by the tree
  };

  absl::Status AddFile(std::string_view path, uint32_t permissions, Bytes data);
  absl::Status AddDirectory(std::string_view path);

  bool HasFile(std::string_view path) const;
  bool HasDirectory(std::string_view path) const;
  std::vector<Entry> Entries() const;
  // Sum of the file sizes.
  uint64_t FileBytes() const;
  size_t FileCount() const;

  // Writes the tree under `dir` (which must exist; nothing in it is overwritten: an existing
  // entry fails the write): directories 0755, files with their permission bits, every mtime 0,
  // so the directory can be COPY'd into a FROM scratch image (deploy/Dockerfile).
  absl::Status WriteToDirectory(const std::string& dir) const;

 private:
  struct Node {
    bool is_directory = false;
    uint32_t permissions = 0;
    Bytes data;
  };
  using Components = std::vector<std::string>;
  static absl::StatusOr<Components> Split(std::string_view path);
  absl::Status AddParents(const Components& components);

  // Ordered by components, which is depth-first with sorted children.
  std::map<Components, Node> nodes_;
};

}  // namespace lockout::image
