#include "src/aws/sigv4_verifier.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::aws {
namespace {

// AWS's wording (JSON 1.1 services such as KMS and Secrets Manager).
constexpr std::string_view kMissingTokenMessage = "Missing Authentication Token";
constexpr std::string_view kInvalidSignatureMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kInvalidTokenMessage =
    "The security token included in the request is invalid.";
constexpr std::string_view kExpiredTokenMessage =
    "The security token included in the request is expired";

AuthError Error(AuthErrorType type, std::string_view message, std::string detail) {
  return AuthError{type, std::string(message), std::move(detail)};
}
AuthError Incomplete(std::string message, std::string detail = "") {
  if (detail.empty()) detail = message;
  return AuthError{AuthErrorType::kIncompleteSignature, std::move(message), std::move(detail)};
}
AuthError BadSignature(std::string detail) {
  return Error(AuthErrorType::kInvalidSignature, kInvalidSignatureMessage, std::move(detail));
}
AuthError InvalidToken(std::string detail) {
  return Error(AuthErrorType::kUnrecognizedClient, kInvalidTokenMessage, std::move(detail));
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string_view::npos ? s.npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

bool IsScopeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}
bool IsScopeComponent(std::string_view s, size_t max_size) {
  return !s.empty() && s.size() <= max_size && std::all_of(s.begin(), s.end(), IsScopeChar);
}

// Lower-case RFC 7230 token characters: the only header names SignedHeaders may list.
bool IsLowerTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string SkewText(absl::Duration skew) {
  if (skew % absl::Minutes(1) == absl::ZeroDuration()) {
    return absl::StrCat(absl::IDivDuration(skew, absl::Minutes(1), &skew), " min.");
  }
  return absl::FormatDuration(skew);
}

}  // namespace

std::string_view AuthError::TypeName() const {
  switch (type) {
    case AuthErrorType::kMissingAuthenticationToken:
      return "MissingAuthenticationTokenException";
    case AuthErrorType::kIncompleteSignature:
      return "IncompleteSignatureException";
    case AuthErrorType::kInvalidSignature:
      return "InvalidSignatureException";
    case AuthErrorType::kUnrecognizedClient:
      return "UnrecognizedClientException";
    case AuthErrorType::kExpiredToken:
      return "ExpiredTokenException";
  }
  return "InvalidSignatureException";
}

int AuthError::HttpStatus() const { return 400; }

absl::Status AuthError::ToStatus() const {
  return absl::UnauthenticatedError(absl::StrCat(Absl(TypeName()), ": ", message));
}

std::variant<ParsedAuthorization, AuthError> ParseAuthorizationHeader(std::string_view value,
                                                                      size_t max_size,
                                                                      size_t max_signed_headers) {
  if (value.size() > max_size) {
    return Incomplete(
        "Authorization header is too long.",
        absl::StrCat("Authorization header of ", value.size(), " bytes exceeds ", max_size));
  }
  value = Trim(value);
  const size_t sp = value.find_first_of(" \t");
  if (value.substr(0, sp) != kSigV4Algorithm || sp == std::string_view::npos) {
    return Incomplete("Unsupported AWS 'algorithm': only 'AWS4-HMAC-SHA256' is accepted.",
                      "Authorization header does not start with 'AWS4-HMAC-SHA256 '");
  }
  std::optional<std::string_view> credential;
  std::optional<std::string_view> signed_headers;
  std::optional<std::string_view> signature;
  for (std::string_view part : Split(value.substr(sp + 1), ',')) {
    part = Trim(part);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Incomplete(
          "A component of the Authorization header is not a valid key=value pair (missing "
          "equal-sign).");
    }
    std::string_view key = part.substr(0, eq);
    std::optional<std::string_view>* slot = nullptr;
    if (key == "Credential") slot = &credential;
    if (key == "SignedHeaders") slot = &signed_headers;
    if (key == "Signature") slot = &signature;
    if (slot == nullptr) {
      return Incomplete(
          "The Authorization header has an unknown component.",
          absl::StrCat("unknown Authorization component key of ", key.size(), " bytes"));
    }
    if (slot->has_value()) {
      return Incomplete(
          absl::StrCat("Authorization header has a repeated '", Absl(key), "' parameter."));
    }
    *slot = part.substr(eq + 1);
  }
  std::string missing;
  if (!credential)
    absl::StrAppend(&missing, "Authorization header requires 'Credential' parameter. ");
  if (!signature)
    absl::StrAppend(&missing, "Authorization header requires 'Signature' parameter. ");
  if (!signed_headers) {
    absl::StrAppend(&missing, "Authorization header requires 'SignedHeaders' parameter. ");
  }
  if (!missing.empty()) {
    missing.pop_back();
    return Incomplete(missing);
  }

  ParsedAuthorization out;
  std::vector<std::string_view> scope = Split(*credential, '/');
  if (scope.size() != 5) {
    return Incomplete(
        "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.",
        absl::StrCat("Credential has ", scope.size(), " '/'-separated parts, want 5"));
  }
  if (!IsScopeComponent(scope[0], 128)) {
    return Incomplete("Credential has an invalid access key id.",
                      absl::StrCat("access key id of ", scope[0].size(),
                                   " bytes is not 1..128 of "
                                   "[A-Za-z0-9._-]"));
  }
  if (scope[1].size() != 8 ||
      !std::all_of(scope[1].begin(), scope[1].end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Incomplete("Credential date must be YYYYMMDD.");
  }
  if (!IsScopeComponent(scope[2], 64) || !IsScopeComponent(scope[3], 64)) {
    return Incomplete("Credential has an invalid region or service.");
  }
  if (scope[4] != kSigV4Terminator) {
    return Incomplete("Credential should be scoped with a valid terminator: 'aws4_request'.");
  }
  out.access_key_id = std::string(scope[0]);
  out.scope = CredentialScope{std::string(scope[1]), std::string(scope[2]), std::string(scope[3])};

  std::vector<std::string_view> names = Split(*signed_headers, ';');
  if (names.size() > max_signed_headers) {
    return Incomplete(
        "SignedHeaders lists too many headers.",
        absl::StrCat("SignedHeaders lists ", names.size(), " headers, limit ", max_signed_headers));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    std::string_view n = names[i];
    if (n.empty() || n.size() > 128 || !std::all_of(n.begin(), n.end(), IsLowerTokenChar)) {
      return Incomplete("SignedHeaders must list lower-case header names separated by ';'.",
                        absl::StrCat("SignedHeaders entry ", i, " is empty or invalid"));
    }
    if (i > 0 && !(names[i - 1] < n)) {
      return Incomplete("SignedHeaders must be sorted and without duplicates.",
                        absl::StrCat("SignedHeaders entry ", i, " is out of order or repeated"));
    }
    out.signed_headers.emplace_back(n);
  }

  if (signature->size() != 64 || !IsLowerHex(*signature)) {
    return BadSignature(
        absl::StrCat("Signature is not 64 lower-case hex digits (", signature->size(), " bytes)"));
  }
  out.signature = std::string(*signature);
  return out;
}

SigV4Verifier::SigV4Verifier(CredentialLookup lookup, SigV4VerifierOptions options,
                             const Clock& clock)
    : lookup_(std::move(lookup)), options_(std::move(options)), clock_(clock) {}

VerifyResult SigV4Verifier::Verify(const HttpRequest& request) const {
  auto fail = [](AuthError e) { return VerifyResult::Failure(std::move(e)); };

  std::vector<std::string_view> auth_values = request.HeaderValues("authorization");
  if (auth_values.empty()) {
    return fail(Error(AuthErrorType::kMissingAuthenticationToken, kMissingTokenMessage,
                      "no Authorization header"));
  }
  if (auth_values.size() > 1) {
    return fail(Incomplete("Found multiple Authorization headers.",
                           absl::StrCat(auth_values.size(), " Authorization headers")));
  }
  std::variant<ParsedAuthorization, AuthError> parsed = ParseAuthorizationHeader(
      auth_values[0], options_.max_authorization_size, options_.max_signed_headers);
  if (std::holds_alternative<AuthError>(parsed)) return fail(std::get<AuthError>(parsed));
  const ParsedAuthorization& auth = std::get<ParsedAuthorization>(parsed);

  auto is_signed = [&](std::string_view name) {
    return std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), name);
  };
  if (!is_signed("host")) {
    return fail(
        Incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                   "Authorization."));
  }
  if (!is_signed("x-amz-date")) {
    return fail(Incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."));
  }
  for (const std::string& name : auth.signed_headers) {
    if (request.CountHeader(name) == 0) {
      return fail(Incomplete(absl::StrCat("'", name,
                                          "' is named as a SignedHeader, but it does not exist "
                                          "in the HTTP request.")));
    }
  }
  std::vector<std::string_view> dates = request.HeaderValues("x-amz-date");
  if (dates.size() != 1) {
    return fail(
        Incomplete("Authorization header requires existence of exactly one 'X-Amz-Date' "
                   "header.",
                   absl::StrCat(dates.size(), " X-Amz-Date headers")));
  }
  const std::string_view amz_date = Trim(dates[0]);
  absl::StatusOr<absl::Time> request_time = ParseAmzDate(amz_date);
  if (!request_time.ok()) {
    return fail(
        Incomplete("Date must be in ISO-8601 'basic format'. See "
                   "http://en.wikipedia.org/wiki/ISO_8601"));
  }
  if (auth.scope.date != amz_date.substr(0, 8)) {
    return fail(Error(AuthErrorType::kInvalidSignature,
                      absl::StrCat("Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                                   "version of date from HTTP: '",
                                   auth.scope.date, "' != '", Absl(amz_date.substr(0, 8)),
                                   "', from '", Absl(amz_date), "'."),
                      "credential scope date differs from X-Amz-Date"));
  }
  if (auth.scope.region != options_.region) {
    return fail(Error(
        AuthErrorType::kInvalidSignature,
        absl::StrCat("Credential should be scoped to a valid region, not '", auth.scope.region,
                     "'."),
        absl::StrCat("credential scope region '", auth.scope.region, "' is not served here")));
  }
  if (std::find(options_.services.begin(), options_.services.end(), auth.scope.service) ==
      options_.services.end()) {
    std::string want = options_.services.empty() ? std::string() : options_.services.front();
    return fail(Error(
        AuthErrorType::kInvalidSignature,
        absl::StrCat("Credential should be scoped to correct service: '", want, "'."),
        absl::StrCat("credential scope service '", auth.scope.service, "' is not served here")));
  }

  const absl::Time now = clock_.Now();
  if (*request_time < now - options_.max_skew) {
    return fail(Error(AuthErrorType::kInvalidSignature,
                      absl::StrCat("Signature expired: ", Absl(amz_date), " is now earlier than ",
                                   FormatAmzDate(now - options_.max_skew), " (", FormatAmzDate(now),
                                   " - ", SkewText(options_.max_skew), ")"),
                      absl::StrCat("request time is ", absl::FormatDuration(now - *request_time),
                                   " in the past")));
  }
  if (*request_time > now + options_.max_skew) {
    return fail(
        Error(AuthErrorType::kInvalidSignature,
              absl::StrCat("Signature not yet current: ", Absl(amz_date), " is still later than ",
                           FormatAmzDate(now + options_.max_skew), " (", FormatAmzDate(now), " + ",
                           SkewText(options_.max_skew), ")"),
              absl::StrCat("request time is ", absl::FormatDuration(*request_time - now),
                           " in the future")));
  }

  std::optional<VerifierCredential> credential = lookup_(auth.access_key_id);
  if (!credential.has_value()) {
    return fail(InvalidToken(absl::StrCat("unknown access key id '", auth.access_key_id, "'")));
  }

  std::vector<std::string_view> tokens = request.HeaderValues("x-amz-security-token");
  if (credential->session_token.has_value()) {
    if (tokens.size() != 1) {
      return fail(
          InvalidToken(absl::StrCat("access key id '", auth.access_key_id,
                                    "' needs one session token, request has ", tokens.size())));
    }
    if (!crypto::ConstantTimeEquals(AsBytes(Trim(tokens[0])),
                                    AsBytes(*credential->session_token))) {
      return fail(InvalidToken(
          absl::StrCat("session token does not match access key id '", auth.access_key_id, "'")));
    }
    if (credential->expiration.has_value() && now >= *credential->expiration) {
      return fail(Error(AuthErrorType::kExpiredToken, kExpiredTokenMessage,
                        absl::StrCat("temporary credentials '", auth.access_key_id, "' expired at ",
                                     FormatAmzDate(*credential->expiration))));
    }
  } else if (!tokens.empty()) {
    return fail(InvalidToken(absl::StrCat("long-term access key id '", auth.access_key_id,
                                          "' sent with a session token")));
  }

  // Hash the body ourselves; a claimed payload hash must agree with it.
  const std::string payload_hash = PayloadHash(request.body);
  std::vector<std::string_view> claimed = request.HeaderValues("x-amz-content-sha256");
  if (claimed.size() > 1) {
    return fail(Incomplete("Found multiple 'X-Amz-Content-Sha256' headers."));
  }
  if (claimed.size() == 1 && Trim(claimed[0]) != payload_hash) {
    return fail(BadSignature("x-amz-content-sha256 does not match the SHA-256 of the body"));
  }

  absl::StatusOr<SecretBytes> canonical =
      BuildCanonicalRequest(request, auth.signed_headers, payload_hash, options_.path_rules);
  if (!canonical.ok()) {
    return fail(BadSignature(
        absl::StrCat("cannot canonicalise request: ", std::string(canonical.status().message()))));
  }
  const std::string string_to_sign = BuildStringToSign(amz_date, auth.scope, *canonical);
  std::string expected;
  {
    SecretBytes signing_key = DeriveSigningKey(credential->secret_access_key, auth.scope);
    expected = ComputeSignature(signing_key, string_to_sign);
  }
  if (!crypto::ConstantTimeEquals(AsBytes(expected), AsBytes(auth.signature))) {
    return fail(BadSignature(
        absl::StrCat("signature mismatch for access key id '", auth.access_key_id, "'")));
  }

  VerifiedRequest ok;
  ok.access_key_id = auth.access_key_id;
  ok.principal = std::move(credential->principal);
  ok.scope = auth.scope;
  ok.request_time = *request_time;
  ok.signed_headers = auth.signed_headers;
  ok.session_token_present = !tokens.empty();
  return VerifyResult::Success(std::move(ok));
}

}  // namespace lockout::aws
