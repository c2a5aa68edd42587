#include "src/relay/relay_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/secret_json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::relay {
namespace {

using nlohmann::json;

constexpr size_t kMaxQuotedErrorMessage = 200;

bool IsPrintableAscii(ByteView bytes) {
  for (uint8_t c : bytes) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed relay reply: ", Absl(what)));
}

// Writes JSON text into a caller-sized buffer, or only counts bytes when constructed without one.
// Two passes (count, then write) let the reply be built in exactly-sized secret memory, so the
// credentials never pass through a growable std::string.
class FrameWriter {
 public:
  FrameWriter() = default;
  explicit FrameWriter(absl::Span<uint8_t> out) : out_(out), counting_(false) {}

  void Raw(std::string_view s) { Raw(AsBytes(s)); }
  void Raw(ByteView b) {
    if (!counting_ && !b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  // A JSON string; the caller has checked the content is printable ASCII, so only '"' and '\'
  // need escaping (RFC 8259 §7).
  void String(ByteView b) {
    Raw("\"");
    size_t run_start = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      if (b[i] == '"' || b[i] == '\\') {
        Raw(b.subspan(run_start, i - run_start));
        Raw(b[i] == '"' ? std::string_view("\\\"") : std::string_view("\\\\"));
        run_start = i + 1;
      }
    }
    Raw(b.subspan(run_start));
    Raw("\"");
  }
  size_t size() const { return pos_; }

 private:
  absl::Span<uint8_t> out_;
  bool counting_ = true;
  size_t pos_ = 0;
};

// With `with_secret` false, the get_credentials reply (no "secret" member).
void WriteReplyJson(FrameWriter& w, const GetSecretReplyParts& parts, std::string_view secret_b64,
                    std::string_view expiration, bool with_secret = true) {
  if (with_secret) {
    w.Raw(R"({"result":{"secret":)");
    w.String(AsBytes(secret_b64));
    w.Raw(R"(,"credentials":{"access_key_id":)");
  } else {
    w.Raw(R"({"result":{"credentials":{"access_key_id":)");
  }
  w.String(AsBytes(parts.access_key_id));
  w.Raw(R"(,"secret_access_key":)");
  w.String(parts.secret_access_key->Reveal());
  w.Raw(R"(,"token":)");
  w.String(parts.session_token->Reveal());
  if (!expiration.empty()) {
    w.Raw(R"(,"expiration":)");
    w.String(AsBytes(expiration));
  }
  w.Raw("}}}");
}

std::string V2Prefix(size_t size) {
  std::string prefix(net::kV2HeaderSize, '\0');
  for (size_t i = 0; i < net::kV2HeaderSize; ++i) {
    prefix[net::kV2HeaderSize - 1 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  return prefix;
}

absl::Status StatusForErrorMessage(std::string_view message,
                                   std::string_view request = kGetSecretRequestType) {
  std::string quoted;
  for (char c : message.substr(0, kMaxQuotedErrorMessage)) {
    quoted.push_back(c >= 0x20 && c <= 0x7e ? c : '?');
  }
  std::string text = absl::StrCat("relay refused ", Absl(request), ": ", quoted);
  for (const auto& [error, hint] :
       {std::pair{kErrorNotAllowed, kHintNotAllowed},
        std::pair{kErrorSecretUnavailable, kHintSecretUnavailable},
        std::pair{kErrorUpstreamUnavailable, kHintUpstreamUnavailable}}) {
    if (message == error) absl::StrAppend(&text, " (", Absl(hint), ")");
  }
  if (message == kErrorBadRequest) return absl::InvalidArgumentError(text);
  if (message == kErrorUnknownRequestType) return absl::UnimplementedError(text);
  if (message == kErrorNotAllowed) return absl::PermissionDeniedError(text);
  if (message == kErrorSecretUnavailable || message == kErrorNoSigningPolicy) {
    return absl::FailedPreconditionError(text);
  }
  if (message == kErrorNoAuditLog) return absl::FailedPreconditionError(text);
  if (message == kErrorSecretExists) return absl::AlreadyExistsError(text);
  if (message == kErrorRequestTooLarge) return absl::ResourceExhaustedError(text);
  if (message == kErrorUpstreamUnavailable || message == kErrorBusy ||
      message == kErrorAuditWriteFailed) {
    return absl::UnavailableError(text);
  }
  if (message == kErrorInternal) return absl::InternalError(text);
  return absl::UnknownError(text);
}

// A required printable-ASCII string field of `object`, still in the document's secret memory.
absl::StatusOr<std::string_view> RequiredString(const SecretJson& object, std::string_view field,
                                                std::string_view where) {
  const SecretJson* value = object.Find(field);
  if (value == nullptr || !value->is_string()) {
    return Malformed(absl::StrCat(Absl(where), ".", Absl(field), " missing or not a string"));
  }
  if (!IsPrintableAscii(AsBytes(value->RevealString()))) {
    return Malformed(absl::StrCat(Absl(where), ".", Absl(field), " is not printable ASCII"));
  }
  return value->RevealString();
}

// The front of every request decoder: `parsed` (the caller's ParseJson or ParseJsonStrict result)
// must be a JSON object whose request_type is the string `type`. An unknown type is reported by
// its size only: it is the peer's text.
absl::StatusOr<json> CheckRequestType(absl::StatusOr<json> parsed, std::string_view type) {
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request is not JSON: ", std::string(parsed.status().message())));
  }
  if (!parsed->is_object()) return absl::InvalidArgumentError("request is not a JSON object");
  auto t = parsed->find("request_type");
  if (t == parsed->end() || !t->is_string()) {
    return absl::InvalidArgumentError("request_type missing or not a string");
  }
  if (t->get_ref<const std::string&>() != type) {
    return absl::UnimplementedError(
        absl::StrCat("unknown request_type (", t->get_ref<const std::string&>().size(), " bytes)"));
  }
  return parsed;
}

}  // namespace

absl::Status ValidateSecretName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSecretNameSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret_name must be 1..", kMaxSecretNameSize, " bytes, got ", name.size()));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c <= 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("secret_name has a byte outside printable ASCII at offset ", i));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeGetSecretRequest(const GetSecretRequest& request) {
  RETURN_IF_ERROR(ValidateSecretName(request.secret_name));
  json j = {{"request_type", std::string(kGetSecretRequestType)},
            {"payload", {{"secret_name", request.secret_name}}}};
  return j.dump();
}

absl::StatusOr<GetSecretRequest> DecodeRequest(std::string_view json_text) {
  ASSIGN_OR_RETURN(json j,
                   CheckRequestType(ParseJson(json_text, kMaxRequestSize), kGetSecretRequestType));
  auto payload = j.find("payload");
  if (payload == j.end() || !payload->is_object()) {
    return absl::InvalidArgumentError("payload missing or not an object");
  }
  auto name = payload->find("secret_name");
  if (name == payload->end() || !name->is_string()) {
    return absl::InvalidArgumentError("payload.secret_name missing or not a string");
  }
  GetSecretRequest request{name->get<std::string>()};
  RETURN_IF_ERROR(ValidateSecretName(request.secret_name));
  return request;
}

namespace {

absl::StatusOr<SecretBytes> EncodeCredentialsReplyFrame(const GetSecretReplyParts& parts,
                                                        net::FrameKind kind, bool with_secret) {
  if (parts.secret_access_key == nullptr || parts.session_token == nullptr) {
    return absl::InvalidArgumentError("reply credentials missing");
  }
  if (parts.access_key_id.empty() || parts.secret_access_key->empty()) {
    return absl::InvalidArgumentError("reply credentials are empty");
  }
  if (!IsPrintableAscii(AsBytes(parts.access_key_id)) ||
      !IsPrintableAscii(parts.secret_access_key->Reveal()) ||
      !IsPrintableAscii(parts.session_token->Reveal())) {
    return absl::InvalidArgumentError("reply credentials are not printable ASCII");
  }
  const std::string secret_b64 = with_secret ? Base64Encode(parts.secret) : std::string();
  const std::string expiration =
      parts.expiration.has_value() ? FormatRfc3339(*parts.expiration) : std::string();

  FrameWriter counter;
  WriteReplyJson(counter, parts, secret_b64, expiration, with_secret);
  const size_t json_size = counter.size();
  if (json_size > kMaxReplySize) {
    return absl::ResourceExhaustedError(
        absl::StrCat("reply of ", json_size, " bytes exceeds ", kMaxReplySize));
  }
  const bool v1 = kind == net::FrameKind::kV1;
  const size_t frame_size = json_size + (v1 ? net::kV1Terminator.size() : net::kV2HeaderSize);
  SecretBytes frame(frame_size);
  FrameWriter writer(frame.RevealMutable());
  if (!v1) writer.Raw(V2Prefix(json_size));
  WriteReplyJson(writer, parts, secret_b64, expiration, with_secret);
  if (v1) writer.Raw(net::kV1Terminator);
  if (writer.size() != frame_size) return absl::InternalError("reply size changed while writing");
  // A v1 frame ends at the first "$$$" (frame_decoder.h): none may occur inside the JSON.
  if (v1 && frame.RevealAsString().find(net::kV1Terminator) != json_size) {
    return absl::InvalidArgumentError("reply contains the v1 terminator");
  }
  return frame;
}

}  // namespace

absl::StatusOr<SecretBytes> EncodeGetSecretReplyFrame(const GetSecretReplyParts& parts,
                                                      net::FrameKind kind) {
  return EncodeCredentialsReplyFrame(parts, kind, /*with_secret=*/true);
}

absl::StatusOr<SecretBytes> EncodeGetCredentialsReplyFrame(const GetSecretReplyParts& parts,
                                                           net::FrameKind kind) {
  return EncodeCredentialsReplyFrame(parts, kind, /*with_secret=*/false);
}

std::string EncodeErrorReply(std::string_view message) {
  return json{{"error", std::string(message)}}.dump();
}

std::string EncodeErrorReplyFrame(std::string_view message, net::FrameKind kind) {
  const std::string text = EncodeErrorReply(message);
  if (kind == net::FrameKind::kV1) return absl::StrCat(text, Absl(net::kV1Terminator));
  return absl::StrCat(V2Prefix(text.size()), text);
}

namespace {

// result.credentials of a get_secret or get_credentials reply, copied from the document's secret
// arena into SecretBytes.
absl::StatusOr<GetCredentialsReply> DecodeCredentialsMember(const SecretJson& result) {
  const SecretJson* credentials = result.Find("credentials");
  if (credentials == nullptr || !credentials->is_object()) {
    return Malformed("result.credentials missing or not an object");
  }
  constexpr std::string_view kWhere = "result.credentials";
  ASSIGN_OR_RETURN(std::string_view access_key_id,
                   RequiredString(*credentials, "access_key_id", kWhere));
  ASSIGN_OR_RETURN(std::string_view secret_access_key,
                   RequiredString(*credentials, "secret_access_key", kWhere));
  ASSIGN_OR_RETURN(std::string_view token, RequiredString(*credentials, "token", kWhere));
  if (access_key_id.empty() || secret_access_key.empty()) {
    return Malformed("result.credentials has an empty key");
  }
  GetCredentialsReply reply;
  if (const SecretJson* expiration = credentials->Find("expiration"); expiration != nullptr) {
    if (!expiration->is_string()) return Malformed("result.credentials.expiration not a string");
    absl::StatusOr<absl::Time> t = ParseRfc3339(expiration->RevealString());
    if (!t.ok()) return Malformed("result.credentials.expiration is not an RFC 3339 time");
    reply.expiration = *t;
  }
  reply.credentials.access_key_id = std::string(access_key_id);
  reply.credentials.secret_access_key = SecretBytes::CopyFrom(secret_access_key);
  reply.credentials.session_token = SecretBytes::CopyFrom(token);
  return reply;
}

}  // namespace

absl::StatusOr<GetSecretReply> DecodeReply(std::string_view json_text) {
  // SecretJson, not nlohmann: the reply carries the secret key and session token, and nlohmann's
  // lexer would leave copies of them in freed buffers (secret_json.h). Every string below is a
  // view into the document's secret arena until it is copied into SecretBytes.
  absl::StatusOr<SecretJson> parsed = SecretJson::Parse(json_text, kMaxReplySize);
  if (!parsed.ok()) {
    return Malformed(absl::StrCat("not JSON: ", std::string(parsed.status().message())));
  }
  const SecretJson& j = *parsed;
  if (!j.is_object()) return Malformed("not a JSON object");

  if (const SecretJson* error = j.Find("error"); error != nullptr) {
    if (!error->is_string()) return Malformed("error is not a string");
    return StatusForErrorMessage(error->RevealString());
  }
  const SecretJson* result = j.Find("result");
  if (result == nullptr || !result->is_object()) {
    return Malformed("neither result nor error is an object/string");
  }
  ASSIGN_OR_RETURN(std::string_view secret_b64, RequiredString(*result, "secret", "result"));
  absl::StatusOr<Bytes> secret = Base64Decode(secret_b64);
  if (!secret.ok()) {
    return Malformed(
        absl::StrCat("result.secret is not base64: ", std::string(secret.status().message())));
  }
  ASSIGN_OR_RETURN(GetCredentialsReply credentials, DecodeCredentialsMember(*result));
  GetSecretReply reply;
  reply.secret = *std::move(secret);
  reply.credentials = std::move(credentials.credentials);
  reply.expiration = credentials.expiration;
  return reply;
}

absl::StatusOr<GetCredentialsReply> DecodeGetCredentialsReply(std::string_view json_text) {
  // SecretJson for the same reason as DecodeReply.
  absl::StatusOr<SecretJson> parsed = SecretJson::Parse(json_text, kMaxReplySize);
  if (!parsed.ok()) {
    return Malformed(absl::StrCat("not JSON: ", std::string(parsed.status().message())));
  }
  const SecretJson& j = *parsed;
  if (!j.is_object()) return Malformed("not a JSON object");
  if (const SecretJson* error = j.Find("error"); error != nullptr) {
    if (!error->is_string()) return Malformed("error is not a string");
    return StatusForErrorMessage(error->RevealString(), kGetCredentialsRequestType);
  }
  const SecretJson* result = j.Find("result");
  if (result == nullptr || !result->is_object()) {
    return Malformed("neither result nor error is an object/string");
  }
  return DecodeCredentialsMember(*result);
}

std::string EncodeGetSigningPolicyRequest() {
  return json{{"request_type", std::string(kGetSigningPolicyRequestType)}}.dump();
}

absl::Status DecodeGetSigningPolicyRequest(std::string_view json_text) {
  ASSIGN_OR_RETURN(json j, CheckRequestType(ParseJsonStrict(json_text, kMaxRequestSize),
                                            kGetSigningPolicyRequestType));
  if (j.size() != 1) {
    return absl::InvalidArgumentError("get_signing_policy takes no member but request_type");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeGetSigningPolicyReply(std::string_view policy_text) {
  if (policy_text.size() > kMaxServedSigningPolicySize) {
    return absl::InvalidArgumentError(absl::StrCat("signing policy of ", policy_text.size(),
                                                   " bytes exceeds the limit of ",
                                                   kMaxServedSigningPolicySize));
  }
  json reply = {{"result", {{"signing_policy", std::string(policy_text)}}}};
  try {
    return reply.dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::exception&) {  // the one place nlohmann may throw here: invalid UTF-8
    return absl::InvalidArgumentError("signing policy is not valid UTF-8");
  }
}

namespace {

// The front of the get_signing_policy and append_audit reply decoders: a strict JSON object
// that is either {"error": MESSAGE} (returned as the status it names) or has an object "result",
// which is returned.
absl::StatusOr<json> ReplyResult(std::string_view json_text, std::string_view request_type) {
  absl::StatusOr<json> parsed = ParseJsonStrict(json_text, kMaxReplySize);
  if (!parsed.ok()) {
    return Malformed(absl::StrCat("not JSON: ", std::string(parsed.status().message())));
  }
  json& j = *parsed;
  if (!j.is_object()) return Malformed("not a JSON object");
  if (auto error = j.find("error"); error != j.end()) {
    if (!error->is_string()) return Malformed("error is not a string");
    return StatusForErrorMessage(error->get_ref<const std::string&>(), request_type);
  }
  auto result = j.find("result");
  if (result == j.end() || !result->is_object()) {
    return Malformed("result missing or not an object");
  }
  return std::move(*result);
}

}  // namespace

absl::StatusOr<std::string> DecodeGetSigningPolicyReply(std::string_view json_text) {
  ASSIGN_OR_RETURN(const json result, ReplyResult(json_text, kGetSigningPolicyRequestType));
  auto policy = result.find("signing_policy");
  if (policy == result.end() || !policy->is_string()) {
    return Malformed("result.signing_policy missing or not a string");
  }
  const std::string& text = policy->get_ref<const std::string&>();
  if (text.size() > kMaxServedSigningPolicySize) {
    return Malformed(absl::StrCat("result.signing_policy of ", text.size(),
                                  " bytes exceeds the limit of ", kMaxServedSigningPolicySize));
  }
  return text;
}

namespace {

absl::Status CheckAuditLine(const std::string& line, size_t index) {
  if (line.empty() || line.size() > kMaxAuditLineSize) {
    return absl::InvalidArgumentError(absl::StrCat("lines[", index, "] must be 1..",
                                                   kMaxAuditLineSize, " bytes, got ", line.size()));
  }
  if (!IsPrintableAscii(AsBytes(line))) {
    return absl::InvalidArgumentError(absl::StrCat("lines[", index, "] is not printable ASCII"));
  }
  return absl::OkStatus();
}

}  // namespace

size_t MaxRequestSizeFor(std::string_view request_type) {
  if (request_type == kGetSecretRequestType || request_type == kGetCredentialsRequestType ||
      request_type == kGetSigningPolicyRequestType) {
    return kMaxSmallRequestSize;
  }
  if (request_type == kAppendAuditRequestType) return kMaxAuditRequestSize;
  return kMaxRequestSize;
}

AuditPrefix MatchAuditPrefix(std::string_view payload_start) {
  const size_t n = std::min(payload_start.size(), kAppendAuditPrefix.size());
  if (payload_start.substr(0, n) != kAppendAuditPrefix.substr(0, n)) return AuditPrefix::kNo;
  return n == kAppendAuditPrefix.size() ? AuditPrefix::kYes : AuditPrefix::kMaybe;
}

absl::StatusOr<std::string> EncodeAppendAuditRequest(const std::vector<std::string>& lines) {
  if (lines.empty() || lines.size() > kMaxAuditLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("append_audit takes 1..", kMaxAuditLines, " lines, got ", lines.size()));
  }
  size_t total = 64;
  for (const std::string& line : lines) total += line.size() + line.size() / 8 + 3;
  std::string out;
  out.reserve(std::min(total, kMaxAuditRequestSize + 1024));
  out = R"({"request_type":"append_audit","lines":[)";
  for (size_t i = 0; i < lines.size(); ++i) {
    RETURN_IF_ERROR(CheckAuditLine(lines[i], i));
    if (i > 0) out += ',';
    out += '"';
    // Runs of plain bytes are appended whole; only '"', '\\' and '$' are escaped.
    const std::string& line = lines[i];
    size_t run = 0;
    for (size_t k = 0; k < line.size(); ++k) {
      const char c = line[k];
      if (c != '"' && c != '\\' && c != '$') continue;
      out.append(line, run, k - run);
      if (c == '$') {
        out += "\\u0024";  // never "$$$" (the v1 terminator) inside the frame
      } else {
        out += '\\';
        out += c;
      }
      run = k + 1;
    }
    out.append(line, run, std::string::npos);
    out += '"';
    if (out.size() > kMaxAuditRequestSize) break;
  }
  out += "]}";
  if (out.size() > kMaxAuditRequestSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("append_audit request exceeds ", kMaxAuditRequestSize, " bytes"));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeAppendAuditRequest(std::string_view json_text) {
  ASSIGN_OR_RETURN(json j, CheckRequestType(ParseJsonStrict(json_text, kMaxAuditRequestSize, 3),
                                            kAppendAuditRequestType));
  auto lines = j.find("lines");
  if (lines == j.end() || !lines->is_array()) {
    return absl::InvalidArgumentError("lines missing or not an array");
  }
  if (j.size() != 2) {
    return absl::InvalidArgumentError("append_audit takes no member but request_type and lines");
  }
  if (lines->empty() || lines->size() > kMaxAuditLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("append_audit takes 1..", kMaxAuditLines, " lines, got ", lines->size()));
  }
  std::vector<std::string> out;
  out.reserve(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    json& line = (*lines)[i];
    if (!line.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("lines[", i, "] is not a string"));
    }
    out.push_back(std::move(line.get_ref<std::string&>()));
    RETURN_IF_ERROR(CheckAuditLine(out.back(), i));
  }
  return out;
}

namespace {

// The success reply of append_audit and append_log.
std::string EncodeAppendedReply(size_t appended) {
  return json{{"result", {{"appended", appended}}}}.dump();
}

absl::StatusOr<size_t> DecodeAppendedReply(std::string_view json_text,
                                           std::string_view request_type, size_t max_lines) {
  ASSIGN_OR_RETURN(const json result, ReplyResult(json_text, request_type));
  auto appended = result.find("appended");
  if (appended == result.end() || !appended->is_number_unsigned() ||
      appended->get<uint64_t>() > max_lines) {
    return Malformed("result.appended missing or not a count of lines");
  }
  return static_cast<size_t>(appended->get<uint64_t>());
}

}  // namespace

std::string EncodeAppendAuditReply(size_t appended) { return EncodeAppendedReply(appended); }

absl::StatusOr<size_t> DecodeAppendAuditReply(std::string_view json_text) {
  return DecodeAppendedReply(json_text, kAppendAuditRequestType, kMaxAuditLines);
}

// ---- append_log ----

namespace {

// JSON text of `j` in ASCII with every '$' escaped (a '$' can only occur inside a string), so no
// request carries the v1 terminator.
std::string AsciiJson(const json& j) {
  const std::string text = j.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '$') {
      out += "\\u0024";
    } else {
      out += c;
    }
  }
  return out;
}

// True if every number in `j` is finite (a literal like 1e999 parses to infinity, which no JSON
// text can carry back out).
bool AllNumbersFinite(const json& j) {
  if (j.is_number_float()) return std::isfinite(j.get<double>());
  if (j.is_structured()) {
    for (const json& member : j) {
      if (!AllNumbersFinite(member)) return false;
    }
  }
  return true;
}

absl::Status CheckLogLine(const json& line, size_t index) {
  if (!line.is_object() || line.size() > kMaxLogLineMembers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lines[", index, "] is not an object of at most ", kMaxLogLineMembers, " members"));
  }
  if (!AllNumbersFinite(line)) {
    return absl::InvalidArgumentError(absl::StrCat("lines[", index, "] has a number out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidLogCounterName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

size_t AppendLogLineSize(const json& line) { return AsciiJson(line).size() + 1; }

absl::StatusOr<std::string> EncodeAppendLogRequest(const AppendLogRequest& request) {
  if (request.lines.size() > kMaxLogLines) {
    return absl::InvalidArgumentError(absl::StrCat("append_log takes at most ", kMaxLogLines,
                                                   " lines, got ", request.lines.size()));
  }
  if (request.counters.size() > kMaxLogCounters) {
    return absl::InvalidArgumentError(absl::StrCat("append_log takes at most ", kMaxLogCounters,
                                                   " counters, got ", request.counters.size()));
  }
  json j = {{"request_type", kAppendLogRequestType}, {"lines", json::array()}};
  for (size_t i = 0; i < request.lines.size(); ++i) {
    RETURN_IF_ERROR(CheckLogLine(request.lines[i], i));
    j["lines"].push_back(request.lines[i]);
  }
  json counters = json::object();
  for (const auto& [name, value] : request.counters) {
    if (!IsValidLogCounterName(name)) {
      return absl::InvalidArgumentError("append_log: invalid counter name");
    }
    counters[name] = value;
  }
  j["counters"] = std::move(counters);
  j["dropped"] = request.dropped;
  std::string out = AsciiJson(j);
  if (out.size() > kMaxRequestSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("append_log request exceeds ", kMaxRequestSize, " bytes"));
  }
  return out;
}

absl::StatusOr<AppendLogRequest> DecodeAppendLogRequest(std::string_view json_text) {
  // Depth: request, lines, a line, and what a log line's fields may nest (3 more levels).
  ASSIGN_OR_RETURN(json j, CheckRequestType(ParseJsonStrict(json_text, kMaxRequestSize, 6),
                                            kAppendLogRequestType));
  for (const auto& [key, value] : j.items()) {
    if (key != "request_type" && key != "lines" && key != "counters" && key != "dropped") {
      return absl::InvalidArgumentError(
          "append_log takes no member but request_type, lines, counters and dropped");
    }
  }
  AppendLogRequest out;
  auto lines = j.find("lines");
  if (lines == j.end() || !lines->is_array() || lines->size() > kMaxLogLines) {
    return absl::InvalidArgumentError(
        absl::StrCat("lines missing or not an array of at most ", kMaxLogLines, " lines"));
  }
  out.lines.reserve(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    RETURN_IF_ERROR(CheckLogLine((*lines)[i], i));
    out.lines.push_back(std::move((*lines)[i]));
  }
  auto counters = j.find("counters");
  if (counters == j.end() || !counters->is_object() || counters->size() > kMaxLogCounters) {
    return absl::InvalidArgumentError(
        absl::StrCat("counters missing or not an object of at most ", kMaxLogCounters, " members"));
  }
  for (const auto& [name, value] : counters->items()) {
    if (!IsValidLogCounterName(name)) {
      return absl::InvalidArgumentError("counters has a name not of [a-z][a-z0-9_]{0,63}");
    }
    if (!value.is_number_unsigned()) {
      return absl::InvalidArgumentError("counters has a value that is not an unsigned integer");
    }
    out.counters.emplace_back(name, value.get<uint64_t>());  // items() iterates sorted by name
  }
  auto dropped = j.find("dropped");
  if (dropped == j.end() || !dropped->is_number_unsigned()) {
    return absl::InvalidArgumentError("dropped missing or not an unsigned integer");
  }
  out.dropped = dropped->get<uint64_t>();
  return out;
}

std::string EncodeAppendLogReply(size_t appended) { return EncodeAppendedReply(appended); }

absl::StatusOr<size_t> DecodeAppendLogReply(std::string_view json_text) {
  return DecodeAppendedReply(json_text, kAppendLogRequestType, kMaxLogLines);
}

// ---- get_credentials ----

std::string EncodeGetCredentialsRequest() {
  return json{{"request_type", std::string(kGetCredentialsRequestType)}}.dump();
}

absl::Status DecodeGetCredentialsRequest(std::string_view json_text) {
  ASSIGN_OR_RETURN(json j, CheckRequestType(ParseJsonStrict(json_text, kMaxRequestSize),
                                            kGetCredentialsRequestType));
  if (j.size() != 1) {
    return absl::InvalidArgumentError("get_credentials takes no member but request_type");
  }
  return absl::OkStatus();
}

// ---- put_secret ----

namespace {

absl::Status CheckPutSecretSize(size_t size) {
  if (size == 0 || size > kMaxPutSecretSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret must be 1..", kMaxPutSecretSize, " bytes, got ", size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> EncodePutSecretRequest(const PutSecretRequest& request) {
  RETURN_IF_ERROR(ValidateSecretName(request.secret_name));
  RETURN_IF_ERROR(CheckPutSecretSize(request.secret.size()));
  const json j = {{"request_type", std::string(kPutSecretRequestType)},
                  {"secret_name", request.secret_name},
                  {"secret", Base64Encode(request.secret)}};
  return AsciiJson(j);  // a name may hold '$': never the v1 terminator in the frame
}

absl::StatusOr<PutSecretRequest> DecodePutSecretRequest(std::string_view json_text) {
  ASSIGN_OR_RETURN(json j, CheckRequestType(ParseJsonStrict(json_text, kMaxRequestSize, 2),
                                            kPutSecretRequestType));
  for (const auto& [key, value] : j.items()) {
    if (key != "request_type" && key != "secret_name" && key != "secret") {
      return absl::InvalidArgumentError(
          "put_secret takes no member but request_type, secret_name and secret");
    }
  }
  auto name = j.find("secret_name");
  if (name == j.end() || !name->is_string()) {
    return absl::InvalidArgumentError("secret_name missing or not a string");
  }
  auto secret = j.find("secret");
  if (secret == j.end() || !secret->is_string()) {
    return absl::InvalidArgumentError("secret missing or not a string");
  }
  PutSecretRequest out;
  out.secret_name = name->get<std::string>();
  RETURN_IF_ERROR(ValidateSecretName(out.secret_name));
  const std::string& b64 = secret->get_ref<const std::string&>();
  if (b64.size() > (kMaxPutSecretSize + 2) / 3 * 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret of ", b64.size(), " base64 characters is over the limit"));
  }
  absl::StatusOr<Bytes> bytes = Base64Decode(b64);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret is not base64: ", std::string(bytes.status().message())));
  }
  RETURN_IF_ERROR(CheckPutSecretSize(bytes->size()));
  out.secret = *std::move(bytes);
  return out;
}

std::string EncodePutSecretReply(std::string_view version_id) {
  return json{{"result", {{"version_id", std::string(version_id)}}}}.dump();
}

absl::StatusOr<std::string> DecodePutSecretReply(std::string_view json_text) {
  ASSIGN_OR_RETURN(const json result, ReplyResult(json_text, kPutSecretRequestType));
  auto version = result.find("version_id");
  if (version == result.end() || !version->is_string()) {
    return Malformed("result.version_id missing or not a string");
  }
  const std::string& id = version->get_ref<const std::string&>();
  if (id.empty() || id.size() > kMaxVersionIdSize || !IsPrintableAscii(AsBytes(id))) {
    return Malformed(absl::StrCat("result.version_id must be 1..", kMaxVersionIdSize,
                                  " printable ASCII characters"));
  }
  return id;
}

}  // namespace lockout::relay
