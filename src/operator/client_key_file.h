#pragma once

// Client key files on disk (`lockout client-key create`, `lockout sign --client-key`, `lockout
// bench --client-key`): the format is src/auth/client_key.h's (docs/PROTOCOL.md, "Client key
// file"). The file is the client's secret: written 0600, never over an existing file unless asked,
// read into secret memory only.
// Thread-safety: reentrant.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/auth/client_key.h"

namespace lockout::ops {

// Reads and parses the key file at `path`. Errors: NotFound/PermissionDenied/... from reading
// (naming the path), InvalidArgument from the parser (naming the field, never key bytes).
// `warning` (if given) is set to a one-line note when the file is readable by group or others.
absl::StatusOr<std::shared_ptr<const auth::ClientKey>> LoadClientKeyFile(
    const std::string& path, std::string* warning = nullptr);

// Writes `key` to `path` with mode 0600 (atomically). AlreadyExists if `path` exists and
// `overwrite` is false.
absl::Status WriteClientKeyFile(const std::string& path, const auth::ClientKey& key,
                                bool overwrite);

}  // namespace lockout::ops
