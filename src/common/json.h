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
// valid JSON, contains a NUL byte (RejectNulBytes), is larger than `max_bytes`, or nests deeper
// than `max_depth`.
// nlohmann's lexer takes a NUL byte for the end of the input (a C string's terminator), even
// when given an explicit range, so "{...}\0anything" would parse as "{...}". A NUL byte is never
// valid in JSON text (RFC 8259 forbids unescaped control characters in strings, and it is not
// whitespace), so every parser of untrusted JSON calls this first. InvalidArgument naming the
// offset of the first NUL.
absl::Status RejectNulBytes(std::string_view text);

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes = 1 << 20,
                                         int max_depth = kMaxJsonDepth);

// ParseJson, and also refuses a document in which one object names a member twice (nlohmann keeps
// the last silently, so {"a": 1, "a": 2} could be read two ways by two parsers): for documents
// whose meaning must be unambiguous (configuration that gets hashed, policies).
// InvalidArgument "json: duplicate member name (member #N of the document)" (never the name).
absl::StatusOr<nlohmann::json> ParseJsonStrict(std::string_view text, size_t max_bytes = 1 << 20,
                                               int max_depth = kMaxJsonDepth);

// Overwrites every string inside `json` (recursively, object keys excepted) with zeros and then
// empties it: for request/reply documents that held base64 plaintexts or credentials. Best effort:
// nlohmann's parser may have left copies in buffers it freed; a document that carries secrets
// from an untrusted peer is better read with SecretJson (secret_json.h).
void WipeJsonStrings(nlohmann::json& json);

}  // namespace lockout
