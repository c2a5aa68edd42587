#pragma once

// HttpRequest: the plain HTTP/1.1 request value that SigV4 signs and verifies.
//
// Filled by an HTTP server (after its own framing and size limits) or by an HTTP client before it
// sends. `target` is the request-target exactly as on the wire ("/path?query", already
// percent-encoded by the sender); headers keep their order, spelling and duplicates, because
// SigV4 canonicalisation joins repeated headers in order. A header value may contain '\n'
// separating obsolete line-folded continuation lines (RFC 7230 §3.2.4 obs-fold); SigV4 joins
// those lines with ',' as the AWS test suite does (get-header-value-multiline).
//
// Thread-safety: a plain value type; no internal synchronisation.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::aws {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method;               // "GET", "POST", ... (case as sent)
  std::string target;               // raw path + optional "?query", as on the wire
  std::vector<HttpHeader> headers;  // in wire order, duplicates allowed
  std::string body;

  // The path part of `target` (before the first '?'), and the query after it ("" when none).
  std::string_view Path() const;
  std::string_view Query() const;

  // Values of every header named `name` (ASCII case-insensitive), in wire order.
  std::vector<std::string_view> HeaderValues(std::string_view name) const;
  // The first value of header `name`, nullopt when absent.
  std::optional<std::string_view> FindHeader(std::string_view name) const;
  // How many headers are named `name`.
  size_t CountHeader(std::string_view name) const;
  // Removes every header named `name`, wiping its value first (it may be a credential, such as
  // X-Amz-Security-Token replaced when a request is signed again).
  void RemoveHeader(std::string_view name);
  // Removes every header named `name`, then appends `name: value`.
  void SetHeader(std::string_view name, std::string_view value);
  // Wipes (zeroes, then empties) the body and every header value, for a request that carried a
  // secret (a plaintext in the body, a session or IMDS token in a header) and is done with.
  void Wipe();
};

// ASCII case-insensitive comparison of header names.
bool HeaderNameEquals(std::string_view a, std::string_view b);

// Parses the raw HTTP/1.1 request text used by the AWS SigV4 test suite (.req/.sreq files):
//   METHOD SP request-target SP HTTP/1.x LF
//   (Name ":" value LF)*         continuation lines start with SP or HTAB
//   [LF body]
// Lines end in LF or CRLF. The request-target is everything between the first and the last space
// of the request line (the suite has a target with a literal space). The body is the bytes after
// the first empty line, verbatim; Content-Length is not enforced. Continuation lines are appended
// to the previous header's value after a '\n'.
//
// Errors (InvalidArgument, text carries offsets/sizes only): input larger than `max_size`, a
// malformed request line, a header line without ':' or with an empty/invalid name, a continuation
// line before any header, NUL or a bare CR in the header section, more than `max_headers`
// headers.
absl::StatusOr<HttpRequest> ParseHttpRequestText(std::string_view text, size_t max_size = 1 << 20,
                                                 size_t max_headers = 256);

}  // namespace lockout::aws
