#pragma once

// Parsing JSON from the network: size and nesting are bounded before nlohmann::json builds
// anything, so a hostile document cannot exhaust the stack or memory.

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace lockout {

inline constexpr int kMaxJsonDepth = 32;

// Parses `text` as one JSON value. InvalidArgument (with an offset, never the text) if it is not
// valid JSON, is larger than `max_bytes`, or nests deeper than `max_depth`.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes = 1 << 20,
                                         int max_depth = kMaxJsonDepth);

}  // namespace lockout
