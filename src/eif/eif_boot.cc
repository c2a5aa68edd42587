#include "src/eif/eif_boot.h"

#include <utility>

#include "src/common/status_macros.h"
#include "src/eif/eif_format.h"

namespace lockout::eif {

absl::StatusOr<EifBootFiles> EifBootFilesOf(ByteView eif) {
  ASSIGN_OR_RETURN(EifImage image, EifReader::Parse(eif));
  EifBootFiles files;
  files.measurements = image.measurements;
  for (const SectionInfo& s : image.sections) {
    // Parse checked that every section lies inside the file.
    const ByteView data = eif.subspan(static_cast<size_t>(s.offset) + kSectionHeaderSize,
                                      static_cast<size_t>(s.size));
    switch (s.type) {
      case SectionType::kKernel:
        files.kernel.assign(data.begin(), data.end());
        break;
      case SectionType::kCmdline:
        files.cmdline.assign(data.begin(), data.end());
        if (files.cmdline.find('\0') != std::string::npos) {
          return absl::InvalidArgumentError("invalid EIF: the cmdline section contains a NUL byte");
        }
        break;
      case SectionType::kRamdisk:
        files.initrd.insert(files.initrd.end(), data.begin(), data.end());
        break;
      default:
        break;
    }
  }
  return files;
}

}  // namespace lockout::eif
