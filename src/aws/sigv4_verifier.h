#pragma once

// Server-side SigV4 verification (AWS4-HMAC-SHA256 in the Authorization header).
//
//   SigV4Verifier verifier(lookup, {.region = "us-east-1", .services = {"kms"}}, Clock::Real());
//   VerifyResult r = verifier.Verify(request);
//   if (!r.ok()) { reply r.error().HttpStatus(), {"__type": r.error().TypeName(),
//                                                  "message": r.error().message}; log detail }
//
// Verify parses the Authorization header, requires `host` and `x-amz-date` to be signed, checks
// that the credential scope's date is X-Amz-Date's date and its region/service are served here,
// rejects a request time more than `max_skew` away from the clock, looks the access key up,
// checks X-Amz-Security-Token against what the credential requires, hashes the body itself (an
// X-Amz-Content-Sha256 header must equal that hash), recomputes the signature with the same code
// as the signer (sigv4.h) and compares in constant time.
//
// Failures map to the error AWS returns (AuthError): `message` is AWS's wording for the network
// peer, `detail` the specific reason for the local log. Neither ever contains the secret key, the
// session token, the signature or the Authorization header.
//
// Thread-safety: Verify is const and thread-safe if the lookup callback is.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/aws/http_request.h"
#include "src/aws/sigv4.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"

namespace lockout::aws {

// What the server knows about one access key id.
struct VerifierCredential {
  SecretBytes secret_access_key;
  // Opaque id of whoever owns the key (e.g. an ARN); returned on success.
  std::string principal;
  // Temporary credentials: the request must carry exactly this X-Amz-Security-Token (signed or
  // not). nullopt: long-term key, and a request carrying any session token is rejected.
  std::optional<std::string> session_token;
  // Temporary credentials stop working at this time (ExpiredTokenException).
  std::optional<absl::Time> expiration;
};

// Returns the credential for an access key id, or nullopt when unknown. Called at most once per
// Verify, only after the Authorization header parsed.
using CredentialLookup = std::function<std::optional<VerifierCredential>(std::string_view)>;

enum class AuthErrorType {
  kMissingAuthenticationToken,  // no Authorization header
  kIncompleteSignature,         // Authorization header (or a header it needs) is malformed
  kInvalidSignature,            // wrong signature, scope, clock skew, payload hash
  kUnrecognizedClient,          // unknown access key id, wrong/missing/unexpected session token
  kExpiredToken,                // temporary credentials past their expiration
};

struct AuthError {
  AuthErrorType type;
  std::string message;  // for the peer: AWS's text
  std::string detail;   // for the local log: the specific reason

  // The JSON 1.1 "__type", e.g. "InvalidSignatureException".
  std::string_view TypeName() const;
  // The HTTP status AWS JSON services use (400 for all of these).
  int HttpStatus() const;
  // An absl::Status (Unauthenticated) carrying TypeName and message, for code paths that only
  // propagate Status.
  absl::Status ToStatus() const;
};

struct VerifiedRequest {
  std::string access_key_id;
  std::string principal;
  CredentialScope scope;
  absl::Time request_time;
  std::vector<std::string> signed_headers;
  bool session_token_present = false;
};

// Either a VerifiedRequest or an AuthError.
class VerifyResult final {
 public:
  static VerifyResult Success(VerifiedRequest v) { return VerifyResult(std::move(v)); }
  static VerifyResult Failure(AuthError e) { return VerifyResult(std::move(e)); }
  bool ok() const { return std::holds_alternative<VerifiedRequest>(v_); }
  // Preconditions: ok() for value(), !ok() for error().
  const VerifiedRequest& value() const { return std::get<VerifiedRequest>(v_); }
  const AuthError& error() const { return std::get<AuthError>(v_); }

 private:
  explicit VerifyResult(VerifiedRequest v) : v_(std::move(v)) {}
  explicit VerifyResult(AuthError e) : v_(std::move(e)) {}
  std::variant<VerifiedRequest, AuthError> v_;
};

struct SigV4VerifierOptions {
  std::string region;                 // the only region served, e.g. "us-east-1"
  std::vector<std::string> services;  // e.g. {"kms", "secretsmanager"}
  absl::Duration max_skew = absl::Minutes(5);
  UriPathRules path_rules = UriPathRules::kNormalizeAndEncode;
  size_t max_authorization_size = 4096;
  size_t max_signed_headers = 64;
};

// The parsed Authorization header. Exposed for tests and diagnostics.
struct ParsedAuthorization {
  std::string access_key_id;
  CredentialScope scope;
  std::vector<std::string> signed_headers;
  std::string signature;
};
// Parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=<64 hex>". Components in any order, separated by ',' and optional
// spaces, each exactly once. SignedHeaders must be lower-case, sorted, unique header tokens.
// Errors are AuthError{kIncompleteSignature} (or kInvalidSignature for a malformed signature).
std::variant<ParsedAuthorization, AuthError> ParseAuthorizationHeader(
    std::string_view value, size_t max_size = 4096, size_t max_signed_headers = 64);

class SigV4Verifier final {
 public:
  // `clock` must outlive the verifier.
  SigV4Verifier(CredentialLookup lookup, SigV4VerifierOptions options, const Clock& clock);

  VerifyResult Verify(const HttpRequest& request) const;

 private:
  CredentialLookup lookup_;
  SigV4VerifierOptions options_;
  const Clock& clock_;
};

}  // namespace lockout::aws
