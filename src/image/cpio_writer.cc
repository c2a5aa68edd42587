#include "src/image/cpio_writer.h"

#include <sys/stat.h>

#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace lockout::image {
namespace {

constexpr uint32_t kMaxPermissions = 07777;

void PadTo4(Bytes& out) {
  while (out.size() % 4 != 0) out.push_back(0);
}

void PutHex8(Bytes& out, uint32_t value) {
  char field[9];
  std::snprintf(field, sizeof(field), "%08x", value);
  out.insert(out.end(), field, field + 8);
}

constexpr std::string_view kTrailerName = "TRAILER!!!";

absl::Status CheckPermissions(uint32_t permissions) {
  if (permissions > kMaxPermissions) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpio: permission bits 0", absl::Hex(permissions), " exceed 07777"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CpioWriter::AddDirectory(std::string_view name, uint32_t permissions, uint32_t mtime) {
  RETURN_IF_ERROR(CheckPermissions(permissions));
  return Add(name, S_IFDIR | permissions, /*nlink=*/2, mtime, {});
}

absl::Status CpioWriter::AddFile(std::string_view name, uint32_t permissions, uint32_t mtime,
                                 ByteView data) {
  RETURN_IF_ERROR(CheckPermissions(permissions));
  return Add(name, S_IFREG | permissions, /*nlink=*/1, mtime, data);
}

absl::Status CpioWriter::AddSymlink(std::string_view name, std::string_view target,
                                    uint32_t permissions, uint32_t mtime) {
  RETURN_IF_ERROR(CheckPermissions(permissions));
  if (target.empty()) return absl::InvalidArgumentError("cpio: empty symlink target");
  return Add(name, S_IFLNK | permissions, /*nlink=*/1, mtime, AsBytes(target));
}

absl::Status CpioWriter::Add(std::string_view name, uint32_t mode, uint32_t nlink, uint32_t mtime,
                             ByteView data) {
  // The trailer name would end the archive early for every reader.
  if (name.empty() || name.find('\0') != std::string_view::npos ||
      (name == kTrailerName && mode != 0)) {
    return absl::InvalidArgumentError(
        "cpio: entry names must be non-empty, without NUL, and not TRAILER!!!");
  }
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (data.size() > kMax || name.size() + 1 > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpio: entry of ", data.size(), " bytes exceeds newc's 32-bit size"));
  }
  // One inode number is always left for the trailer.
  if (next_inode_ >= std::numeric_limits<uint32_t>::max() - 1 && mode != 0) {
    return absl::InvalidArgumentError("cpio: too many entries");
  }
  out_.insert(out_.end(), {'0', '7', '0', '7', '0', '1'});
  PutHex8(out_, next_inode_++);
  PutHex8(out_, mode);
  PutHex8(out_, 0);  // uid
  PutHex8(out_, 0);  // gid
  PutHex8(out_, nlink);
  PutHex8(out_, mtime);
  PutHex8(out_, static_cast<uint32_t>(data.size()));
  PutHex8(out_, 3);  // devmajor: linuxkit's constant
  PutHex8(out_, 1);  // devminor
  PutHex8(out_, 0);  // rdevmajor
  PutHex8(out_, 0);  // rdevminor
  PutHex8(out_, static_cast<uint32_t>(name.size() + 1));
  PutHex8(out_, 0);  // check
  out_.insert(out_.end(), name.begin(), name.end());
  out_.push_back(0);
  PadTo4(out_);
  out_.insert(out_.end(), data.begin(), data.end());
  PadTo4(out_);
  return absl::OkStatus();
}

Bytes CpioWriter::Finish() && {
  // The trailer is a regular entry with mode 0 and mtime 0 (never fails: the name is fixed).
  (void)Add(kTrailerName, /*mode=*/0, /*nlink=*/1, /*mtime=*/0, {});
  while (out_.size() % kArchiveBlock != 0) out_.push_back(0);
  return std::move(out_);
}

}  // namespace lockout::image
