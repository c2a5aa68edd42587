#include "src/eif/eif_writer.h"

#include "absl/strings/str_cat.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/eif/crc32.h"
#include "src/eif/eif_signature.h"

namespace lockout::eif {

EifWriter& EifWriter::SetKernel(Bytes kernel) {
  kernel_ = std::move(kernel);
  return *this;
}
EifWriter& EifWriter::SetCmdline(std::string cmdline) {
  cmdline_ = std::move(cmdline);
  return *this;
}
EifWriter& EifWriter::AddRamdisk(Bytes ramdisk) {
  ramdisks_.push_back(std::move(ramdisk));
  return *this;
}
EifWriter& EifWriter::SetMetadata(std::string json) {
  metadata_ = std::move(json);
  return *this;
}
EifWriter& EifWriter::SetSigner(Bytes certificate_pem, SecretBytes private_key_pem) {
  signer_cert_ = std::move(certificate_pem);
  signer_key_ = std::move(private_key_pem);
  raw_signature_.reset();
  return *this;
}
EifWriter& EifWriter::SetRawSignatureSection(Bytes section) {
  raw_signature_ = std::move(section);
  signer_cert_.reset();
  signer_key_.reset();
  return *this;
}
EifWriter& EifWriter::SetFlags(uint16_t flags) {
  flags_ = flags;
  return *this;
}
EifWriter& EifWriter::SetDefaultMemory(uint64_t bytes) {
  default_mem_ = bytes;
  return *this;
}
EifWriter& EifWriter::SetDefaultCpus(uint64_t cpus) {
  default_cpus_ = cpus;
  return *this;
}

absl::StatusOr<Measurements> EifWriter::Measure() const {
  if (kernel_.empty()) return absl::InvalidArgumentError("EifWriter: the kernel is empty");
  if (ramdisks_.empty()) return absl::InvalidArgumentError("EifWriter: no ramdisk");
  PcrAccumulator image;
  PcrAccumulator bootstrap;
  PcrAccumulator app;
  for (ByteView part : {ByteView(kernel_), AsBytes(cmdline_)}) {
    image.Update(part);
    bootstrap.Update(part);
  }
  for (size_t i = 0; i < ramdisks_.size(); ++i) {
    image.Update(ramdisks_[i]);
    (i == 0 ? bootstrap : app).Update(ramdisks_[i]);
  }
  Measurements m;
  m.pcr0 = image.Finish();
  m.pcr1 = bootstrap.Finish();
  m.pcr2 = app.Finish();
  if (signer_cert_.has_value()) {
    ASSIGN_OR_RETURN(m.pcr8, Pcr8FromCertificatePem(*signer_cert_));
  } else if (raw_signature_.has_value()) {
    absl::StatusOr<std::vector<PcrSignature>> entries = ParseSignatureSection(*raw_signature_);
    if (entries.ok()) {
      absl::StatusOr<crypto::Sha384Digest> pcr8 =
          Pcr8FromCertificatePem(entries->front().signing_certificate);
      if (pcr8.ok()) m.pcr8 = *pcr8;
    }
  }
  return m;
}

absl::StatusOr<Bytes> EifWriter::Build() const {
  ASSIGN_OR_RETURN(Measurements m, Measure());

  struct Section {
    SectionType type;
    ByteView data;
  };
  std::vector<Section> sections;
  sections.push_back({SectionType::kKernel, kernel_});
  sections.push_back({SectionType::kCmdline, AsBytes(cmdline_)});
  if (metadata_.has_value()) sections.push_back({SectionType::kMetadata, AsBytes(*metadata_)});
  for (const Bytes& r : ramdisks_) sections.push_back({SectionType::kRamdisk, r});
  Bytes signature;
  if (signer_cert_.has_value()) {
    ASSIGN_OR_RETURN(PcrSignature sig, SignPcr0(m.pcr0, *signer_cert_, *signer_key_));
    ASSIGN_OR_RETURN(signature, EncodeSignatureSection({sig}));
  } else if (raw_signature_.has_value()) {
    signature = *raw_signature_;
  }
  if (signer_cert_.has_value() || raw_signature_.has_value()) {
    sections.push_back({SectionType::kSignature, signature});
  }
  if (sections.size() > kMaxSections) {
    return absl::InvalidArgumentError(
        absl::StrCat("EifWriter: ", sections.size(), " sections; at most ", kMaxSections));
  }

  EifHeader header;
  header.flags = flags_;
  header.default_mem = default_mem_;
  header.default_cpus = default_cpus_;
  header.num_sections = static_cast<uint16_t>(sections.size());
  uint64_t offset = kEifHeaderSize;
  for (size_t i = 0; i < sections.size(); ++i) {
    header.section_offsets[i] = offset;
    header.section_sizes[i] = sections[i].data.size();
    offset += kSectionHeaderSize + sections[i].data.size();
  }

  Bytes out = header.Encode();
  out.reserve(static_cast<size_t>(offset));
  for (const Section& s : sections) {
    EifSectionHeader sh;
    sh.type = static_cast<uint16_t>(s.type);
    sh.size = s.data.size();
    Bytes raw = sh.Encode();
    out.insert(out.end(), raw.begin(), raw.end());
    out.insert(out.end(), s.data.begin(), s.data.end());
  }
  // CRC over the header minus its CRC field, then everything after the header.
  Crc32 crc;
  crc.Update(ByteView(out).subspan(0, kHeaderCrcOffset));
  crc.Update(ByteView(out).subspan(kEifHeaderSize));
  const uint32_t value = crc.Value();
  for (size_t i = 0; i < 4; ++i) {
    out[kHeaderCrcOffset + i] = static_cast<uint8_t>(value >> (24 - 8 * i));
  }
  return out;
}

absl::Status EifWriter::WriteFile(const std::string& path) const {
  ASSIGN_OR_RETURN(Bytes eif, Build());
  return WriteFileAtomic(path, eif, 0644);
}

}  // namespace lockout::eif
