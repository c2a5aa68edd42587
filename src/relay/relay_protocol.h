#pragma once

// The relay protocol (the seed's, ARCHITECTURE §4): the enclave asks the parent's lockout-relay
// for the encrypted key and for AWS credentials to call KMS with.
//
//   request  {"request_type": "get_secret", "payload": {"secret_name": "NAME"}}$$$
//   reply    {"result": {"secret": "<base64 ciphertext>",
//                        "credentials": {"access_key_id": "...", "secret_access_key": "...",
//                                        "token": "...", "expiration": "<RFC 3339>"}}}$$$
//   error    {"error": "<generic message>"}$$$
//
// One frame per message, framed by src/net/frame_decoder.h (v1: JSON + "$$$"; the relay also
// answers a v2 length-prefixed request in kind). "expiration" is our addition (optional when
// decoding; the seed's clients ignore it). Error messages are one of the generic kError*
// constants below: the peer learns the class of failure, the relay's log says why.
//
// Secrets: a success reply carries the instance role's secret key and session token. It is built
// directly in SecretBytes (no std::string copy) and decoded by SecretJson, whose strings live in
// secret memory only (secret_json.h), straight into the reply's SecretBytes.
// Errors never quote request or reply bytes; they carry field names, sizes and offsets.
// Thread-safety: pure functions.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/aws/sigv4.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/net/frame_decoder.h"

namespace lockout::relay {

inline constexpr std::string_view kGetSecretRequestType = "get_secret";
// lockout's addition (docs/PROTOCOL.md §3): the signing policy the relay was started with
// (`lockout-relay --signing-policy FILE`), for an enclave started with
// --signing-policy-from-relay. Not secret; the enclave seals whatever it gets into PCR16, so a
// relay that serves another policy only gets the enclave refused by KMS.
//   request  {"request_type": "get_signing_policy"}$$$
//   reply    {"result": {"signing_policy": "<the policy file's text>"}}$$$
inline constexpr std::string_view kGetSigningPolicyRequestType = "get_signing_policy";
// The largest policy text the relay serves (its JSON-escaped form must fit kMaxReplySize).
inline constexpr size_t kMaxServedSigningPolicySize = 64 << 10;

// lockout's addition (docs/PROTOCOL.md §3 "append_audit", §5): a batch of audit records (each a
// line of the enclave's audit chain, src/audit/audit_record.h) for the relay to append to its
// --audit-log file, written and fsynced before the reply.
//   request  {"request_type": "append_audit", "lines": ["<record>", ...]}$$$
//   reply    {"result": {"appended": N}}$$$
//   error    {"error": "no audit log"}$$$   (relay started without --audit-log)
// A line is 1..kMaxAuditLineSize bytes of printable ASCII; '$' is sent as \u0024 so that no
// request carries the v1 terminator. At most kMaxAuditLines lines and kMaxAuditRequestSize bytes.
inline constexpr std::string_view kAppendAuditRequestType = "append_audit";
inline constexpr size_t kMaxAuditLineSize = 32 << 10;
inline constexpr size_t kMaxAuditLines = 16384;
inline constexpr size_t kMaxAuditRequestSize = 1 << 20;

// lockout's addition (docs/PROTOCOL.md §3 "append_log"): the enclave's log lines and counters,
// which the relay writes into its own log (each line with "source":"enclave") and exposes with
// its Prometheus metrics (lockout_enclave_<counter>). In production the enclave has no console:
// this is how its log reaches the parent.
//   request  {"request_type": "append_log", "lines": [{<log line>}, ...],
//             "counters": {"<name>": N, ...}, "dropped": N}$$$
//   reply    {"result": {"appended": N}}$$$
// lines: 0..kMaxLogLines JSON objects of at most kMaxLogLineMembers members (the enclave's log
// lines as its logger wrote them); counters: at most kMaxLogCounters, names of
// [a-z][a-z0-9_]{0,63}, values unsigned integers (cumulative since the enclave started);
// dropped: lines the enclave could not keep for the relay, cumulative. The whole request is at
// most kMaxRequestSize bytes (so the relay's request limit is unchanged) and ASCII, '$' escaped.
inline constexpr std::string_view kAppendLogRequestType = "append_log";
inline constexpr size_t kMaxLogLines = 128;
inline constexpr size_t kMaxLogLineMembers = 32;
inline constexpr size_t kMaxLogCounters = 64;

// Largest request frame payload the relay reads for put_secret and append_log (the ops that carry
// data: a put_secret's 32 KiB value is 44 KiB in base64).
inline constexpr size_t kMaxRequestSize = 64 << 10;
// Largest request payload for the ops that carry only a name or nothing: get_secret (a secret
// name is at most 2048 characters, 4 KiB JSON-escaped), get_credentials, get_signing_policy.
inline constexpr size_t kMaxSmallRequestSize = 8 << 10;
// The only request that may be larger than kMaxRequestSize is append_audit (up to
// kMaxAuditRequestSize, with --audit-log), and only when its payload starts with exactly these
// bytes, as EncodeAppendAuditRequest writes it. The relay checks them as the frame arrives, so a
// peer cannot make it buffer more than kMaxRequestSize for any other op.
inline constexpr std::string_view kAppendAuditPrefix = R"({"request_type":"append_audit",)";
// The largest payload the relay accepts for `request_type`, one of the k*RequestType above
// (kMaxRequestSize for any other).
size_t MaxRequestSizeFor(std::string_view request_type);
// What the first bytes of a request payload say about it: kNo if they rule out append_audit,
// kMaybe while they are a prefix of kAppendAuditPrefix, kYes once they start with it.
enum class AuditPrefix { kNo, kMaybe, kYes };
AuditPrefix MatchAuditPrefix(std::string_view payload_start);
// Largest reply frame payload a client accepts: a SecretBinary is at most 64 KiB (88 KiB in
// base64), credentials and JSON add a few KiB.
inline constexpr size_t kMaxReplySize = 256 << 10;
// Secrets Manager's SecretId is a name or an ARN of 1..2048 characters.
inline constexpr size_t kMaxSecretNameSize = 2048;

// The generic error messages the relay sends (and what RelayClient maps them to).
inline constexpr std::string_view kErrorBadRequest = "bad request";  // InvalidArgument
inline constexpr std::string_view kErrorUnknownRequestType =
    "unknown request_type";                                                 // Unimplemented
inline constexpr std::string_view kErrorNotAllowed = "secret not allowed";  // PermissionDenied
inline constexpr std::string_view kErrorSecretUnavailable =
    "secret unavailable";  // FailedPrecondition: upstream refused or has no such secret
inline constexpr std::string_view kErrorUpstreamUnavailable =
    "upstream unavailable";                                           // Unavailable: retry later
inline constexpr std::string_view kErrorBusy = "relay busy";          // Unavailable: retry later
inline constexpr std::string_view kErrorInternal = "internal error";  // Internal
// get_signing_policy to a relay started without --signing-policy.
inline constexpr std::string_view kErrorNoSigningPolicy =
    "no signing policy";  // FailedPrecondition
// append_audit to a relay started without --audit-log.
inline constexpr std::string_view kErrorNoAuditLog = "no audit log";  // FailedPrecondition
// append_audit: the relay could not write or sync its file (disk full, I/O error): retry later.
inline constexpr std::string_view kErrorAuditWriteFailed = "audit write failed";  // Unavailable
// put_secret: the secret exists and the relay was started without --allow-overwrite.
inline constexpr std::string_view kErrorSecretExists = "secret exists";  // AlreadyExists
// A request over its op's limit (MaxRequestSizeFor), or a frame over the relay's.
inline constexpr std::string_view kErrorRequestTooLarge = "request too large";  // ResourceExhausted

// What to do about an error, in the relay's log line and in the status RelayClient returns (so
// the enclave's health "detail" and `lockout doctor` say it too).
inline constexpr std::string_view kHintNotAllowed =
    "the relay serves only the secret names given with --allow-secret: restart lockout-relay "
    "with --allow-secret NAME";
inline constexpr std::string_view kHintSecretUnavailable =
    "the relay could not read it from Secrets Manager: its log line relay_request says why";
inline constexpr std::string_view kHintUpstreamUnavailable =
    "the relay cannot reach Secrets Manager or get credentials: its log says why";
inline constexpr std::string_view kHintNoCredentials =
    "the relay gets the instance role's credentials from IMDS: attach an IAM role to the "
    "instance, and check AWS_EC2_METADATA_SERVICE_ENDPOINT if it is set";

struct GetSecretRequest {
  std::string secret_name;
};

// Checks a secret name as both ends do: 1..kMaxSecretNameSize bytes of printable ASCII (what
// Secrets Manager names and ARNs consist of). InvalidArgument naming the size or offset.
absl::Status ValidateSecretName(std::string_view name);

// The request's JSON text (no terminator). InvalidArgument if the name is not valid.
absl::StatusOr<std::string> EncodeGetSecretRequest(const GetSecretRequest& request);

// Decodes a request's JSON text (untrusted, at most kMaxRequestSize bytes).
// Errors: InvalidArgument when the text is not a JSON object, "request_type" is missing or not a
// string, or (for get_secret) "payload" is not an object or "secret_name" is missing, not a
// string or not a valid name; Unimplemented when request_type is a string other than
// "get_secret". Messages name the field, never its value.
absl::StatusOr<GetSecretRequest> DecodeRequest(std::string_view json_text);

// What the enclave gets back.
struct GetSecretReply {
  // The secret as stored (for lockout: the KMS ciphertext of the signing key).
  Bytes secret;
  // The instance role's temporary credentials.
  aws::AwsCredentials credentials;
  // When they expire, if the relay said.
  std::optional<absl::Time> expiration;
};

// The parts of a success reply, borrowed from the caller.
struct GetSecretReplyParts {
  ByteView secret;
  std::string_view access_key_id;
  const SecretBytes* secret_access_key = nullptr;  // not null
  const SecretBytes* session_token = nullptr;      // not null; may be empty
  std::optional<absl::Time> expiration;
};

// The success reply as one complete frame of `kind` (v1: JSON + "$$$"; v2: length + JSON), built
// in secret memory. InvalidArgument if a credential field is not printable ASCII (which AWS
// credentials always are) or a pointer is null; ResourceExhausted if the frame would exceed
// kMaxReplySize.
absl::StatusOr<SecretBytes> EncodeGetSecretReplyFrame(const GetSecretReplyParts& parts,
                                                      net::FrameKind kind = net::FrameKind::kV1);

// An error reply's JSON text ({"error": message}).
std::string EncodeErrorReply(std::string_view message);
// An error reply as one complete frame of `kind`.
std::string EncodeErrorReplyFrame(std::string_view message,
                                  net::FrameKind kind = net::FrameKind::kV1);

// Decodes a reply's JSON text (untrusted). A success reply gives the GetSecretReply. An error
// reply gives the status its message maps to (see kError*; an unknown message gives Unknown)
// with the message quoted after sanitising (printable ASCII, at most 200 bytes). Anything else:
// InvalidArgument naming the field ("malformed relay reply: ..."): not JSON (truncated, invalid
// UTF-8, a raw control character or NUL, duplicate member names, deeper than kMaxJsonDepth), over
// kMaxReplySize, a field missing or of the wrong type, a credential that is empty or not
// printable ASCII (an escaped NUL included), secret not base64, expiration not RFC 3339. The
// credentials are copied from the parser's secret arena into SecretBytes; no other copy is made.
absl::StatusOr<GetSecretReply> DecodeReply(std::string_view json_text);

// ---- get_signing_policy ----

// The request's JSON text.
std::string EncodeGetSigningPolicyRequest();
// Decodes a request's JSON text (untrusted, at most kMaxRequestSize bytes) as get_signing_policy.
// OK for exactly {"request_type": "get_signing_policy"}; Unimplemented when request_type is
// another string; InvalidArgument otherwise (not a JSON object, request_type missing, any other
// member, a member twice). Messages name fields, never values.
absl::Status DecodeGetSigningPolicyRequest(std::string_view json_text);
// The success reply's JSON text. InvalidArgument if `policy_text` is over
// kMaxServedSigningPolicySize or not valid UTF-8 (nlohmann refuses to serialise it).
absl::StatusOr<std::string> EncodeGetSigningPolicyReply(std::string_view policy_text);
// Decodes a get_signing_policy reply (untrusted): the policy text, or the relay's error reply as
// DecodeReply maps it (kErrorNoSigningPolicy: FailedPrecondition); InvalidArgument for anything
// else (not JSON, duplicate members, over kMaxReplySize, result.signing_policy missing, not a
// string or over kMaxServedSigningPolicySize).
absl::StatusOr<std::string> DecodeGetSigningPolicyReply(std::string_view json_text);

// ---- append_audit ----

// The request's JSON text. InvalidArgument if `lines` is empty, over kMaxAuditLines, a line is
// empty, over kMaxAuditLineSize or not printable ASCII, or the text would exceed
// kMaxAuditRequestSize.
absl::StatusOr<std::string> EncodeAppendAuditRequest(const std::vector<std::string>& lines);
// Decodes a request's JSON text (untrusted, at most kMaxAuditRequestSize bytes) as
// append_audit: the lines. Unimplemented when request_type is another string; InvalidArgument
// otherwise (not a JSON object, request_type missing, a member other than request_type and
// lines, a member twice, lines not an array of 1..kMaxAuditLines valid lines). Messages name
// fields and indexes, never values.
absl::StatusOr<std::vector<std::string>> DecodeAppendAuditRequest(std::string_view json_text);
// The success reply's JSON text.
std::string EncodeAppendAuditReply(size_t appended);
// Decodes an append_audit reply (untrusted): the number of lines appended, or the relay's error
// as DecodeReply maps it (kErrorNoAuditLog: FailedPrecondition; kErrorAuditWriteFailed:
// Unavailable); InvalidArgument for anything else.
absl::StatusOr<size_t> DecodeAppendAuditReply(std::string_view json_text);

// ---- append_log ----

struct AppendLogRequest {
  std::vector<nlohmann::json> lines;  // each an object
  // Sorted by name.
  std::vector<std::pair<std::string, uint64_t>> counters;
  uint64_t dropped = 0;
};

// True for a counter name the protocol accepts: [a-z][a-z0-9_]{0,63}.
bool IsValidLogCounterName(std::string_view name);

// The request's JSON text (ASCII; '$' escaped). InvalidArgument if a limit above is broken or a
// line is not an object: the caller (the enclave's log forwarder) sizes batches with
// AppendLogRequestSize first.
absl::StatusOr<std::string> EncodeAppendLogRequest(const AppendLogRequest& request);
// The bytes one line adds to an encoded request (its ASCII JSON text and a separator).
size_t AppendLogLineSize(const nlohmann::json& line);
// Decodes a request's JSON text (untrusted, at most kMaxRequestSize bytes) as append_log.
// Unimplemented when request_type is another string; InvalidArgument otherwise (not a JSON
// object, a member other than those above or twice, lines not an array of at most kMaxLogLines
// objects of at most kMaxLogLineMembers members, counters not an object of at most
// kMaxLogCounters valid names with unsigned values, dropped not unsigned). Messages name fields
// and indexes, never values.
absl::StatusOr<AppendLogRequest> DecodeAppendLogRequest(std::string_view json_text);
// The success reply's JSON text.
std::string EncodeAppendLogReply(size_t appended);
// Decodes an append_log reply (untrusted): the number of lines the relay wrote, or the relay's
// error as DecodeReply maps it; InvalidArgument for anything else.
absl::StatusOr<size_t> DecodeAppendLogReply(std::string_view json_text);

// ---- get_credentials (lockout's addition, docs/PROTOCOL.md §3) ----
// The instance role's credentials alone, for an enclave that has no secret yet (it generates its
// key and calls kms:Encrypt with them, src/enclave/key_generation.h).
//   request  {"request_type": "get_credentials"}$$$
//   reply    {"result": {"credentials": {"access_key_id": "...", "secret_access_key": "...",
//                                        "token": "...", "expiration": "<RFC 3339>"}}}$$$
// The reply is built and decoded in secret memory exactly as get_secret's.
inline constexpr std::string_view kGetCredentialsRequestType = "get_credentials";

struct GetCredentialsReply {
  aws::AwsCredentials credentials;
  std::optional<absl::Time> expiration;
};

// The request's JSON text.
std::string EncodeGetCredentialsRequest();
// Decodes a request's JSON text (untrusted) as get_credentials: OK for exactly
// {"request_type": "get_credentials"}; Unimplemented when request_type is another string;
// InvalidArgument otherwise (not a JSON object, request_type missing, any other member, a member
// twice).
absl::Status DecodeGetCredentialsRequest(std::string_view json_text);
// The success reply as one frame of `kind`, in secret memory. `parts.secret` is ignored.
// Errors as EncodeGetSecretReplyFrame.
absl::StatusOr<SecretBytes> EncodeGetCredentialsReplyFrame(
    const GetSecretReplyParts& parts, net::FrameKind kind = net::FrameKind::kV1);
// Decodes a get_credentials reply (untrusted), with DecodeReply's rules for the credentials (no
// "secret" member is read); the relay's error reply as DecodeReply maps it.
absl::StatusOr<GetCredentialsReply> DecodeGetCredentialsReply(std::string_view json_text);

// ---- put_secret (lockout's addition, docs/PROTOCOL.md §3) ----
// Stores a ciphertext the enclave made (an in-enclave key, KMS-encrypted) as the SecretBinary of
// an allowlisted secret: Secrets Manager CreateSecret, so a secret that exists is refused
// ("secret exists") unless the relay runs with --allow-overwrite (then PutSecretValue).
//   request  {"request_type": "put_secret", "secret_name": "NAME", "secret": "<base64>"}$$$
//   reply    {"result": {"version_id": "<Secrets Manager VersionId>"}}$$$
// The value is a KMS ciphertext (never a plaintext key): 1..kMaxPutSecretSize bytes.
inline constexpr std::string_view kPutSecretRequestType = "put_secret";
// Its base64 (44 KiB) keeps the request within kMaxRequestSize.
inline constexpr size_t kMaxPutSecretSize = 32 << 10;
// A Secrets Manager VersionId is 32..64 characters.
inline constexpr size_t kMaxVersionIdSize = 64;

struct PutSecretRequest {
  std::string secret_name;
  Bytes secret;
};

// The request's JSON text ('$' sent as \u0024). InvalidArgument for an invalid name or a value
// of 0 or over kMaxPutSecretSize bytes.
absl::StatusOr<std::string> EncodePutSecretRequest(const PutSecretRequest& request);
// Decodes a request's JSON text (untrusted, at most kMaxRequestSize bytes) as put_secret.
// Unimplemented when request_type is another string; InvalidArgument otherwise (not a JSON
// object, a member other than request_type, secret_name and secret, a member twice, a name
// ValidateSecretName refuses, secret not strict base64 or of 0 or over kMaxPutSecretSize bytes).
// Messages name fields, never values.
absl::StatusOr<PutSecretRequest> DecodePutSecretRequest(std::string_view json_text);
// The success reply's JSON text.
std::string EncodePutSecretReply(std::string_view version_id);
// Decodes a put_secret reply (untrusted): the VersionId (1..kMaxVersionIdSize printable ASCII),
// or the relay's error as DecodeReply maps it (kErrorSecretExists: AlreadyExists;
// kErrorNotAllowed: PermissionDenied); InvalidArgument for anything else.
absl::StatusOr<std::string> DecodePutSecretReply(std::string_view json_text);

}  // namespace lockout::relay
