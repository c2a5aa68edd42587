#pragma once

// Reads and measures an Enclave Image File (EIF).
//
//   absl::StatusOr<EifImage> image = EifReader::Open("enclave.eif");
//   if (image.ok()) std::cout << PcrHex(image->measurements.pcr0);
//
// The whole file is validated before anything is trusted:
// - magic ".eif", version kMinEifVersion..kMaxEifVersion, 1..32 sections, unused header slots 0;
// - every section lies after the header and inside the file; sorted by offset, the sections
//   tile the rest of the file exactly (no overlap, no gap, no trailing bytes), because the
//   CRC and nitro-cli's reader walk the file sequentially;
// - each section header's type is known and its size equals the header's table entry;
// - exactly one non-empty kernel, then exactly one cmdline, then at least one ramdisk (file
//   order), at most one signature and one metadata section;
// - the CRC-32 matches (unless EifReadOptions::require_valid_crc is false, which reports
//   crc_ok = false instead, as nitro-cli's CheckCRC does);
// - a signature section parses and its certificate is a PEM X.509 certificate; metadata is a
//   JSON object.
// Section data is streamed in 1 MiB chunks (Open never holds a whole ramdisk in memory); the
// signature and metadata sections are capped.
//
// Errors: NotFound / Internal for I/O, InvalidArgument for malformed files, DataLoss for a CRC
// mismatch. Messages carry offsets, sizes and section indices, never section contents.
// Thread-safe (no shared state).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/eif/eif_format.h"
#include "src/eif/eif_signature.h"
#include "src/eif/measurements.h"

namespace lockout::eif {

inline constexpr size_t kMaxMetadataSectionSize = 4 << 20;

struct EifReadOptions {
  bool require_valid_crc = true;
  uint64_t max_file_size = uint64_t{16} << 30;  // 16 GiB
};

struct SectionInfo {
  SectionType type = SectionType::kInvalid;
  uint16_t flags = 0;
  size_t table_index = 0;  // index in the header's section tables
  uint64_t offset = 0;     // of the 12-byte section header
  uint64_t size = 0;       // of the data that follows it
};

struct EifImage {
  EifHeader header;
  uint64_t file_size = 0;
  std::vector<SectionInfo> sections;  // in file order
  Measurements measurements;
  uint32_t computed_crc32 = 0;
  bool crc_ok = false;
  // The first PCR signature entry of a signed image; signature_valid says whether it verifies
  // under its certificate and signs this image's PCR0 (nitro-cli's SignatureCheck).
  std::optional<PcrSignature> signature;
  std::optional<bool> signature_valid;
  // The metadata section's JSON text (EIF v4).
  std::optional<std::string> metadata_json;

  bool is_signed() const { return signature.has_value(); }
  bool is_arm64() const { return (header.flags & kEifFlagArm64) != 0; }
};

class EifReader final {
 public:
  // Reads the file at `path` (streamed with pread).
  static absl::StatusOr<EifImage> Open(const std::string& path, const EifReadOptions& options = {});
  // Parses an EIF held in memory. `data` is not retained.
  static absl::StatusOr<EifImage> Parse(ByteView data, const EifReadOptions& options = {});

  EifReader() = delete;
};

}  // namespace lockout::eif
