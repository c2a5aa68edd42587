#include "src/relay/secret_allowlist.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/relay/relay_protocol.h"

namespace lockout::relay {

absl::StatusOr<SecretAllowlist> SecretAllowlist::Create(const std::vector<std::string>& names) {
  if (names.empty()) {
    return absl::InvalidArgumentError("the secret allowlist is empty: allow at least one name");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    absl::Status valid = ValidateSecretName(names[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed secret name #", i + 1, " is invalid: ", valid.message()));
    }
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return SecretAllowlist(std::move(sorted));
}

bool SecretAllowlist::Allows(std::string_view name) const {
  return std::binary_search(names_.begin(), names_.end(), name,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

}  // namespace lockout::relay
