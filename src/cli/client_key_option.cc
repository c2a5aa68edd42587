#include "src/cli/client_key_option.h"

#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/operator/client_key_file.h"

namespace lockout::cli {

absl::StatusOr<std::shared_ptr<const auth::ClientKey>> LoadClientKeyOption(
    const std::string& path, std::string_view program) {
  if (path.empty()) return std::shared_ptr<const auth::ClientKey>();
  std::string warning;
  absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
      ops::LoadClientKeyFile(path, &warning);
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        absl::StrCat("--client-key: ", key.status().message()));
  }
  if (!warning.empty()) std::cerr << program << ": warning: " << warning << "\n";
  return key;
}

}  // namespace lockout::cli
