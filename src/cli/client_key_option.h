#pragma once

// The --client-key FILE option of every command that sends requests to an enclave (sign, eth,
// gateway, bench, create-key --in-enclave): one way to load it and report it.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/auth/client_key.h"

namespace lockout::cli {

// The key in `path` (ops::LoadClientKeyFile), or nullptr when `path` is empty (no --client-key).
// A warning about the file (readable by group or others) goes to stderr as
// "PROGRAM: warning: ...". Errors are LoadClientKeyFile's, prefixed "--client-key: ": a usage
// error for the caller.
absl::StatusOr<std::shared_ptr<const auth::ClientKey>> LoadClientKeyOption(
    const std::string& path, std::string_view program);

}  // namespace lockout::cli
