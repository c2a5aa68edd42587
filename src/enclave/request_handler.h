#pragma once

// RequestHandler: the enclave's two request protocols, independent of sockets (docs/PROTOCOL.md).
//
// v1 (the seed's; a frame is JSON + "$$$"):
//   {"bytes": "<base64>"}  ->  {"success": "True", "data": "0x<hex signature>"}
//   errors                 ->  {"success": "False", "error": "Error: <generic reason>"}
//   The seed's server answers one request per connection and closes it; so do we.
// v2 (a frame is a 4-byte big-endian length + JSON; pipelined, replies in request order):
//   {"id": ID, "op": "sign", "message": "<base64>"}   -> {"id": ID, "ok": true, "signature": HEX}
//      optional "hash" (sha256 sha384 sha512 keccak256 none) and "format" (der raw recoverable):
//      signer::SignOptions; absent is the key type's default (sha256/der; ed25519 none/raw).
//      A name not in these lists is "bad request"; so is a combination the key cannot sign
//      (signer::ResolveSignOptions) or, for hash none, a message not of the digest's size.
//   {"id": ID, "op": "public_key"}                    -> {"id": ID, "ok": true, "key_type": ..,
//                                                         "public_key_pem": .., "spki_der": B64,
//                                                         "public_key_raw": HEX}
//   {"id": ID, "op": "attest", "nonce": "<base64>"}   -> {"id": ID, "ok": true, "document": B64,
//                                                         "spki_sha256": HEX}
//      an NSM attestation document with public_key = the signing key's SPKI (DER) and
//      user_data = SHA-256(SPKI DER); nonce (optional, at most 512 bytes) as given.
//   {"id": ID, "op": "sign", "message": "<base64>", "attest": {"nonce": "<base64>"}}
//                                                     -> {"id": ID, "ok": true, "signature": HEX,
//                                                         "attestation": B64}
//      an attested reply (src/attest/reply_binding.h): an NSM document with nonce = the
//      client's, public_key = the signing key's SPKI, user_data = the binding of the request,
//      the signature and the key. Blocks (the NSM call); rate-limited by a token bucket checked
//      before anything is signed ("busy" when empty; HandlerOptions::attested_replies).
//   {"id": ID, "op": "eth_address" | "eth_sign_transaction" | "eth_personal_sign" |
//    "eth_sign_typed_data", ...}                    -> eth_ops.h (secp256k1 keys only)
//   {"id": ID, "op": "health"}                        -> {"id": ID, "ok": true, "status": ..,
//                                                         "reason": .., "load_mode": .., ...}
//   errors                                            -> {"id": ID, "ok": false, "error": REASON}
//   REASON "busy": the server's pool for blocking requests is full, or (attested sign) attested
//   replies are over their rate limit; nothing was done (docs/PROTOCOL.md).
//   health also reports max_workers_one_connection (SigningStats below).
//   ID is any JSON string (at most 256 bytes), number or null, echoed verbatim; absent -> null.
//
// HD keys (docs/WALLET.md "HD keys"): sign (plain and attested), public_key, attest and the eth
// ops take an optional "path", a derivation path such as "m/44'/60'/0'/0/0" (hd::DerivationPath,
// strict). With an HD seed secret the path is required ("path required" without one) and the
// request is served by the child key at that path (public_key also echoes "path"); with a single
// key a path is "path needs an hd key". Under a signing policy the verified client's "paths"
// must match it (an unauthenticated request may name no path): otherwise "path not allowed", the
// rule (hd_path) in the log and the audit record. An attested reply binds the child's SPKI.
//
// Errors: the peer gets one short generic reason ("bad request", "unknown op", "key not loaded",
// "internal error", ...); the specific cause goes to the local log (JSON lines, never message
// bytes, keys, documents or nonces).
//
// Signing policy (docs/PROTOCOL.md §2 "Authenticated requests"): with
// HandlerOptions::signing_policy set, every request is verified (src/auth/request_verifier.h)
// before anything else is done with it - after framing and JSON parsing only (a request that is not
// a JSON object, or whose id is invalid, is still "bad request"). A refused request is answered
// "unauthorized" (v2: the connection stays open; v1: as every v1 reply, then closed) and its rule
// logged as request_refused with the client's name, never the message. A request that would block
// is checked without recording its nonce before it is handed to the blocking pool, and admitted
// (nonce recorded) where it runs, so an unauthorized peer cannot occupy the pool and a queued
// request is not refused as its own replay. `health` reports "auth" ("policy" or "none") and,
// under a policy, the refusals by rule.
//
// Thread-safety: Handle() may be called concurrently, each thread with its own WorkerState.

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "src/audit/audit_sink.h"
#include "src/auth/request_verifier.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"
#include "src/enclave/hd_keyring.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/rate_limiter.h"
#include "src/hd/derivation_path.h"
#include "src/net/frame_decoder.h"
#include "src/nsm/nsm_device.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::enclave {

class KeyGenerator;  // key_generation.h

// Generic reasons sent to peers.
inline constexpr std::string_view kErrBadRequest = "bad request";
inline constexpr std::string_view kErrUnknownOp = "unknown op";
inline constexpr std::string_view kErrKeyNotLoaded = "key not loaded";
inline constexpr std::string_view kErrInternal = "internal error";
inline constexpr std::string_view kErrAttestUnavailable = "attestation unavailable";
inline constexpr std::string_view kErrBadFrame = "bad frame";
inline constexpr std::string_view kErrFrameTooLarge = "frame too large";
// The server's pool for blocking requests (attest, attested sign, key loads) is full, or attested
// replies are over their rate limit: retry later.
inline constexpr std::string_view kErrBusy = "busy";
// Under a signing policy: the request did not pass verification (the rule is in the log).
inline constexpr std::string_view kErrUnauthorized = "unauthorized";
// The request names a key ("key") this enclave does not serve.
inline constexpr std::string_view kErrUnknownKey = "unknown key";
// --audit-required: the request's audit record could not be kept (the enclave's audit buffer is
// full: the relay is slow or down), so its signature is withheld. Retry later.
inline constexpr std::string_view kErrAuditUnavailable = "audit unavailable";
// HD keys (see above).
inline constexpr std::string_view kErrPathRequired = "path required";
inline constexpr std::string_view kErrPathNeedsHd = "path needs an hd key";
inline constexpr std::string_view kErrPathNotAllowed = "path not allowed";

// Per-thread state: the signing context for the current key, reused across requests.
struct WorkerState {
  const signer::Signer* signer = nullptr;
  std::unique_ptr<signer::SigningContext> context;
  std::string hex;  // scratch
  Bytes message;    // scratch: the decoded message of a v2 sign request
};

// What the server reports through `health` about how it spreads signing over its workers.
// Thread-safe (relaxed atomics).
class SigningStats final {
 public:
  // `n` batches of one connection's requests are being handled at this moment (each by its own
  // worker thread).
  void NoteParallel(int n) {
    int peak = peak_.load(std::memory_order_relaxed);
    while (n > peak && !peak_.compare_exchange_weak(peak, n, std::memory_order_relaxed)) {
    }
  }
  // The most worker threads that have handled one connection's requests at the same moment.
  int max_workers_one_connection() const { return peak_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> peak_{0};
};

struct HandlerOptions {
  // Where log lines say the request came from (set per connection by the server).
  bool log_requests = false;  // one debug line per request (op, sizes, latency)
  // v2 sign requests of the plain shape {"id":..,"op":"sign","message":".."} skip the JSON DOM
  // (see ParseSimpleSign); off only in tests that compare both paths.
  bool sign_fast_path = true;
  // The enclave's signing policy (enclave_app.h), sealed into PCR16; null: none (health reports
  // "auth": "none"). With one, every request is verified against it first (see above); the
  // handler's verifier holds the one replay cache of this enclave.
  std::shared_ptr<const signpolicy::SigningPolicy> signing_policy;
  // PCR16 (lower-case hex) once the policy is sealed; health reports it. Empty: not sealed.
  std::string pcr16_hex;
  // The name of the key this enclave serves (its secret name; "ephemeral" for an ephemeral key):
  // a request's "key" must equal it, and a policy's "keys" are matched against it.
  std::string key_name;
  // The clock the replay window is checked against (not owned; must outlive the handler); also
  // the attested-reply limiter's.
  const Clock* clock = &Clock::Real();
  // The rate limit on attested sign replies (lockout-enclave --attested-replies-per-second,
  // --attested-replies-burst).
  TokenBucketOptions attested_replies;
  // The audit trail (docs/PROTOCOL.md §5; not owned, must outlive the handler); null: none.
  // Every sign request that is answered and every refusal gets a record (client, SHA-256 of the
  // request payload, key, op, verdict, rule). If the sink is required() and a signature's record
  // was not kept, the signature is withheld: the reply is "audit unavailable".
  audit::AuditSink* audit = nullptr;
  // generate_key (key_generation.h; not owned, must outlive the handler); null: "unknown op".
  KeyGenerator* key_generator = nullptr;
};

// A v2 sign request scanned without building a JSON DOM: only the plain shape clients send —
// one object whose keys are "id", "op", "message" and optionally "hash" and "format", each at
// most once; strings of printable ASCII without escapes; id an integer of at most 18 digits,
// null, or such a string of at most 256 bytes; hash and format one of the names
// signer::ParseHashAlgorithm / ParseSignatureFormat accept. `id_json` is the id as it must be
// echoed (the literal, which is what the JSON library would print for it). Anything else
// (nullopt) takes the general path, which gives the same answer. Exposed for tests.
struct SimpleSign {
  std::string_view id_json;
  std::string_view message_b64;
  signer::SignOptions options;
};
std::optional<SimpleSign> ParseSimpleSign(std::string_view payload);

// A request's "path" member: nullopt when absent; a derivation path when it is a string that
// hd::DerivationPath::Parse accepts. Errors: InvalidArgument (not a string, or not a path).
absl::StatusOr<std::optional<hd::DerivationPath>> ParsePathMember(const nlohmann::json& request);

class RequestHandler final {
 public:
  // `keys` must outlive the handler; `nsm` may be null (then attest answers
  // "attestation unavailable"). Reads PCR0 from `nsm` once.
  RequestHandler(KeyManager& keys, nsm::NsmDevice* nsm, HandlerOptions options = {});

  // Handles one complete frame and appends the reply frame (of the same kind) to `out`.
  // Returns true if the connection should be closed once the reply is sent (v1). May block
  // (attest, key loads): the server calls it on its blocking pool for such requests.
  bool Handle(const net::Frame& frame, WorkerState& state, std::string& out);

  // What HandleWithoutBlocking did.
  enum class Outcome {
    kKeepOpen,    // reply appended
    kClose,       // reply appended; close once it is sent (v1)
    kWouldBlock,  // nothing appended: the request blocks (an NSM call, a key load); run
                  // Handle() for it where blocking is allowed, or answer AppendBusyError()
  };
  // As Handle(), but never blocks: requests that would (attest with an NSM; every request that
  // needs the key in per-request mode, or in first-request mode before the key is loaded) are
  // left to the caller (kWouldBlock).
  Outcome HandleWithoutBlocking(const net::Frame& frame, WorkerState& state, std::string& out);

  // Appends the "busy" error reply for `frame` (v2: echoing its id when it has a valid one).
  // Returns true if the connection should be closed once it is sent (v1).
  bool AppendBusyError(const net::Frame& frame, std::string& out);

  // Appends the reply for a connection whose framing failed (garbage, oversized frame, peer
  // closed mid-frame), in `kind`'s framing. The connection is then closed.
  static void AppendFramingError(net::FrameKind kind, const absl::Status& error, std::string& out);

  KeyManager& keys() { return keys_; }
  // What the health op reports (without id and ok); its numbers are also the counters the
  // enclave forwards to the relay (log_forwarder.h).
  nlohmann::json Health() const;
  // Kept by the server, reported by health.
  SigningStats& stats() { return stats_; }

 private:
  Outcome HandleFrame(const net::Frame& frame, WorkerState& state, std::string& out,
                      bool may_block);
  // Both return false (appending nothing) if !may_block and the request would block.
  bool HandleV1(std::string_view payload, WorkerState& state, std::string& out, bool may_block);
  bool HandleV2(std::string_view payload, WorkerState& state, std::string& out, bool may_block);
  // True if getting the key may block now (per-request mode; first-request mode while unloaded).
  bool KeyAccessBlocks() const;
  // True if a v2 request of `op` blocks now (it needs the key and KeyAccessBlocks(), or it is
  // attest, or an attested sign, with an NSM).
  bool WouldBlock(std::string_view op, const nlohmann::json& request) const;
  // For a request that would block, before it is handed to the pool: an attested sign while the
  // limiter has no token is answered "busy" at once (true) rather than queued; else false.
  bool AnswerBusyIfRateLimited(const nlohmann::json& request, const nlohmann::json& id,
                               std::string& out);
  // Counts and answers ("busy") an attested sign over the limiter's rate.
  void AnswerRateLimited(const nlohmann::json& id, std::string& out);
  // The key a request uses, held for the request's duration.
  struct RequestSigner {
    const signer::Signer* signer = nullptr;
    LoadedKey per_request;                         // kPerRequest: loaded for this request alone
    std::shared_ptr<const DerivedSigner> derived;  // an HD child (signs with its contexts)
    std::string_view rule;                         // set when the signing policy refused
  };
  // The key for a request with `path` (if any) of the verified `client` ("" if none): the loaded
  // signer, an HD child, or one loaded for this request alone. Returns "" and sets out.signer, or
  // the generic reason with `detail` (and out.rule for a policy refusal) set.
  std::string_view ResolveSigner(const std::optional<hd::DerivationPath>& path,
                                 std::string_view client, RequestSigner& out, absl::Status* detail);
  // Logs and audits a refused or failed ResolveSigner (audited: every answer of a signing op).
  void ResolveFailed(const nlohmann::json& id, std::string_view op, std::string_view reason,
                     const RequestSigner& key, const absl::Status& detail, bool audited,
                     std::string_view payload, std::string_view audit_client, std::string& out);
  // Signs with `key` (an HD child through its reused contexts); on failure logs, audits and
  // answers the request (nullopt).
  std::optional<Bytes> SignOrAnswer(const RequestSigner& key, const nlohmann::json& id,
                                    ByteView message, const signer::SignOptions& options,
                                    std::string& out, std::string_view payload,
                                    std::string_view audit_client);
  // The v2 sign op with a derivation path (HD keys), not attested.
  void SignPathV2(const nlohmann::json& id, ByteView message, const signer::SignOptions& options,
                  const hd::DerivationPath& path, std::string& out, std::string_view payload,
                  std::string_view audit_client);
  // The Ethereum ops (eth_ops.h) once the request is parsed, verified and its key checked.
  void EthV2(const nlohmann::json& id, const std::string& op, const nlohmann::json& request,
             const std::optional<hd::DerivationPath>& path, std::string& out,
             std::string_view payload, std::string_view audit_client);
  // The attested sign (src/attest/reply_binding.h) with the client's `nonce`.
  // `payload` and `client` ("" if none) are for the audit record.
  void SignAttested(const nlohmann::json& id, const nlohmann::json& request, ByteView message,
                    const signer::SignOptions& options, ByteView nonce,
                    const std::optional<hd::DerivationPath>& path, std::string& out,
                    std::string_view payload, std::string_view audit_client);
  // The v2 sign op once the request is parsed; `id_json` is the id to echo, serialised.
  // `payload` and `client` ("" if none) are for the audit record.
  void SignV2(std::string_view id_json, ByteView message, const signer::SignOptions& options,
              WorkerState& state, std::string& out, std::string_view payload,
              std::string_view client);
  // Signs into state.hex (lower-case hex). Returns the generic reason on failure ("" if ok):
  // "bad request" for options the key cannot sign with (signer's InvalidArgument).
  std::string_view SignToHex(ByteView message, const signer::SignOptions& options,
                             WorkerState& state, absl::Status* detail);
  void AppendV2Error(const nlohmann::json& id, std::string_view reason, std::string& out);
  // Logs (and audits) a request the verifier refused (the caller answers it).
  void Refuse(std::string_view protocol, const auth::Decision& decision, std::string_view payload,
              std::string_view op);
  // Records an answered request in the audit trail (no-op without one). False only when the
  // record was not kept and the trail is required: the caller must not release a signature.
  bool Audit(std::string_view payload, std::string_view client, std::string_view op,
             std::string_view verdict, std::string_view rule);
  // Under a policy: the verifier's decision on a request; refuses everything (failing closed)
  // if the policy could not be turned into a verifier.
  auth::Decision CheckV1(size_t payload_bytes);
  auth::Decision CheckV2(const nlohmann::json& request, size_t payload_bytes,
                         auth::RequestVerifier::Mode mode);

  KeyManager& keys_;
  nsm::NsmDevice* nsm_;
  HandlerOptions options_;
  // This enclave's PCR0 (lower-case hex), read once from the NSM; empty without one. `health`
  // reports it so an operator can compare it with the key policy even before a key is loaded.
  std::string pcr0_hex_;
  SigningStats stats_;
  // Built from options_.signing_policy (null without one): this enclave's one replay cache.
  std::unique_ptr<auth::RequestVerifier> verifier_;
  // Attested replies: the limiter, and what health reports of it.
  TokenBucket attest_limiter_;
  std::atomic<uint64_t> attested_served_{0};
  std::atomic<uint64_t> attested_rate_limited_{0};
};

}  // namespace lockout::enclave
