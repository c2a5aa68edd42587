#pragma once

// SecretAllowlist: the secret names lockout-relay serves (`--allow-secret`, ARCHITECTURE §8: "the
// relay serves only allowlisted secret names").
//
// A name matches only byte for byte: no wildcards, no case folding, and a name does not match
// its ARN (nor the reverse); the enclave must ask with exactly the string the operator allowed.
// An empty allowlist cannot be created, so a relay cannot start serving everything by accident.
//
// Value type: copyable; const methods are thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::relay {

class SecretAllowlist final {
 public:
  // InvalidArgument when `names` is empty or a name is not a valid secret name
  // (relay_protocol.h ValidateSecretName; the error gives its index, not its text). Duplicates
  // are kept once.
  static absl::StatusOr<SecretAllowlist> Create(const std::vector<std::string>& names);

  bool Allows(std::string_view name) const;
  // Sorted, unique.
  const std::vector<std::string>& names() const { return names_; }

 private:
  explicit SecretAllowlist(std::vector<std::string> names) : names_(std::move(names)) {}

  std::vector<std::string> names_;
};

}  // namespace lockout::relay
