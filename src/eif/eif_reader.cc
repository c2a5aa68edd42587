#include "src/eif/eif_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/eif/crc32.h"

namespace lockout::eif {
namespace {

constexpr size_t kChunkSize = 1 << 20;

// Random-access bytes: an in-memory buffer or a file read with pread.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Returns `len` (<= kChunkSize) bytes at `offset`; valid until the next call. The caller has
  // checked that the range lies inside size().
  virtual absl::StatusOr<ByteView> Read(uint64_t offset, size_t len) = 0;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(ByteView data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  absl::StatusOr<ByteView> Read(uint64_t offset, size_t len) override {
    return data_.subspan(static_cast<size_t>(offset), len);
  }

 private:
  ByteView data_;
};

class FileSource final : public Source {
 public:
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)), buffer_(kChunkSize) {}
  ~FileSource() override { close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  absl::StatusOr<ByteView> Read(uint64_t offset, size_t len) override {
    size_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd_, buffer_.data() + done, len - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(absl::StrCat("cannot read ", path_, " at offset ", offset + done,
                                                ": ", std::strerror(errno)));
      }
      if (n == 0) {
        return absl::InternalError(
            absl::StrCat(path_, " shrank while being read (EOF at offset ", offset + done, ")"));
      }
      done += static_cast<size_t>(n);
    }
    return ByteView(buffer_.data(), len);
  }

 private:
  int fd_;
  uint64_t size_;
  std::string path_;
  Bytes buffer_;
};

absl::Status Malformed(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("invalid EIF: ", Absl(message)));
}

struct Pcrs {
  PcrAccumulator image;      // PCR0
  PcrAccumulator bootstrap;  // PCR1
  PcrAccumulator app;        // PCR2
};

absl::Status CheckHeader(const EifHeader& h, uint64_t file_size) {
  if (h.magic != kEifMagic) {
    return Malformed(absl::StrFormat("bad magic %02x%02x%02x%02x (want 2e656966 \".eif\")",
                                     h.magic[0], h.magic[1], h.magic[2], h.magic[3]));
  }
  if (h.version < kMinEifVersion || h.version > kMaxEifVersion) {
    return Malformed(absl::StrCat("unsupported version ", h.version, " (this reader knows ",
                                  kMinEifVersion, "..", kMaxEifVersion, ")"));
  }
  if (h.num_sections == 0 || h.num_sections > kMaxSections) {
    return Malformed(
        absl::StrCat("num_sections is ", h.num_sections, "; must be 1..", kMaxSections));
  }
  for (size_t i = h.num_sections; i < kMaxSections; ++i) {
    if (h.section_offsets[i] != 0 || h.section_sizes[i] != 0) {
      return Malformed(absl::StrCat("section table slot ", i, " beyond num_sections ",
                                    h.num_sections, " is not zero"));
    }
  }
  for (size_t i = 0; i < h.num_sections; ++i) {
    const uint64_t offset = h.section_offsets[i];
    const uint64_t size = h.section_sizes[i];
    if (offset < kEifHeaderSize) {
      return Malformed(absl::StrCat("section ", i, " at offset ", offset,
                                    " overlaps the EIF header (", kEifHeaderSize, " bytes)"));
    }
    if (offset > file_size || file_size - offset < kSectionHeaderSize ||
        file_size - offset - kSectionHeaderSize < size) {
      return Malformed(absl::StrCat("section ", i, " (offset ", offset, ", size ", size,
                                    ") extends past the end of the file (", file_size, " bytes)"));
    }
  }
  return absl::OkStatus();
}

// Sorted by offset, sections must tile [kEifHeaderSize, file_size) exactly.
absl::StatusOr<std::vector<size_t>> FileOrder(const EifHeader& h, uint64_t file_size) {
  std::vector<size_t> order(h.num_sections);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&h](size_t a, size_t b) {
    return h.section_offsets[a] < h.section_offsets[b];
  });
  uint64_t expected = kEifHeaderSize;
  size_t previous = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t i = order[k];
    const uint64_t offset = h.section_offsets[i];
    if (offset < expected) {
      return Malformed(absl::StrCat("sections ", previous, " and ", i, " overlap (section ", i,
                                    " starts at ", offset, ", section ", previous, " ends at ",
                                    expected, ")"));
    }
    if (offset > expected) {
      return Malformed(absl::StrCat("gap of ", offset - expected, " bytes at offset ", expected,
                                    " before section ", i));
    }
    expected = offset + kSectionHeaderSize + h.section_sizes[i];  // bounded by CheckHeader
    previous = i;
  }
  if (expected != file_size) {
    return Malformed(absl::StrCat(file_size - expected, " trailing bytes after the last section",
                                  " (offset ", expected, ")"));
  }
  return order;
}

// Reads `size` bytes at `offset` in chunks, feeding the CRC and `sink`.
template <typename Sink>
absl::Status Stream(Source& src, uint64_t offset, uint64_t size, Crc32& crc, Sink&& sink) {
  while (size > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, kChunkSize));
    ASSIGN_OR_RETURN(ByteView chunk, src.Read(offset, n));
    crc.Update(chunk);
    sink(chunk);
    offset += n;
    size -= n;
  }
  return absl::OkStatus();
}

absl::StatusOr<EifImage> Measure(Source& src, const EifReadOptions& options) {
  EifImage image;
  image.file_size = src.size();
  if (image.file_size > options.max_file_size) {
    return Malformed(
        absl::StrCat("file is ", image.file_size, " bytes; the limit is ", options.max_file_size));
  }
  if (image.file_size < kEifHeaderSize) {
    return Malformed(absl::StrCat("file is ", image.file_size, " bytes, shorter than the ",
                                  kEifHeaderSize, "-byte header"));
  }
  Crc32 crc;
  {
    ASSIGN_OR_RETURN(ByteView raw, src.Read(0, kEifHeaderSize));
    ASSIGN_OR_RETURN(image.header, EifHeader::Decode(raw));
    crc.Update(raw.subspan(0, kHeaderCrcOffset));
  }
  const EifHeader& h = image.header;
  RETURN_IF_ERROR(CheckHeader(h, image.file_size));
  ASSIGN_OR_RETURN(std::vector<size_t> order, FileOrder(h, image.file_size));

  Pcrs pcrs;
  size_t kernels = 0;
  size_t cmdlines = 0;
  size_t ramdisks = 0;
  std::optional<Bytes> signature_section;
  std::optional<Bytes> metadata_section;
  for (size_t i : order) {
    SectionInfo info;
    info.table_index = i;
    info.offset = h.section_offsets[i];
    info.size = h.section_sizes[i];
    ASSIGN_OR_RETURN(ByteView raw, src.Read(info.offset, kSectionHeaderSize));
    crc.Update(raw);
    ASSIGN_OR_RETURN(EifSectionHeader sh, EifSectionHeader::Decode(raw));
    if (sh.type == 0 || sh.type > kMaxSectionType) {
      return Malformed(
          absl::StrCat("section ", i, " at offset ", info.offset, " has invalid type ", sh.type));
    }
    if (sh.size != info.size) {
      return Malformed(absl::StrCat("section ", i, " at offset ", info.offset, " says size ",
                                    sh.size, " but the EIF header says ", info.size));
    }
    info.type = static_cast<SectionType>(sh.type);
    info.flags = sh.flags;
    const uint64_t data_offset = info.offset + kSectionHeaderSize;
    const std::string where = absl::StrCat(" (section ", i, " at offset ", info.offset, ")");

    switch (info.type) {
      case SectionType::kKernel:
        if (kernels++ > 0) return Malformed(absl::StrCat("second kernel section", where));
        if (info.size == 0) return Malformed(absl::StrCat("empty kernel", where));
        RETURN_IF_ERROR(Stream(src, data_offset, info.size, crc, [&pcrs](ByteView d) {
          pcrs.image.Update(d);
          pcrs.bootstrap.Update(d);
        }));
        break;
      case SectionType::kCmdline:
        if (kernels == 0) return Malformed(absl::StrCat("cmdline before the kernel", where));
        if (cmdlines++ > 0) return Malformed(absl::StrCat("second cmdline section", where));
        RETURN_IF_ERROR(Stream(src, data_offset, info.size, crc, [&pcrs](ByteView d) {
          pcrs.image.Update(d);
          pcrs.bootstrap.Update(d);
        }));
        break;
      case SectionType::kRamdisk: {
        if (cmdlines == 0) {
          return Malformed(absl::StrCat("ramdisk before the kernel and cmdline", where));
        }
        const bool first = ramdisks++ == 0;
        RETURN_IF_ERROR(Stream(src, data_offset, info.size, crc, [&pcrs, first](ByteView d) {
          pcrs.image.Update(d);
          (first ? pcrs.bootstrap : pcrs.app).Update(d);
        }));
        break;
      }
      case SectionType::kSignature:
      case SectionType::kMetadata: {
        const bool is_sig = info.type == SectionType::kSignature;
        std::optional<Bytes>& slot = is_sig ? signature_section : metadata_section;
        const size_t cap = is_sig ? kMaxSignatureSectionSize : kMaxMetadataSectionSize;
        if (slot.has_value()) {
          return Malformed(
              absl::StrCat("second ", Absl(SectionTypeName(info.type)), " section", where));
        }
        if (info.size > cap) {
          return Malformed(absl::StrCat(Absl(SectionTypeName(info.type)), " section of ", info.size,
                                        " bytes exceeds the limit of ", cap, where));
        }
        slot.emplace();
        slot->reserve(static_cast<size_t>(info.size));
        RETURN_IF_ERROR(Stream(src, data_offset, info.size, crc, [&slot](ByteView d) {
          slot->insert(slot->end(), d.begin(), d.end());
        }));
        break;
      }
      case SectionType::kInvalid:
        return Malformed(absl::StrCat("invalid section type", where));
    }
    image.sections.push_back(info);
  }
  if (kernels == 0) return Malformed("no kernel section");
  if (cmdlines == 0) return Malformed("no cmdline section");
  if (ramdisks == 0) return Malformed("no ramdisk section");

  image.computed_crc32 = crc.Value();
  image.crc_ok = image.computed_crc32 == h.eif_crc32;
  if (!image.crc_ok && options.require_valid_crc) {
    return absl::DataLossError(
        absl::StrFormat("invalid EIF: CRC-32 mismatch (header says %08x, contents give %08x)",
                        h.eif_crc32, image.computed_crc32));
  }

  image.measurements.pcr0 = pcrs.image.Finish();
  image.measurements.pcr1 = pcrs.bootstrap.Finish();
  image.measurements.pcr2 = pcrs.app.Finish();

  if (signature_section.has_value()) {
    ASSIGN_OR_RETURN(std::vector<PcrSignature> entries, ParseSignatureSection(*signature_section));
    ASSIGN_OR_RETURN(image.measurements.pcr8,
                     Pcr8FromCertificatePem(entries.front().signing_certificate));
    ASSIGN_OR_RETURN(bool valid, VerifyPcr0Signature(entries.front(), image.measurements.pcr0));
    image.signature = std::move(entries.front());
    image.signature_valid = valid;
  }
  if (metadata_section.has_value()) {
    nlohmann::json parsed =
        nlohmann::json::parse(metadata_section->begin(), metadata_section->end(), nullptr,
                              /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return Malformed("metadata section is not a JSON object");
    }
    image.metadata_json = ToString(*metadata_section);
  }
  return image;
}

}  // namespace

absl::StatusOr<EifImage> EifReader::Open(const std::string& path, const EifReadOptions& options) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return absl::Status(e == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kInternal,
                        absl::StrCat("cannot open ", path, ": ", std::strerror(e)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"));
  }
  FileSource src(fd, static_cast<uint64_t>(st.st_size), path);
  return Measure(src, options);
}

absl::StatusOr<EifImage> EifReader::Parse(ByteView data, const EifReadOptions& options) {
  MemorySource src(data);
  return Measure(src, options);
}

}  // namespace lockout::eif
