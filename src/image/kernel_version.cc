#include "src/image/kernel_version.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "src/common/strings.h"

namespace lockout::image {
namespace {

constexpr size_t kMaxVersion = 256;
constexpr size_t kMaxConfigLines = 64;
// x86 boot protocol setup header (Documentation/arch/x86/boot.rst).
constexpr size_t kBootFlagAt = 0x1FE;     // 0xAA55
constexpr size_t kHeaderMagicAt = 0x202;  // "HdrS"
constexpr size_t kProtocolVersionAt = 0x206;
constexpr size_t kKernelVersionAt = 0x20E;
constexpr size_t kKernelVersionBase = 0x200;

bool IsVersionChar(char c) { return c > ' ' && c < 0x7f; }

std::optional<std::string> CheckVersion(std::string_view v) {
  if (v.empty() || v.size() > kMaxVersion) return std::nullopt;
  for (char c : v) {
    if (!IsVersionChar(c)) return std::nullopt;
  }
  return std::string(v);
}

uint16_t Le16(ByteView b, size_t at) { return static_cast<uint16_t>(b[at] | (b[at + 1] << 8)); }

}  // namespace

std::optional<std::string> KernelVersionFromConfig(std::string_view config) {
  size_t n = 0;
  for (absl::string_view raw : absl::StrSplit(Absl(config), '\n')) {
    const std::string_view line = Std(raw);
    if (++n > kMaxConfigLines) break;
    constexpr std::string_view kPrefix = "# Linux/";
    constexpr std::string_view kSuffix = " Kernel Configuration";
    if (!line.starts_with(kPrefix) || !line.ends_with(kSuffix)) {
      continue;
    }
    // "# Linux/<arch> <version> Kernel Configuration"
    std::string_view middle =
        line.substr(kPrefix.size(), line.size() - kPrefix.size() - kSuffix.size());
    const size_t space = middle.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    return CheckVersion(middle.substr(space + 1));
  }
  return std::nullopt;
}

std::optional<std::string> KernelVersionFromBzImage(ByteView bzimage) {
  if (bzimage.size() < kKernelVersionAt + 2) return std::nullopt;
  if (Le16(bzimage, kBootFlagAt) != 0xAA55 || bzimage[kHeaderMagicAt] != 'H' ||
      bzimage[kHeaderMagicAt + 1] != 'd' || bzimage[kHeaderMagicAt + 2] != 'r' ||
      bzimage[kHeaderMagicAt + 3] != 'S' || Le16(bzimage, kProtocolVersionAt) < 0x0200) {
    return std::nullopt;
  }
  const uint16_t pointer = Le16(bzimage, kKernelVersionAt);
  if (pointer == 0) return std::nullopt;
  const size_t at = kKernelVersionBase + pointer;
  if (at >= bzimage.size()) return std::nullopt;
  size_t end = at;
  while (end < bzimage.size() && end - at <= kMaxVersion &&
         IsVersionChar(static_cast<char>(bzimage[end]))) {
    ++end;
  }
  // The word must end in a space or the NUL (not run off the input or the length cap).
  if (end == bzimage.size() || (bzimage[end] != ' ' && bzimage[end] != 0)) return std::nullopt;
  return CheckVersion(
      std::string_view(reinterpret_cast<const char*>(bzimage.data() + at), end - at));
}

}  // namespace lockout::image
