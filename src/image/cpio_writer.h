#pragma once

// Writes uncompressed "newc" cpio archives exactly as the linuxkit that nitro-cli runs writes an
// enclave image's ramdisks (ENCLAVE-IMAGE.md, "Ramdisk format"), so that lockout's ramdisks are
// byte-identical to nitro-cli's for the same entries:
//   - 110-byte ASCII header "070701" + 13 eight-digit lower-case hex fields, then the name and
//     its NUL, padded to 4 bytes, then the data, padded to 4 bytes;
//   - inode numbers 721, 722, ... one per entry, the trailer included;
//   - uid/gid 0, nlink 2 for directories and 1 otherwise, devmajor/devminor 3/1, rdev 0, check 0;
//   - the trailer "TRAILER!!!" with mode 0 and mtime 0; the archive zero-padded to 512 bytes.
// Entries are written in the order they are added: ordering and naming are the caller's
// (src/image/ramdisk.h). The mode passed in is the permission bits; the file type bits are added.
//
//   CpioWriter w;
//   RETURN_IF_ERROR(w.AddDirectory("dev", 0755, kLinuxkitMtime));
//   RETURN_IF_ERROR(w.AddFile("init", 0755, kLinuxkitMtime, init));
//   Bytes archive = std::move(w).Finish();
//
// Errors (InvalidArgument): an empty name or one containing NUL, permission bits outside 07777,
// a data size or entry count that does not fit newc's 32-bit fields. Not thread-safe.

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "src/common/bytes.h"

namespace lockout::image {

// linuxkit's fixed time for every entry it creates itself: 2017-04-18 16:30:00 UTC.
inline constexpr uint32_t kLinuxkitMtime = 1492533000;
// The first inode number linuxkit gives.
inline constexpr uint32_t kFirstInode = 721;
inline constexpr size_t kNewcHeaderSize = 110;
inline constexpr size_t kArchiveBlock = 512;

class CpioWriter final {
 public:
  absl::Status AddDirectory(std::string_view name, uint32_t permissions, uint32_t mtime);
  absl::Status AddFile(std::string_view name, uint32_t permissions, uint32_t mtime, ByteView data);
  // A symbolic link: the data is the target path, as newc stores it.
  absl::Status AddSymlink(std::string_view name, std::string_view target, uint32_t permissions,
                          uint32_t mtime);
  // Appends the trailer and the padding and returns the archive. The writer is spent.
  Bytes Finish() &&;

 private:
  absl::Status Add(std::string_view name, uint32_t mode, uint32_t nlink, uint32_t mtime,
                   ByteView data);
  Bytes out_;
  uint32_t next_inode_ = kFirstInode;
};

}  // namespace lockout::image
