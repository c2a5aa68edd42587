#include "src/aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::aws {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query: truncated percent escape at offset ", i));
    }
    int hi = HexDigitValue(s[i + 1]);
    int lo = HexDigitValue(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("query: invalid percent escape at offset ", i));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

// Trims SP/HTAB at both ends and collapses inner runs of SP/HTAB to one SP (AWS: "Trim any
// leading or trailing spaces ... convert sequential spaces to a single space").
void AppendTrimmedCollapsed(std::string_view line, SecretBuilder& out) {
  size_t b = 0;
  size_t e = line.size();
  while (b < e && IsSpaceOrTab(line[b])) ++b;
  while (e > b && IsSpaceOrTab(line[e - 1])) --e;
  size_t i = b;
  while (i < e) {
    const size_t run = i;
    if (IsSpaceOrTab(line[i])) {
      while (i < e && IsSpaceOrTab(line[i])) ++i;
      out.Append(" ");
    } else {
      while (i < e && !IsSpaceOrTab(line[i])) ++i;
      out.Append(line.substr(run, i - run));
    }
  }
}

// Appends the canonical value of one header: every occurrence and every folded line, trimmed,
// joined by ','. Written straight into the secret buffer: X-Amz-Security-Token's value is the
// session token.
void AppendCanonicalHeaderValue(const std::vector<std::string_view>& values, SecretBuilder& out) {
  bool first = true;
  for (std::string_view v : values) {
    size_t pos = 0;
    while (true) {
      size_t nl = v.find('\n', pos);
      std::string_view line = v.substr(pos, nl == std::string_view::npos ? v.npos : nl - pos);
      if (!first) out.Append(",");
      first = false;
      AppendTrimmedCollapsed(line, out);
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
  }
}

bool IsNormalizedHeaderList(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() || names[i] != LowerAscii(names[i])) return false;
    if (i > 0 && !(names[i - 1] < names[i])) return false;
  }
  return true;
}

// Access key ids, regions and services go into the credential scope, whose separators are '/'
// and whose header separators are ',' and ' '.
bool IsValidScopeComponent(std::string_view s, size_t max_size) {
  if (s.empty() || s.size() > max_size) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool IsDefaultUnsignedHeader(std::string_view lower_name) {
  static constexpr std::array<std::string_view, 6> kUnsigned = {
      "authorization",     "connection", "expect",
      "transfer-encoding", "user-agent", "x-amzn-trace-id"};
  return std::find(kUnsigned.begin(), kUnsigned.end(), lower_name) != kUnsigned.end();
}

}  // namespace

std::string CredentialScope::ToString() const {
  return absl::StrCat(date, "/", region, "/", service, "/", Absl(kSigV4Terminator));
}

std::string FormatAmzDate(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseAmzDate(std::string_view text) {
  auto bad = [] {
    return absl::InvalidArgumentError("X-Amz-Date must be ISO 8601 basic format YYYYMMDDTHHMMSSZ");
  };
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return bad();
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && (text[i] < '0' || text[i] > '9')) return bad();
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  // absl::ParseTime's %Y is greedy over the following digits, so the fields are read by hand.
  const int year = num(0, 4), month = num(4, 2), day = num(6, 2);
  const int hour = num(9, 2), minute = num(11, 2), second = num(13, 2);
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  // CivilSecond normalises out-of-range fields (month 13, hour 25); those are rejected.
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return bad();
  }
  return absl::FromCivil(civil, absl::UTCTimeZone());
}

std::string UriEncode(std::string_view data, bool keep_slash) {
  std::string out;
  out.reserve(data.size());
  for (char ch : data) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[c >> 4]);
      out.push_back(kUpperHex[c & 0x0f]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view path, UriPathRules rules) {
  if (rules == UriPathRules::kS3) return path.empty() ? std::string("/") : std::string(path);
  // RFC 3986 §5.2.4 dot-segment removal; AWS also drops empty segments ("//").
  std::vector<std::string_view> segments;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? path.npos : slash - pos);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  std::string normalized = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normalized.push_back('/');
    absl::StrAppend(&normalized, Absl(segments[i]));
  }
  if (!segments.empty() && !path.empty() && path.back() == '/') normalized.push_back('/');
  return UriEncode(normalized, /*keep_slash=*/true);
}

absl::StatusOr<std::string> CanonicalQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view pair =
        query.substr(pos, amp == std::string_view::npos ? query.npos : amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      ASSIGN_OR_RETURN(std::string raw_name, PercentDecode(name));
      ASSIGN_OR_RETURN(std::string raw_value, PercentDecode(value));
      pairs.emplace_back(UriEncode(raw_name, /*keep_slash=*/false),
                         UriEncode(raw_value, /*keep_slash=*/false));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out.push_back('&');
    absl::StrAppend(&out, pairs[i].first, "=", pairs[i].second);
  }
  return out;
}

std::vector<std::string> NormalizeSignedHeaderNames(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  out.reserve(names.size());
  for (const std::string& n : names) out.push_back(LowerAscii(n));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<SecretBytes> BuildCanonicalRequest(const HttpRequest& request,
                                                  const std::vector<std::string>& signed_headers,
                                                  std::string_view payload_hash,
                                                  UriPathRules rules) {
  if (signed_headers.empty() || !IsNormalizedHeaderList(signed_headers)) {
    return absl::InvalidArgumentError(
        "signed headers must be a non-empty, lower-case, sorted list without duplicates");
  }
  // Built in secret memory only (SecretBuilder): the signed X-Amz-Security-Token header puts the
  // session token in the canonical request, and a growing std::string would free copies of it
  // unwiped on every AWS call. The method, URI and query are not secret.
  ASSIGN_OR_RETURN(std::string query, CanonicalQueryString(request.Query()));
  SecretBuilder out;
  out.Append(request.method);
  out.Append("\n");
  out.Append(CanonicalUri(request.Path(), rules));
  out.Append("\n");
  out.Append(query);
  out.Append("\n");
  for (const std::string& name : signed_headers) {
    std::vector<std::string_view> values = request.HeaderValues(name);
    if (values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("signed header '", name, "' is not in the request"));
    }
    out.Append(name);
    out.Append(":");
    AppendCanonicalHeaderValue(values, out);
    out.Append("\n");
  }
  out.Append("\n");
  out.Append(absl::StrJoin(signed_headers, ";"));
  out.Append("\n");
  out.Append(payload_hash);
  return std::move(out).Finish();
}

std::string BuildStringToSign(std::string_view amz_date, const CredentialScope& scope,
                              const SecretBytes& canonical_request) {
  return absl::StrCat(Absl(kSigV4Algorithm), "\n", Absl(amz_date), "\n", scope.ToString(), "\n",
                      HexEncode(crypto::Sha256(canonical_request.Reveal())));
}

SecretBytes DeriveSigningKey(const SecretBytes& secret_access_key, const CredentialScope& scope) {
  constexpr std::string_view kPrefix = "AWS4";
  SecretBytes k_secret(kPrefix.size() + secret_access_key.size());
  absl::Span<uint8_t> buf = k_secret.RevealMutable();
  std::memcpy(buf.data(), kPrefix.data(), kPrefix.size());
  if (!secret_access_key.empty()) {
    std::memcpy(buf.data() + kPrefix.size(), secret_access_key.Reveal().data(),
                secret_access_key.size());
  }
  crypto::Sha256Digest k_date = crypto::HmacSha256(k_secret.Reveal(), AsBytes(scope.date));
  crypto::Sha256Digest k_region = crypto::HmacSha256(k_date, AsBytes(scope.region));
  crypto::Sha256Digest k_service = crypto::HmacSha256(k_region, AsBytes(scope.service));
  crypto::Sha256Digest k_signing = crypto::HmacSha256(k_service, AsBytes(kSigV4Terminator));
  SecretBytes out = SecretBytes::CopyFrom(ByteView(k_signing));
  WipeBytes(k_date.data(), k_date.size());
  WipeBytes(k_region.data(), k_region.size());
  WipeBytes(k_service.data(), k_service.size());
  WipeBytes(k_signing.data(), k_signing.size());
  return out;
}

std::string ComputeSignature(const SecretBytes& signing_key, std::string_view string_to_sign) {
  return HexEncode(crypto::HmacSha256(signing_key.Reveal(), AsBytes(string_to_sign)));
}

std::string BuildAuthorizationHeader(std::string_view access_key_id, const CredentialScope& scope,
                                     const std::vector<std::string>& signed_headers,
                                     std::string_view signature) {
  return absl::StrCat(Absl(kSigV4Algorithm), " Credential=", Absl(access_key_id), "/",
                      scope.ToString(), ", SignedHeaders=", absl::StrJoin(signed_headers, ";"),
                      ", Signature=", Absl(signature));
}

std::string PayloadHash(std::string_view body) { return HexEncode(crypto::Sha256(AsBytes(body))); }

absl::StatusOr<SigningResult> SignRequest(HttpRequest& request, const AwsCredentials& credentials,
                                          std::string_view region, std::string_view service,
                                          absl::Time now, const SigningOptions& options) {
  if (!IsValidScopeComponent(credentials.access_key_id, 128)) {
    return absl::InvalidArgumentError(
        absl::StrCat("access key id must be 1..128 characters of [A-Za-z0-9._-], got ",
                     credentials.access_key_id.size(), " characters"));
  }
  if (credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError("secret access key is empty");
  }
  if (!IsValidScopeComponent(region, 64) || !IsValidScopeComponent(service, 64)) {
    return absl::InvalidArgumentError(
        "region and service must be 1..64 characters of [A-Za-z0-9._-]");
  }
  if (request.CountHeader("host") == 0) {
    return absl::InvalidArgumentError("request has no Host header");
  }

  const std::string amz_date = FormatAmzDate(now);
  const std::string payload_hash = PayloadHash(request.body);
  const bool has_token = !credentials.session_token.empty();
  const bool token_signed = has_token && options.sign_session_token;

  request.RemoveHeader("authorization");
  request.RemoveHeader("x-amz-security-token");
  request.SetHeader("X-Amz-Date", amz_date);
  if (token_signed) {
    request.SetHeader("X-Amz-Security-Token", credentials.session_token.RevealAsString());
  }
  if (options.add_content_sha256_header) request.SetHeader("X-Amz-Content-Sha256", payload_hash);

  std::vector<std::string> names;
  if (options.signed_headers.has_value()) {
    names = *options.signed_headers;
    names.push_back("host");
    names.push_back("x-amz-date");
    if (token_signed) names.push_back("x-amz-security-token");
    if (options.add_content_sha256_header) names.push_back("x-amz-content-sha256");
  } else {
    for (const HttpHeader& h : request.headers) {
      std::string lower = LowerAscii(h.name);
      if (!IsDefaultUnsignedHeader(lower)) names.push_back(std::move(lower));
    }
  }
  SigningResult result;
  result.signed_headers = NormalizeSignedHeaderNames(names);

  const CredentialScope scope{amz_date.substr(0, 8), std::string(region), std::string(service)};
  ASSIGN_OR_RETURN(
      result.canonical_request,
      BuildCanonicalRequest(request, result.signed_headers, payload_hash, options.path_rules));
  result.string_to_sign = BuildStringToSign(amz_date, scope, result.canonical_request);
  {
    SecretBytes signing_key = DeriveSigningKey(credentials.secret_access_key, scope);
    result.signature = ComputeSignature(signing_key, result.string_to_sign);
  }
  result.authorization = BuildAuthorizationHeader(credentials.access_key_id, scope,
                                                  result.signed_headers, result.signature);
  if (has_token && !token_signed) {
    request.SetHeader("X-Amz-Security-Token", credentials.session_token.RevealAsString());
  }
  request.headers.push_back(HttpHeader{"Authorization", result.authorization});
  return result;
}

}  // namespace lockout::aws
