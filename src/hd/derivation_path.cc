#include "src/hd/derivation_path.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout::hd {

absl::StatusOr<DerivationPath> DerivationPath::FromIndices(std::vector<uint32_t> indices) {
  if (indices.size() > kMaxPathDepth) {
    return absl::InvalidArgumentError(absl::StrCat("derivation path: ", indices.size(),
                                                   " components exceed the limit of ",
                                                   kMaxPathDepth));
  }
  return DerivationPath(std::move(indices));
}

absl::StatusOr<DerivationPath> DerivationPath::Parse(std::string_view text) {
  if (text.size() > kMaxPathTextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("derivation path: ", text.size(), " characters exceed the limit"));
  }
  if (text.empty() || text[0] != 'm') {
    return absl::InvalidArgumentError("derivation path: must start with \"m\"");
  }
  std::vector<uint32_t> indices;
  size_t pos = 1;
  while (pos < text.size()) {
    const size_t component = indices.size() + 1;
    if (text[pos] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("derivation path: expected '/' before component ", component));
    }
    ++pos;
    const size_t start = pos;
    uint64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      value = value * 10 + static_cast<uint64_t>(text[pos] - '0');
      if (value >= kHardenedOffset) {
        return absl::InvalidArgumentError(
            absl::StrCat("derivation path: component ", component, " is not below 2^31"));
      }
      ++pos;
    }
    const size_t digits = pos - start;
    if (digits == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("derivation path: component ", component, " has no index"));
    }
    if (digits > 1 && text[start] == '0') {
      return absl::InvalidArgumentError(
          absl::StrCat("derivation path: component ", component, " has a leading zero"));
    }
    uint32_t index = static_cast<uint32_t>(value);
    if (pos < text.size() && (text[pos] == '\'' || text[pos] == 'h' || text[pos] == 'H')) {
      index += kHardenedOffset;
      ++pos;
    }
    if (pos < text.size() && text[pos] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "derivation path: unexpected character after the index of component ", component));
    }
    if (indices.size() == kMaxPathDepth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "derivation path: more than ", kMaxPathDepth, " components"));
    }
    indices.push_back(index);
  }
  return DerivationPath(std::move(indices));
}

std::string DerivationPath::ToString() const {
  std::string out = "m";
  for (uint32_t index : indices_) {
    if (IsHardened(index)) {
      absl::StrAppend(&out, "/", index - kHardenedOffset, "'");
    } else {
      absl::StrAppend(&out, "/", index);
    }
  }
  return out;
}

}  // namespace lockout::hd
