#pragma once

// File helpers. ReadFile refuses files larger than `max_size` before reading them.
// WriteFileAtomic writes a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory, so a crash leaves either the old or the new content.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout {

inline constexpr size_t kDefaultMaxFileSize = 64 << 20;

absl::StatusOr<Bytes> ReadFile(const std::string& path, size_t max_size = kDefaultMaxFileSize);
absl::StatusOr<std::string> ReadFileString(const std::string& path,
                                           size_t max_size = kDefaultMaxFileSize);
// `mode` is applied to the new file (0600 for state holding keys).
absl::Status WriteFileAtomic(const std::string& path, ByteView data, int mode = 0600);
// Removes `path`; a file that is already gone is not an error. For ready files at shutdown, so
// that a stale one never names a process that has stopped.
absl::Status RemoveFileIfPresent(const std::string& path);

}  // namespace lockout
