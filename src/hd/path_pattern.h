#pragma once

// PathPattern: a derivation path with wildcards, as the signing policy's "paths" rule lists them
// (docs/WALLET.md "HD keys"): "m/44'/60'/0'/0/*" matches m/44'/60'/0'/0/0, m/44'/60'/0'/0/1, ...
//
// Grammar (strict): DerivationPath's (derivation_path.h), where any component may instead be
//   *    any normal (non-hardened) index, 0 .. 2^31-1
//   *'   any hardened index (also written *h or *H)
// A pattern matches a path of exactly its depth whose every component matches (a literal index
// equals it, hardened-ness included). There is no "any depth" wildcard: a pattern names one level
// of the tree, so a client allowed m/44'/60'/0'/0/* cannot reach m/44'/60'/0'/0/5/7.
// ToString() is the canonical form (' for hardened); parsing it gives the same pattern.
// Errors: InvalidArgument naming the component's position, never echoing the text.
// Thread-safety: a value; const methods are thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/hd/derivation_path.h"

namespace lockout::hd {

class PathPattern final {
 public:
  struct Component {
    bool wildcard = false;
    bool hardened = false;  // for a wildcard: which kind of index it matches
    uint32_t index = 0;     // literal components: the index, kHardenedOffset included

    bool operator==(const Component&) const = default;
  };

  static absl::StatusOr<PathPattern> Parse(std::string_view text);

  bool Matches(const DerivationPath& path) const;
  std::string ToString() const;
  const std::vector<Component>& components() const { return components_; }

  friend bool operator==(const PathPattern&, const PathPattern&) = default;

 private:
  explicit PathPattern(std::vector<Component> components) : components_(std::move(components)) {}
  std::vector<Component> components_;
};

}  // namespace lockout::hd
