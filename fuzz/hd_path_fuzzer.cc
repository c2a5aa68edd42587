// libFuzzer target: HD derivation paths (src/hd/derivation_path.h).
//
// The input is the path text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed path formats to a canonical string that parses back to the same indices and
//     formats to itself, has at most 255 components, and matches the input when the input
//     already used ' for hardened components.
// The same text as a path pattern (src/hd/path_pattern.h, the signing policy's "paths"):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed pattern formats canonically (parse(ToString()) == itself), and a pattern parses
//     whenever the text is a path, matching that path;
// and as an HD seed secret (src/hd/seed_secret.h, a KMS plaintext the enclave loads):
//   * failures are InvalidArgument; a parsed secret's seed is 16..64 bytes, and re-encoding it
//     gives the input back byte for byte.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/hd/derivation_path.h"
#include "src/hd/path_pattern.h"
#include "src/hd/seed_secret.h"

namespace hd = lockout::hd;
using lockout::fuzz::Check;

namespace {

void FuzzPattern(std::string_view text, const absl::StatusOr<hd::DerivationPath>& path) {
  absl::StatusOr<hd::PathPattern> pattern = hd::PathPattern::Parse(text);
  if (!pattern.ok()) {
    lockout::fuzz::CheckErrorMessage(pattern.status(), 200);
    Check(pattern.status().code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
    Check(!path.ok(), "a path that is not a pattern");
    return;
  }
  absl::StatusOr<hd::PathPattern> again = hd::PathPattern::Parse(pattern->ToString());
  Check(again.ok() && *again == *pattern, "a pattern's canonical text is not itself");
  if (path.ok()) Check(pattern->Matches(*path), "a literal pattern does not match its path");
}

void FuzzSeedSecret(const uint8_t* data, size_t size) {
  const lockout::SecretBytes input = lockout::SecretBytes::CopyFrom(lockout::ByteView(data, size));
  absl::StatusOr<hd::SeedSecret> secret = hd::ParseSeedSecret(input);
  if (!secret.ok()) {
    lockout::fuzz::CheckErrorMessage(secret.status(), 200);
    Check(secret.status().code() == absl::StatusCode::kInvalidArgument, "not InvalidArgument");
    return;
  }
  Check(secret->seed.size() >= hd::kMinSeedSize && secret->seed.size() <= hd::kMaxSeedSize,
        "seed size out of range");
  absl::StatusOr<lockout::SecretBytes> encoded = hd::EncodeSeedSecret(secret->curve, secret->seed);
  Check(encoded.ok() && encoded->Equals(input), "a seed secret does not re-encode to itself");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzSeedSecret(data, size);
  absl::StatusOr<hd::DerivationPath> path = hd::DerivationPath::Parse(text);
  FuzzPattern(text, path);
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
