#pragma once

// DerivationPath: a BIP-32 key path such as "m/44'/60'/0'/0/0".
//
// Grammar (strict): "m" followed by zero or more "/<index>[']" components, where <index> is a
// decimal number without sign or leading zeros, below 2^31, and the hardened marker is one of
// ', h or H. No empty components, no whitespace, at most kMaxPathDepth components (BIP-32 depth
// is one byte). ToString() writes the canonical form with ' for hardened; parsing it gives the
// same path. Errors (InvalidArgument) name the component's position, never echo the text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::hd {

inline constexpr uint32_t kHardenedOffset = 0x80000000u;
inline constexpr size_t kMaxPathDepth = 255;
inline constexpr size_t kMaxPathTextSize = 4096;

inline constexpr bool IsHardened(uint32_t index) { return index >= kHardenedOffset; }

class DerivationPath final {
 public:
  // The empty path "m".
  DerivationPath() = default;
  // Errors: InvalidArgument if more than kMaxPathDepth indices.
  static absl::StatusOr<DerivationPath> FromIndices(std::vector<uint32_t> indices);
  static absl::StatusOr<DerivationPath> Parse(std::string_view text);

  // Child indices, hardened ones with kHardenedOffset added.
  const std::vector<uint32_t>& indices() const { return indices_; }
  std::string ToString() const;

  friend bool operator==(const DerivationPath&, const DerivationPath&) = default;

 private:
  explicit DerivationPath(std::vector<uint32_t> indices) : indices_(std::move(indices)) {}
  std::vector<uint32_t> indices_;
};

}  // namespace lockout::hd
