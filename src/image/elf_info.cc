#include "src/image/elf_info.h"

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::image {
namespace {

// ELF64 header and program header layout (System V gABI, "ELF Header", "Program Header").
constexpr size_t kEhdrSize = 64;
constexpr size_t kPhdrMinSize = 56;
constexpr uint16_t kTypeExec = 2;
constexpr uint16_t kTypeDyn = 3;
constexpr uint32_t kPtInterp = 3;
constexpr size_t kMaxInterpreter = 4096;

uint64_t Le(ByteView b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("not a usable ELF64 executable: ", Absl(what)));
}

}  // namespace

absl::StatusOr<ElfInfo> ParseElfInfo(ByteView file) {
  if (file.size() < kEhdrSize || file[0] != 0x7f || file[1] != 'E' || file[2] != 'L' ||
      file[3] != 'F') {
    return Malformed("no ELF magic");
  }
  if (file[4] != 2) return Malformed("not ELFCLASS64");
  if (file[5] != 1) return Malformed("not little-endian");
  const auto type = static_cast<uint16_t>(Le(file, 16, 2));
  if (type != kTypeExec && type != kTypeDyn) {
    return Malformed(absl::StrCat("e_type ", type, " is not an executable"));
  }
  ElfInfo info;
  info.machine = static_cast<uint16_t>(Le(file, 18, 2));
  const uint64_t phoff = Le(file, 32, 8);
  const uint64_t phentsize = Le(file, 54, 2);
  const uint64_t phnum = Le(file, 56, 2);
  if (phnum == 0) return info;
  if (phentsize < kPhdrMinSize) {
    return Malformed(absl::StrCat("e_phentsize ", phentsize, " < ", kPhdrMinSize));
  }
  // phnum and phentsize are 16-bit: the product cannot overflow 64 bits.
  if (phoff > file.size() || phnum * phentsize > file.size() - phoff) {
    return Malformed(absl::StrCat("program headers at ", phoff, " (", phnum, " x ", phentsize,
                                  ") run past the end of the ", file.size(), "-byte file"));
  }
  for (uint64_t i = 0; i < phnum; ++i) {
    const size_t ph = static_cast<size_t>(phoff + i * phentsize);
    if (Le(file, ph, 4) != kPtInterp) continue;
    if (info.interpreter.has_value()) return Malformed("more than one PT_INTERP");
    const uint64_t offset = Le(file, ph + 8, 8);
    const uint64_t size = Le(file, ph + 32, 8);
    if (size < 2 || size > kMaxInterpreter + 1 || offset > file.size() ||
        size > file.size() - offset) {
      return Malformed(absl::StrCat("PT_INTERP of ", size, " bytes at ", offset,
                                    " is empty, too long or outside the file"));
    }
    const ByteView raw = file.subspan(static_cast<size_t>(offset), static_cast<size_t>(size));
    std::string path(raw.begin(), raw.end() - 1);
    if (raw.back() != 0 || path.find('\0') != std::string::npos || path.front() != '/') {
      return Malformed("PT_INTERP is not one NUL-terminated absolute path");
    }
    info.interpreter = std::move(path);
  }
  return info;
}

}  // namespace lockout::image
