// libFuzzer target: HD derivation paths (src/hd/derivation_path.h).
//
// The input is the path text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed path formats to a canonical string that parses back to the same indices and
//     formats to itself, has at most 255 components, and matches the input when the input
//     already used ' for hardened components.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/hd/derivation_path.h"

namespace hd = lockout::hd;
using lockout::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<hd::DerivationPath> path = hd::DerivationPath::Parse(text);
  if (!path.ok()) {
    lockout::fuzz::CheckErrorMessage(path.status(), 200);
    Check(path.status().code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
    return 0;
  }
  Check(path->indices().size() <= hd::kMaxPathDepth, "path deeper than 255");
  const std::string formatted = path->ToString();
  absl::StatusOr<hd::DerivationPath> again = hd::DerivationPath::Parse(formatted);
  Check(again.ok(), "a formatted path does not parse");
  Check(*again == *path, "the indices changed in a format/parse round trip");
  Check(again->ToString() == formatted, "formatting is not canonical");
  if (text.find_first_of("hH") == std::string_view::npos) {
    Check(formatted == text, "a canonical input did not format to itself");
  }
  return 0;
}
