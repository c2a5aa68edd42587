#include "src/eif/eif_format.h"

#include "absl/strings/str_cat.h"

namespace lockout::eif {
namespace {

void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// Bounds are checked once by the callers (exact lengths), so the cursor only advances.
class Cursor {
 public:
  explicit Cursor(ByteView data) : data_(data) {}
  uint16_t U16() { return static_cast<uint16_t>(Take(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Take(4)); }
  uint64_t U64() { return Take(8); }

 private:
  uint64_t Take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | data_[pos_++];
    return v;
  }
  ByteView data_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view SectionTypeName(SectionType type) {
  switch (type) {
    case SectionType::kInvalid:
      return "invalid";
    case SectionType::kKernel:
      return "kernel";
    case SectionType::kCmdline:
      return "cmdline";
    case SectionType::kRamdisk:
      return "ramdisk";
    case SectionType::kSignature:
      return "signature";
    case SectionType::kMetadata:
      return "metadata";
  }
  return "unknown";
}

Bytes EifHeader::Encode() const {
  Bytes out;
  out.reserve(kEifHeaderSize);
  out.insert(out.end(), magic.begin(), magic.end());
  PutU16(out, version);
  PutU16(out, flags);
  PutU64(out, default_mem);
  PutU64(out, default_cpus);
  PutU16(out, reserved);
  PutU16(out, num_sections);
  for (uint64_t v : section_offsets) PutU64(out, v);
  for (uint64_t v : section_sizes) PutU64(out, v);
  PutU32(out, unused);
  PutU32(out, eif_crc32);
  return out;
}

absl::StatusOr<EifHeader> EifHeader::Decode(ByteView data) {
  if (data.size() != kEifHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("EIF header must be ", kEifHeaderSize, " bytes, got ", data.size()));
  }
  EifHeader h;
  for (size_t i = 0; i < h.magic.size(); ++i) h.magic[i] = data[i];
  Cursor c(data.subspan(h.magic.size()));
  h.version = c.U16();
  h.flags = c.U16();
  h.default_mem = c.U64();
  h.default_cpus = c.U64();
  h.reserved = c.U16();
  h.num_sections = c.U16();
  for (uint64_t& v : h.section_offsets) v = c.U64();
  for (uint64_t& v : h.section_sizes) v = c.U64();
  h.unused = c.U32();
  h.eif_crc32 = c.U32();
  return h;
}

Bytes EifSectionHeader::Encode() const {
  Bytes out;
  out.reserve(kSectionHeaderSize);
  PutU16(out, type);
  PutU16(out, flags);
  PutU64(out, size);
  return out;
}

absl::StatusOr<EifSectionHeader> EifSectionHeader::Decode(ByteView data) {
  if (data.size() != kSectionHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EIF section header must be ", kSectionHeaderSize, " bytes, got ", data.size()));
  }
  Cursor c(data);
  EifSectionHeader s;
  s.type = c.U16();
  s.flags = c.U16();
  s.size = c.U64();
  return s;
}

}  // namespace lockout::eif
