#pragma once

// What the image builder needs to know about an executable: its machine and the program
// interpreter (the dynamic loader named by PT_INTERP; none for a static executable).
//
// Only ELF64 little-endian files of type ET_EXEC or ET_DYN are accepted. Every offset and size
// is checked against the file before it is used; the interpreter must be an absolute path of at
// most 4096 bytes, NUL-terminated inside its segment, with no other NUL.
// Errors: InvalidArgument, with offsets and sizes in the message. Thread-safe (pure).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::image {

inline constexpr uint16_t kElfMachineX86_64 = 62;    // EM_X86_64
inline constexpr uint16_t kElfMachineAarch64 = 183;  // EM_AARCH64

struct ElfInfo {
  uint16_t machine = 0;
  std::optional<std::string> interpreter;
};

absl::StatusOr<ElfInfo> ParseElfInfo(ByteView file);

}  // namespace lockout::image
