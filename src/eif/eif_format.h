#pragma once

// The Enclave Image File (EIF) layout, as defined by aws-nitro-enclaves-image-format
// (src/defs/mod.rs). All integers are big-endian.
//
//   EifHeader (548 bytes)
//     magic ".eif" | version u16 | flags u16 | default_mem u64 | default_cpus u64 |
//     reserved u16 | num_sections u16 | section_offsets[32] u64 | section_sizes[32] u64 |
//     unused u32 | eif_crc32 u32
//   then, for each section, at section_offsets[i]:
//     EifSectionHeader (12 bytes): section_type u16 | flags u16 | section_size u64
//     section data (section_size bytes == section_sizes[i])
//
// eif_crc32 is the CRC-32 (IEEE) of the header without its last 4 bytes followed by every byte
// after the header (section headers and data, in file order). Pure value types and codecs;
// thread-safe.

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::eif {

inline constexpr std::array<uint8_t, 4> kEifMagic = {'.', 'e', 'i', 'f'};
inline constexpr size_t kMaxSections = 32;
inline constexpr size_t kEifHeaderSize = 548;
inline constexpr size_t kSectionHeaderSize = 12;
// Offset of eif_crc32 inside the header: the CRC covers the header up to here.
inline constexpr size_t kHeaderCrcOffset = kEifHeaderSize - 4;
// Version written by current nitro-cli (V2 added the CRC, V3 the signature section, V4 the
// metadata section). The reader accepts kMinEifVersion..kMaxEifVersion.
inline constexpr uint16_t kCurrentEifVersion = 4;
inline constexpr uint16_t kMinEifVersion = 2;
inline constexpr uint16_t kMaxEifVersion = 4;
// Header flag bit 0: the image is for aarch64 (cleared: x86_64).
inline constexpr uint16_t kEifFlagArm64 = 0x1;

enum class SectionType : uint16_t {
  kInvalid = 0,
  kKernel = 1,
  kCmdline = 2,
  kRamdisk = 3,
  kSignature = 4,
  kMetadata = 5,
};
inline constexpr uint16_t kMaxSectionType = 5;

// "kernel", "cmdline", ... ("invalid" for kInvalid, "unknown" outside the enum).
std::string_view SectionTypeName(SectionType type);

struct EifHeader {
  std::array<uint8_t, 4> magic = kEifMagic;
  uint16_t version = kCurrentEifVersion;
  uint16_t flags = 0;
  uint64_t default_mem = 0;
  uint64_t default_cpus = 0;
  uint16_t reserved = 0;
  uint16_t num_sections = 0;
  std::array<uint64_t, kMaxSections> section_offsets{};
  std::array<uint64_t, kMaxSections> section_sizes{};
  uint32_t unused = 0;
  uint32_t eif_crc32 = 0;

  // Exactly kEifHeaderSize bytes.
  Bytes Encode() const;
  // Decodes the fields; checks only the length (InvalidArgument otherwise). Semantic checks
  // (magic, version, counts) are the reader's.
  static absl::StatusOr<EifHeader> Decode(ByteView data);
};

struct EifSectionHeader {
  uint16_t type = 0;  // raw: may be outside SectionType when decoded from untrusted bytes
  uint16_t flags = 0;
  uint64_t size = 0;

  // Exactly kSectionHeaderSize bytes.
  Bytes Encode() const;
  // Checks only the length.
  static absl::StatusOr<EifSectionHeader> Decode(ByteView data);
};

}  // namespace lockout::eif
