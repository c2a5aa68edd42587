#pragma once

// AWS Signature Version 4 (header authorisation, AWS4-HMAC-SHA256).
//
// Reference: "Create a signed AWS API request" and "Elements of an AWS API request signature"
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html), checked
// against the AWS SigV4 test suite (shared/vectors/sigv4).
//
// The building blocks (CanonicalRequest, StringToSign, DeriveSigningKey, ComputeSignature) are
// exposed so the server-side verifier (sigv4_verifier.h) recomputes with exactly the same code,
// and so tests can compare every intermediate product with the suite's .creq/.sts/.authz files.
//
// Secrets: the secret access key lives only in SecretBytes; derived keys are returned as
// SecretBytes and intermediate HMAC outputs are wiped. A canonical request may contain the
// session token (when it is signed): never log canonical requests, strings to sign or
// Authorization headers. Errors carry sizes and names, never values.
//
// Thread-safety: all functions are pure (no shared state).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/aws/http_request.h"
#include "src/common/secret_bytes.h"

namespace lockout::aws {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kSigV4Terminator = "aws4_request";

struct AwsCredentials {
  std::string access_key_id;
  SecretBytes secret_access_key;
  SecretBytes session_token;  // empty for long-term credentials; sent as X-Amz-Security-Token
};

// "YYYYMMDD/region/service/aws4_request".
struct CredentialScope {
  std::string date;  // YYYYMMDD (UTC)
  std::string region;
  std::string service;
  std::string ToString() const;
};

// How the request path becomes the canonical URI.
enum class UriPathRules {
  // Every service except S3: remove "." / ".." segments and empty segments (RFC 3986 §5.2.4
  // plus AWS's collapsing of "//"), then URI-encode the (already encoded) path again, keeping '/'.
  // This is the "double encoding" of the AWS documentation: "/a%20b" signs as "/a%2520b".
  kNormalizeAndEncode,
  // S3: the path exactly as sent (encoded once by the client), "/" when empty.
  kS3,
};

// X-Amz-Date format: "20150830T123600Z" (ISO 8601 basic, UTC, whole seconds).
std::string FormatAmzDate(absl::Time t);
// Strict: exactly 16 characters "YYYYMMDDTHHMMSSZ" that round-trip. InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseAmzDate(std::string_view text);

// AWS URI encoding (RFC 3986 unreserved A-Z a-z 0-9 - . _ ~ kept, every other byte %XX with
// upper-case hex); '/' kept only when `keep_slash`.
std::string UriEncode(std::string_view data, bool keep_slash);

// The canonical URI of `path` (the part of the request-target before '?').
std::string CanonicalUri(std::string_view path, UriPathRules rules);

// The canonical query string of `query` (the part after '?', without it): each "name=value"
// pair (a pair without '=' has an empty value; empty pairs are skipped) is percent-decoded and
// re-encoded with UriEncode (so raw and encoded inputs canonicalise alike; '+' is a literal plus),
// then sorted by encoded name, then encoded value, and joined with '&'.
// InvalidArgument on a malformed percent escape.
absl::StatusOr<std::string> CanonicalQueryString(std::string_view query);

// Lower-cases, sorts and de-duplicates header names: the form SignedHeaders lists.
std::vector<std::string> NormalizeSignedHeaderNames(const std::vector<std::string>& names);

// The canonical request (CanonicalRequest in the AWS docs):
//   METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
// `signed_headers` must be lower-case, sorted and unique (NormalizeSignedHeaderNames). Each signed
// header's value is: every occurrence in order (and every line of a folded value) trimmed of
// leading/trailing SP/HTAB, inner runs of SP/HTAB collapsed to one SP, joined with ','.
// `payload_hash` is the lower-case hex SHA-256 of the body (or a value the caller signs instead).
// Errors: InvalidArgument when a signed header is absent from `request` (the error names the
// header), when `signed_headers` is empty or not normalised, or on a malformed query string.
// Returned (and built) in secret memory: it holds the session token when that header is signed.
absl::StatusOr<SecretBytes> BuildCanonicalRequest(const HttpRequest& request,
                                                  const std::vector<std::string>& signed_headers,
                                                  std::string_view payload_hash,
                                                  UriPathRules rules);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical_request)>". Not secret: it
// carries only a digest of the canonical request, and is what a verifier recomputes.
std::string BuildStringToSign(std::string_view amz_date, const CredentialScope& scope,
                              const SecretBytes& canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
SecretBytes DeriveSigningKey(const SecretBytes& secret_access_key, const CredentialScope& scope);

// Lower-case hex HMAC-SHA256(signing_key, string_to_sign).
std::string ComputeSignature(const SecretBytes& signing_key, std::string_view string_to_sign);

// "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=a;b, Signature=hex".
std::string BuildAuthorizationHeader(std::string_view access_key_id, const CredentialScope& scope,
                                     const std::vector<std::string>& signed_headers,
                                     std::string_view signature);

// Lower-case hex SHA-256 of `body`.
std::string PayloadHash(std::string_view body);

struct SigningOptions {
  UriPathRules path_rules = UriPathRules::kNormalizeAndEncode;
  // Adds "X-Amz-Content-Sha256: <hex sha256(body)>" (S3 requires it) and signs it.
  bool add_content_sha256_header = false;
  // true: X-Amz-Security-Token is added before signing and signed (what the AWS SDKs do for
  // JSON services; suite case post-sts-header-before). false: it is added after signing and not
  // signed (post-sts-header-after). Ignored without a session token.
  bool sign_session_token = true;
  // The headers to sign. nullopt: every header in the request except Authorization and headers
  // that intermediaries change (Connection, Expect, Transfer-Encoding, User-Agent,
  // X-Amzn-Trace-Id). Otherwise exactly these names (any case) plus host, x-amz-date and the
  // headers SignRequest adds and signs itself. Used to reproduce the suite's two upstream-broken
  // cases, whose signatures were computed over fewer headers than their .creq shows.
  std::optional<std::vector<std::string>> signed_headers;
};

// Everything SignRequest computed; tests compare these with the suite. The canonical request
// contains the session token when it is signed, so it is SecretBytes (wiped when the result is
// dropped); the rest is what goes on the wire or a digest of it.
struct SigningResult {
  SecretBytes canonical_request;
  std::string string_to_sign;
  std::string signature;      // lower-case hex
  std::string authorization;  // the Authorization header value that was set
  std::vector<std::string> signed_headers;
};

// Signs `request` in place for `region`/`service` at time `now`. SignRequest owns these headers
// and replaces any existing ones: X-Amz-Date, X-Amz-Security-Token (set from the credentials'
// session token, removed when there is none), X-Amz-Content-Sha256 (when requested) and
// Authorization. The payload hash is always computed from `request.body`.
// Errors (InvalidArgument): no Host header, empty or malformed access key id / region / service,
// empty secret, a requested signed header missing from the request, a malformed query string.
// On error `request` may have been partially modified.
absl::StatusOr<SigningResult> SignRequest(HttpRequest& request, const AwsCredentials& credentials,
                                          std::string_view region, std::string_view service,
                                          absl::Time now, const SigningOptions& options = {});

}  // namespace lockout::aws
