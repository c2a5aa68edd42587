#pragma once

// The enclave's reply to one `sign` request, as the load generator classifies it
// (docs/PROTOCOL.md §1-2). Replies are untrusted bytes from the network.
//
//   kSigned     v1 {"success": "True", "data": "0x<hex>"}; v2 {"id": ID, "ok": true,
//               "signature": "<hex>"} with ID the request's id. `signature` holds the bytes
//               (non-empty); whether they verify is for the caller.
//   kRefused    v1 {"success": "False", "error": "Error: R"}; v2 {"id": ID, "ok": false,
//               "error": R}. `reason` is R (v1's "Error: " prefix removed, so both protocols use
//               the same names: "busy", "key not loaded", ...) if it is 1..64 printable ASCII
//               characters, else "unrecognised error": reasons become report keys, so a peer
//               cannot inject control characters or grow the report.
//   kMalformed  anything else: not JSON (or over the frame limit), not an object, v2 id missing
//               or not the request's, "ok" not a boolean, signature missing, not hex or empty.
//               `reason` is "bad reply". The caller must drop the connection: with the id
//               wrong the stream cannot be trusted to stay in step.
// Thread-safety: pure function.

#include <cstdint>
#include <string>
#include <string_view>

#include "src/common/bytes.h"
#include "src/loadgen/load_options.h"

namespace lockout::loadgen {

struct SignReply {
  enum class Kind { kSigned, kRefused, kMalformed };
  Kind kind = Kind::kMalformed;
  Bytes signature;
  std::string reason;
};

inline constexpr size_t kMaxReasonLength = 64;

// `expected_id` is the v2 request's numeric id (ignored for v1, which has none).
SignReply ParseSignReply(Protocol protocol, std::string_view payload, uint64_t expected_id);

// `text` as a report key: itself if 1..kMaxReasonLength printable ASCII, else
// "unrecognised error".
std::string ReasonKey(std::string_view text);

}  // namespace lockout::loadgen
