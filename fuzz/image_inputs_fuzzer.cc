// Fuzzes the parsers the image builder applies to files and tool output it did not write: the
// enclave binary's ELF header (PT_INTERP), the kernel version in a bzImage setup header and in
// bzImage.config, the dynamic loader's --list output and dpkg-query's output. The first byte
// picks the parser; the rest is its input.
//
// Properties checked (abort on violation):
// - a parsed interpreter is an absolute path of at most 4096 bytes without NUL;
// - a kernel version is 1..256 printable ASCII characters without spaces;
// - every listed library has a non-empty name and an absolute path;
// - parsed dpkg entries have non-empty keys and values.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "src/image/debian_packages.h"
#include "src/image/elf_info.h"
#include "src/image/kernel_version.h"
#include "src/image/shared_libraries.h"

namespace {

void CheckVersion(const std::optional<std::string>& v) {
  if (!v.has_value()) return;
  if (v->empty() || v->size() > 256) std::abort();
  for (char c : *v) {
    if (c <= ' ' || c >= 0x7f) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockout::image;  // NOLINT(build/namespaces): fuzz target scope only
  if (size == 0) return 0;
  const lockout::ByteView input(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      absl::StatusOr<ElfInfo> info = ParseElfInfo(input);
      if (info.ok() && info->interpreter.has_value()) {
        const std::string& p = *info->interpreter;
        if (p.empty() || p.front() != '/' || p.size() > 4096 || p.find('\0') != std::string::npos) {
          std::abort();
        }
      }
      break;
    }
    case 1:
      CheckVersion(KernelVersionFromBzImage(input));
      break;
    case 2:
      CheckVersion(KernelVersionFromConfig(text));
      break;
    case 3: {
      absl::StatusOr<std::vector<SharedLibrary>> libs =
          ParseLoaderList(text, "/lib64/ld-linux-x86-64.so.2");
      if (libs.ok()) {
        for (const SharedLibrary& lib : *libs) {
          if (lib.name.empty() || lib.path.empty() || lib.path.front() != '/') std::abort();
        }
      }
      break;
    }
    default:
      for (const auto& [k, v] : ParseDpkgSearch(text)) {
        if (k.empty() || v.empty() || k.front() != '/') std::abort();
      }
      for (const auto& [k, v] : ParseDpkgVersions(text)) {
        if (k.empty() || v.empty()) std::abort();
      }
      break;
  }
  return 0;
}
