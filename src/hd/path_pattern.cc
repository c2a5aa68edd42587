#include "src/hd/path_pattern.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout::hd {

absl::StatusOr<PathPattern> PathPattern::Parse(std::string_view text) {
  if (text.size() > kMaxPathTextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("path pattern: ", text.size(), " characters exceed the limit"));
  }
  if (text.empty() || text[0] != 'm') {
    return absl::InvalidArgumentError("path pattern: must start with \"m\"");
  }
  std::vector<Component> components;
  size_t pos = 1;
  while (pos < text.size()) {
    const size_t number = components.size() + 1;
    if (text[pos] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("path pattern: expected '/' before component ", number));
    }
    ++pos;
    size_t end = text.find('/', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(pos, end - pos);
    if (components.size() == kMaxPathDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat("path pattern: more than ", kMaxPathDepth, " components"));
    }
    Component c;
    if (!part.empty() && part[0] == '*') {
      c.wildcard = true;
      if (part.size() == 2 && (part[1] == '\'' || part[1] == 'h' || part[1] == 'H')) {
        c.hardened = true;
      } else if (part.size() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("path pattern: component ", number, ": a wildcard is \"*\" or \"*'\""));
      }
    } else {
      // One literal component: DerivationPath's grammar, reused.
      absl::StatusOr<DerivationPath> one =
          DerivationPath::Parse(std::string("m/") + std::string(part));
      if (!one.ok() || one->indices().size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "path pattern: component ", number,
            " is not an index (decimal below 2^31, optionally followed by ') or a wildcard"));
      }
      c.index = one->indices()[0];
      c.hardened = IsHardened(c.index);
    }
    components.push_back(c);
    pos = end;
  }
  return PathPattern(std::move(components));
}

bool PathPattern::Matches(const DerivationPath& path) const {
  const std::vector<uint32_t>& indices = path.indices();
  if (indices.size() != components_.size()) return false;
  for (size_t i = 0; i < indices.size(); ++i) {
    const Component& c = components_[i];
    if (c.wildcard) {
      if (IsHardened(indices[i]) != c.hardened) return false;
    } else if (indices[i] != c.index) {
      return false;
    }
  }
  return true;
}

std::string PathPattern::ToString() const {
  std::string out = "m";
  for (const Component& c : components_) {
    if (c.wildcard) {
      absl::StrAppend(&out, c.hardened ? "/*'" : "/*");
    } else if (c.hardened) {
      absl::StrAppend(&out, "/", c.index - kHardenedOffset, "'");
    } else {
      absl::StrAppend(&out, "/", c.index);
    }
  }
  return out;
}

}  // namespace lockout::hd
