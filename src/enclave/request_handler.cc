#include "src/enclave/request_handler.h"

#include <array>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/reply_binding.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/enclave/eth_ops.h"
#include "src/enclave/key_generation.h"
#include "src/hd/extended_key.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/nsm_message.h"
#include "src/signer/key_memory_lock.h"

namespace lockout::enclave {
namespace {

constexpr size_t kMaxIdSize = 256;

// The ops that use the key.
bool UsesKey(std::string_view op) {
  return op == "sign" || op == "public_key" || op == "attest" || IsEthOp(op);
}
constexpr char kHexDigits[] = "0123456789abcdef";

void AppendHex(ByteView data, std::string& out) {
  const size_t at = out.size();
  out.resize(at + 2 * data.size());
  char* p = out.data() + at;
  for (uint8_t b : data) {
    *p++ = kHexDigits[b >> 4];
    *p++ = kHexDigits[b & 0xF];
  }
}

// v2 framing written in place: reserve the length prefix, append the JSON, patch the length.
class V2Reply {
 public:
  explicit V2Reply(std::string& out) : out_(out), at_(out.size()) { out_.append(4, '\0'); }
  ~V2Reply() {
    const size_t len = out_.size() - at_ - 4;
    out_[at_] = static_cast<char>((len >> 24) & 0xFF);
    out_[at_ + 1] = static_cast<char>((len >> 16) & 0xFF);
    out_[at_ + 2] = static_cast<char>((len >> 8) & 0xFF);
    out_[at_ + 3] = static_cast<char>(len & 0xFF);
  }
  V2Reply(const V2Reply&) = delete;
  V2Reply& operator=(const V2Reply&) = delete;

 private:
  std::string& out_;
  size_t at_;
};

void AppendV2ErrorWithId(std::string_view id_json, std::string_view reason, std::string& out) {
  V2Reply reply(out);
  absl::StrAppend(&out, "{\"id\":", Absl(id_json), ",\"ok\":false,\"error\":\"", Absl(reason),
                  "\"}");
}

void AppendV1Error(std::string_view reason, std::string& out) {
  absl::StrAppend(&out, "{\"success\": \"False\", \"error\": \"Error: ", Absl(reason), "\"}",
                  Absl(net::kV1Terminator));
}

void LogRequestError(std::string_view protocol, std::string_view op, std::string_view reason,
                     const absl::Status& detail) {
  LogInfo("request_error", {{"protocol", protocol},
                            {"op", op},
                            {"reason", reason},
                            {"error", std::string(detail.message())}});
}

// A base64 string field, or nullopt with `detail` set.
std::optional<Bytes> DecodeB64Field(const nlohmann::json& obj, const char* name,
                                    absl::Status* detail) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) {
    *detail =
        absl::InvalidArgumentError(absl::StrCat("field \"", name, "\" missing or not a string"));
    return std::nullopt;
  }
  absl::StatusOr<Bytes> bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes.ok()) {
    *detail = absl::InvalidArgumentError(
        absl::StrCat("field \"", name, "\": ", std::string(bytes.status().message())));
    return std::nullopt;
  }
  return *std::move(bytes);
}

// The sign request's optional "hash" and "format" (docs/PROTOCOL.md §2): each absent, or a
// string naming one of signer's hashes / formats. Anything else (null, another type, another
// name) is refused rather than defaulted: a client that asked for something must get it.
absl::StatusOr<signer::SignOptions> ParseSignOptions(const nlohmann::json& request) {
  // The log says which member and its size, never the peer's text (as for an unknown op).
  signer::SignOptions options;
  if (auto it = request.find("hash"); it != request.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("field \"hash\" is not a string");
    const std::string& name = it->get_ref<const std::string&>();
    absl::StatusOr<signer::HashAlgorithm> hash = signer::ParseHashAlgorithm(name);
    if (!hash.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field \"hash\": unknown hash of ", name.size(), " bytes"));
    }
    options.hash = *hash;
  }
  if (auto it = request.find("format"); it != request.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("field \"format\" is not a string");
    const std::string& name = it->get_ref<const std::string&>();
    absl::StatusOr<signer::SignatureFormat> format = signer::ParseSignatureFormat(name);
    if (!format.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field \"format\": unknown format of ", name.size(), " bytes"));
    }
    options.format = *format;
  }
  return options;
}

// The generic reason for a failed signature: the signer refuses options the key cannot sign
// with (or a hash-none message of the wrong size) as InvalidArgument, which is the client's
// error; anything else is ours.
std::string_view SignFailureReason(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ? kErrBadRequest : kErrInternal;
}

}  // namespace

RequestHandler::RequestHandler(KeyManager& keys, nsm::NsmDevice* nsm, HandlerOptions options)
    : keys_(keys),
      nsm_(nsm),
      options_(std::move(options)),
      attest_limiter_(options_.attested_replies, *options_.clock) {
  if (options_.signing_policy != nullptr) {
    absl::StatusOr<std::unique_ptr<auth::RequestVerifier>> verifier =
        auth::RequestVerifier::Create(options_.signing_policy, *options_.clock);
    if (verifier.ok()) {
      verifier_ = *std::move(verifier);
    } else {
      // The parser checks every key, so this is a policy not made by it. Fail closed.
      LogError("signing_policy_unusable", {{"error", std::string(verifier.status().message())},
                                           {"consequence", "every request is refused"}});
    }
  }
  if (nsm_ == nullptr) return;
  nsm::NsmClient client(*nsm_);
  absl::StatusOr<nsm::DescribePcrResponse> pcr0 = client.DescribePcr(0);
  if (pcr0.ok()) {
    pcr0_hex_ = HexEncode(pcr0->data);
  } else {
    LogWarn("pcr0_unavailable", {{"error", std::string(pcr0.status().message())}});
  }
}

std::optional<SimpleSign> ParseSimpleSign(std::string_view p) {
  size_t i = 0;
  const auto skip_ws = [&] {
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) ++i;
  };
  const auto at = [&](char c) { return i < p.size() && p[i] == c; };
  // A string of printable ASCII without escapes; sets `out` to its contents.
  const auto scan_string = [&](std::string_view* out) {
    if (!at('"')) return false;
    const size_t start = ++i;
    while (i < p.size() && p[i] != '"') {
      const auto c = static_cast<unsigned char>(p[i]);
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
      ++i;
    }
    if (i == p.size()) return false;
    *out = p.substr(start, i - start);
    ++i;
    return true;
  };
  // The id: its literal, which is how the JSON library prints it back.
  const auto scan_id = [&](std::string_view* out) {
    const size_t start = i;
    std::string_view text;
    if (at('"')) {
      if (!scan_string(&text) || text.size() > kMaxIdSize) return false;
    } else if (p.substr(i, 4) == "null") {
      i += 4;
    } else {
      if (at('-')) ++i;
      const size_t digits = i;
      while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
      const size_t n = i - digits;
      // 1 to 18 digits fit any integer type exactly; no leading zero, no "-0".
      if (n == 0 || n > 18 || (p[digits] == '0' && (n > 1 || digits != start))) return false;
    }
    *out = p.substr(start, i - start);
    return true;
  };

  std::optional<std::string_view> id, op, message, hash, format;
  skip_ws();
  if (!at('{')) return std::nullopt;
  ++i;
  while (true) {
    skip_ws();
    std::string_view key;
    if (!scan_string(&key)) return std::nullopt;
    skip_ws();
    if (!at(':')) return std::nullopt;
    ++i;
    skip_ws();
    std::string_view value;
    if (key == "id" && !id.has_value() && scan_id(&value)) {
      id = value;
    } else if (key == "op" && !op.has_value() && scan_string(&value)) {
      op = value;
    } else if (key == "message" && !message.has_value() && scan_string(&value)) {
      message = value;
    } else if (key == "hash" && !hash.has_value() && scan_string(&value)) {
      hash = value;
    } else if (key == "format" && !format.has_value() && scan_string(&value)) {
      format = value;
    } else {
      return std::nullopt;
    }
    skip_ws();
    if (at(',')) {
      ++i;
      continue;
    }
    if (!at('}')) return std::nullopt;
    ++i;
    break;
  }
  skip_ws();
  if (i != p.size() || op != "sign" || !message.has_value()) return std::nullopt;
  SimpleSign simple{.id_json = id.value_or("null"), .message_b64 = *message, .options = {}};
  // An unknown name is left to the general path, which refuses it.
  if (hash.has_value()) {
    absl::StatusOr<signer::HashAlgorithm> h = signer::ParseHashAlgorithm(*hash);
    if (!h.ok()) return std::nullopt;
    simple.options.hash = *h;
  }
  if (format.has_value()) {
    absl::StatusOr<signer::SignatureFormat> f = signer::ParseSignatureFormat(*format);
    if (!f.ok()) return std::nullopt;
    simple.options.format = *f;
  }
  return simple;
}

bool RequestHandler::Handle(const net::Frame& frame, WorkerState& state, std::string& out) {
  return HandleFrame(frame, state, out, /*may_block=*/true) == Outcome::kClose;
}

RequestHandler::Outcome RequestHandler::HandleWithoutBlocking(const net::Frame& frame,
                                                              WorkerState& state,
                                                              std::string& out) {
  return HandleFrame(frame, state, out, /*may_block=*/false);
}

RequestHandler::Outcome RequestHandler::HandleFrame(const net::Frame& frame, WorkerState& state,
                                                    std::string& out, bool may_block) {
  if (frame.kind == net::FrameKind::kV1) {
    if (options_.signing_policy != nullptr) {
      // Allowed (unauthenticated) only if the policy says so; checked again when a request that
      // would block runs on the pool, which counts nothing: only refusals are counted.
      const auth::Decision decision = CheckV1(frame.payload.size());
      if (!decision.allowed) {
        Refuse("v1", decision, frame.payload, "sign");
        AppendV1Error(kErrUnauthorized, out);
        return Outcome::kClose;
      }
    }
    if (!HandleV1(frame.payload, state, out, may_block)) return Outcome::kWouldBlock;
    return Outcome::kClose;  // the seed's server: one request per connection
  }
  if (!HandleV2(frame.payload, state, out, may_block)) return Outcome::kWouldBlock;
  return Outcome::kKeepOpen;
}

bool RequestHandler::KeyAccessBlocks() const {
  switch (keys_.mode()) {
    case LoadMode::kPerRequest:
      return true;
    case LoadMode::kFirstRequest:
      return !keys_.loaded() && keys_.Health().state != "failed";
    case LoadMode::kBoot:
      return false;
  }
  return false;
}

bool RequestHandler::WouldBlock(std::string_view op, const nlohmann::json& request) const {
  if (op == kGenerateKeyOp) return true;  // NSM, KMS and the relay
  if (!UsesKey(op)) return false;
  if (KeyAccessBlocks()) return true;
  if (nsm_ == nullptr) return false;
  return op == "attest" || (op == "sign" && request.contains("attest"));
}

bool RequestHandler::AnswerBusyIfRateLimited(const nlohmann::json& request,
                                             const nlohmann::json& id, std::string& out) {
  auto op = request.find("op");
  if (op == request.end() || *op != "sign" || !request.contains("attest")) return false;
  if (attest_limiter_.Available()) return false;
  AnswerRateLimited(id, out);
  return true;
}

void RequestHandler::AnswerRateLimited(const nlohmann::json& id, std::string& out) {
  attested_rate_limited_.fetch_add(1, std::memory_order_relaxed);
  // Debug only: a flood must not become a flood of log lines (health counts them).
  LogDebug("request_error", {{"protocol", "v2"},
                             {"op", "sign"},
                             {"reason", kErrBusy},
                             {"error", "attested replies over their rate limit"}});
  AppendV2Error(id, kErrBusy, out);
}

auth::Decision RequestHandler::CheckV1(size_t payload_bytes) {
  if (verifier_ == nullptr) return auth::Decision{};  // refused: the policy is unusable
  return verifier_->CheckV1(payload_bytes);
}

auth::Decision RequestHandler::CheckV2(const nlohmann::json& request, size_t payload_bytes,
                                       auth::RequestVerifier::Mode mode) {
  if (verifier_ == nullptr) return auth::Decision{};  // refused: the policy is unusable
  return verifier_->CheckV2(request, payload_bytes, options_.key_name, mode);
}

void RequestHandler::Refuse(std::string_view protocol, const auth::Decision& decision,
                            std::string_view payload, std::string_view op) {
  const std::string_view rule =
      verifier_ == nullptr ? std::string_view("policy_unusable") : auth::RuleName(decision.rule);
  // The rule and the client (verified, or as claimed: see RequestVerifier); never the message.
  LogWarn("request_refused", {{"protocol", protocol}, {"rule", rule}, {"client", decision.client}});
  Audit(payload, decision.client, op, audit::kVerdictRefused, rule);
}

bool RequestHandler::Audit(std::string_view payload, std::string_view client, std::string_view op,
                           std::string_view verdict, std::string_view rule) {
  if (options_.audit == nullptr) return true;
  // The op as recorded: one of ours, never the peer's text.
  if (op != "sign" && op != "public_key" && op != "attest" && op != "health" && !IsEthOp(op) &&
      op != kGenerateKeyOp) {
    op = "other";
  }
  audit::RequestEvent event{.client = client,
                            .digest = crypto::Sha256(AsBytes(payload)),
                            .key = options_.key_name,
                            .op = op,
                            .verdict = verdict,
                            .rule = rule};
  return options_.audit->Record(event) || !options_.audit->required();
}

bool RequestHandler::AppendBusyError(const net::Frame& frame, std::string& out) {
  LogRequestError(net::FrameKindName(frame.kind), "", kErrBusy,
                  absl::ResourceExhaustedError("blocking request pool full"));
  if (frame.kind == net::FrameKind::kV1) {
    AppendV1Error(kErrBusy, out);
    return true;
  }
  nlohmann::json id = nullptr;
  if (absl::StatusOr<nlohmann::json> request = ParseJson(frame.payload);
      request.ok() && request->is_object()) {
    if (auto it = request->find("id"); it != request->end()) {
      if (it->is_number() ||
          (it->is_string() && it->get_ref<const std::string&>().size() <= kMaxIdSize)) {
        id = *it;
      }
    }
  }
  AppendV2Error(id, kErrBusy, out);
  return false;
}

void RequestHandler::AppendFramingError(net::FrameKind kind, const absl::Status& error,
                                        std::string& out) {
  const std::string_view reason =
      error.code() == absl::StatusCode::kResourceExhausted ? kErrFrameTooLarge : kErrBadFrame;
  LogInfo("framing_error", {{"protocol", net::FrameKindName(kind)},
                            {"reason", reason},
                            {"error", std::string(error.message())}});
  if (kind == net::FrameKind::kV1) {
    AppendV1Error(reason, out);
  } else {
    V2Reply reply(out);
    absl::StrAppend(&out, "{\"id\":null,\"ok\":false,\"error\":\"", Absl(reason), "\"}");
  }
}

std::string_view RequestHandler::SignToHex(ByteView message, const signer::SignOptions& options,
                                           WorkerState& state, absl::Status* detail) {
  std::array<uint8_t, signer::kMaxSignatureSize> sig;
  state.hex.clear();
  if (keys_.mode() == LoadMode::kPerRequest) {
    // The seed's design: a full attested load for this one signature.
    absl::StatusOr<LoadedKey> signer = keys_.LoadForRequest();
    if (!signer.ok()) {
      *detail = signer.status();
      return kErrKeyNotLoaded;
    }
    if (signer->signer == nullptr) {
      *detail = absl::InvalidArgumentError(std::string(kHdNeedsPath));
      return kErrPathRequired;
    }
    absl::StatusOr<Bytes> s = signer->signer->Sign(message, options);
    if (!s.ok()) {
      *detail = s.status();
      return SignFailureReason(s.status());
    }
    AppendHex(*s, state.hex);
    return {};
  }
  absl::StatusOr<const signer::Signer*> signer = keys_.AcquireSigner();
  if (!signer.ok()) {
    *detail = signer.status();
    return keys_.hd() != nullptr ? kErrPathRequired : kErrKeyNotLoaded;
  }
  if (state.signer != *signer || state.context == nullptr) {
    absl::StatusOr<std::unique_ptr<signer::SigningContext>> ctx = (*signer)->NewContext();
    if (!ctx.ok()) {
      *detail = ctx.status();
      return kErrInternal;
    }
    state.context = *std::move(ctx);
    state.signer = *signer;
  }
  absl::StatusOr<size_t> n = state.context->Sign(message, options, absl::MakeSpan(sig));
  if (!n.ok()) {
    *detail = n.status();
    return SignFailureReason(n.status());
  }
  AppendHex(ByteView(sig.data(), *n), state.hex);
  return {};
}

bool RequestHandler::HandleV1(std::string_view payload, WorkerState& state, std::string& out,
                              bool may_block) {
  if (!may_block && KeyAccessBlocks()) return false;
  absl::Status detail;
  absl::StatusOr<nlohmann::json> request = ParseJson(payload);
  if (!request.ok() || !request->is_object()) {
    detail = request.ok() ? absl::InvalidArgumentError("request is not a JSON object")
                          : request.status();
    LogRequestError("v1", "sign", kErrBadRequest, detail);
    AppendV1Error(kErrBadRequest, out);
    return true;
  }
  std::optional<Bytes> message = DecodeB64Field(*request, "bytes", &detail);
  if (!message.has_value()) {
    LogRequestError("v1", "sign", kErrBadRequest, detail);
    AppendV1Error(kErrBadRequest, out);
    return true;
  }
  // v1 is the seed's protocol: always the defaults (SHA-256, DER; PureEdDSA for ed25519).
  const std::string_view reason = SignToHex(*message, signer::SignOptions{}, state, &detail);
  if (!reason.empty()) {
    LogRequestError("v1", "sign", reason, detail);
    Audit(payload, "", "sign", audit::kVerdictFailed, reason);
    AppendV1Error(reason, out);
    return true;
  }
  if (!Audit(payload, "", "sign", audit::kVerdictSigned, "")) {
    AppendV1Error(kErrAuditUnavailable, out);  // the signature is withheld
    return true;
  }
  // json.dumps() spacing, as the seed's enclave.py replies.
  absl::StrAppend(&out, "{\"success\": \"True\", \"data\": \"0x", state.hex, "\"}",
                  Absl(net::kV1Terminator));
  if (options_.log_requests) {
    LogDebug("request", {{"protocol", "v1"}, {"op", "sign"}, {"message_size", message->size()}});
  }
  return true;
}

void RequestHandler::AppendV2Error(const nlohmann::json& id, std::string_view reason,
                                   std::string& out) {
  AppendV2ErrorWithId(id.dump(), reason, out);
}

void RequestHandler::SignV2(std::string_view id_json, ByteView message,
                            const signer::SignOptions& options, WorkerState& state,
                            std::string& out, std::string_view payload, std::string_view client) {
  absl::Status detail;
  const std::string_view reason = SignToHex(message, options, state, &detail);
  if (!reason.empty()) {
    LogRequestError("v2", "sign", reason, detail);
    Audit(payload, client, "sign", audit::kVerdictFailed, reason);
    AppendV2ErrorWithId(id_json, reason, out);
    return;
  }
  if (!Audit(payload, client, "sign", audit::kVerdictSigned, "")) {
    AppendV2ErrorWithId(id_json, kErrAuditUnavailable, out);  // the signature is withheld
    return;
  }
  V2Reply reply(out);
  absl::StrAppend(&out, "{\"id\":", Absl(id_json), ",\"ok\":true,\"signature\":\"", state.hex,
                  "\"}");
}

nlohmann::json RequestHandler::Health() const {
  const KeyHealth health = keys_.Health();
  nlohmann::json body = {{"status", health.state},
                         {"reason", health.reason},
                         {"detail", health.detail},
                         {"load_mode", LoadModeName(keys_.mode())},
                         {"load_attempts", health.attempts},
                         {"key_memory_locked", signer::KeyMemoryLock::Process().locked()},
                         {"max_workers_one_connection", stats_.max_workers_one_connection()}};
  if (verifier_ != nullptr) body["refusals"] = verifier_->RefusalsJson();
  body["attested_replies"] = {
      {"rate_per_second", attest_limiter_.options().rate_per_second},
      {"burst", attest_limiter_.options().burst},
      {"served", attested_served_.load(std::memory_order_relaxed)},
      {"rate_limited", attested_rate_limited_.load(std::memory_order_relaxed)}};
  if (const signer::Signer* s = keys_.primary(); s != nullptr)
    body["key_type"] = signer::KeyTypeName(s->key_type());
  if (const HdKeyring* ring = keys_.hd(); ring != nullptr) {
    body["hd"] = {{"curve", hd::CurveName(ring->curve())},
                  {"cached_signers", ring->cached()},
                  {"max_cached_signers", ring->max_cached()},
                  {"derivations", ring->derivations()}};
  }
  if (!pcr0_hex_.empty()) body["pcr0"] = pcr0_hex_;
  body["auth"] = options_.signing_policy == nullptr ? "none" : "policy";
  if (!options_.pcr16_hex.empty()) body["pcr16"] = options_.pcr16_hex;
  if (options_.audit != nullptr) body["audit"] = options_.audit->Health();
  return body;
}

bool RequestHandler::HandleV2(std::string_view payload, WorkerState& state, std::string& out,
                              bool may_block) {
  // Under a signing policy every request takes the general path: it must be verified.
  if (options_.sign_fast_path && options_.signing_policy == nullptr &&
      (may_block || !KeyAccessBlocks())) {
    if (std::optional<SimpleSign> simple = ParseSimpleSign(payload); simple.has_value()) {
      if (Base64DecodeTo(simple->message_b64, state.message).ok()) {
        SignV2(simple->id_json, state.message, simple->options, state, out, payload, "");
        return true;
      }
      // Bad base64: the general path below says so, exactly as for any other request.
    }
  }
  absl::Status detail;
  // A signed request must not be readable two ways: under a policy, no member twice.
  absl::StatusOr<nlohmann::json> request =
      options_.signing_policy != nullptr ? ParseJsonStrict(payload) : ParseJson(payload);
  if (!request.ok() || !request->is_object()) {
    detail = request.ok() ? absl::InvalidArgumentError("request is not a JSON object")
                          : request.status();
    LogRequestError("v2", "", kErrBadRequest, detail);
    AppendV2Error(nullptr, kErrBadRequest, out);
    return true;
  }
  nlohmann::json id = nullptr;
  if (auto it = request->find("id"); it != request->end()) {
    const bool valid_id =
        it->is_null() || it->is_number() ||
        (it->is_string() && it->get_ref<const std::string&>().size() <= kMaxIdSize);
    if (!valid_id) {
      LogRequestError("v2", "", kErrBadRequest,
                      absl::InvalidArgumentError("id must be a string of at most 256 bytes, a "
                                                 "number or null"));
      AppendV2Error(nullptr, kErrBadRequest, out);
      return true;
    }
    id = *it;
  }

  std::string audit_client;  // the verified client, for the audit record
  if (options_.signing_policy != nullptr) {
    // Verified before anything else happens. A request that would block here is only checked
    // (its nonce is not recorded): it is verified again, and admitted, where it runs.
    auto op = request->find("op");
    const bool would_block = !may_block && op != request->end() && op->is_string() &&
                             WouldBlock(op->get_ref<const std::string&>(), *request);
    const auth::Decision decision = CheckV2(*request, payload.size(),
                                            would_block ? auth::RequestVerifier::Mode::kCheckOnly
                                                        : auth::RequestVerifier::Mode::kAdmit);
    if (!decision.allowed) {
      Refuse("v2", decision, payload,
             op != request->end() && op->is_string() ? op->get_ref<const std::string&>() : "");
      AppendV2Error(id, kErrUnauthorized, out);
      return true;
    }
    if (would_block) return AnswerBusyIfRateLimited(*request, id, out);
    audit_client = decision.client;
  }

  auto op_it = request->find("op");
  if (op_it == request->end() || !op_it->is_string()) {
    LogRequestError("v2", "", kErrBadRequest,
                    absl::InvalidArgumentError("field \"op\" missing or not a string"));
    AppendV2Error(id, kErrBadRequest, out);
    return true;
  }
  const std::string& op = op_it->get_ref<const std::string&>();

  if (!may_block && WouldBlock(op, *request)) return AnswerBusyIfRateLimited(*request, id, out);

  if (UsesKey(op)) {
    if (auto key = request->find("key");
        key != request->end() && (!key->is_string() || *key != options_.key_name)) {
      LogRequestError("v2", op, kErrUnknownKey,
                      absl::NotFoundError("the request names a key this enclave does not serve"));
      Audit(payload, audit_client, op, audit::kVerdictRefused, "unknown_key");
      AppendV2Error(id, kErrUnknownKey, out);
      return true;
    }
  }
  std::optional<hd::DerivationPath> path;
  if (UsesKey(op)) {
    absl::StatusOr<std::optional<hd::DerivationPath>> parsed = ParsePathMember(*request);
    if (!parsed.ok()) {
      LogRequestError("v2", op, kErrBadRequest, parsed.status());
      AppendV2Error(id, kErrBadRequest, out);
      return true;
    }
    path = *std::move(parsed);
  }

  if (op == "sign") {
    std::optional<Bytes> message = DecodeB64Field(*request, "message", &detail);
    if (!message.has_value()) {
      LogRequestError("v2", op, kErrBadRequest, detail);
      AppendV2Error(id, kErrBadRequest, out);
      return true;
    }
    absl::StatusOr<signer::SignOptions> options = ParseSignOptions(*request);
    if (!options.ok()) {
      LogRequestError("v2", op, kErrBadRequest, options.status());
      AppendV2Error(id, kErrBadRequest, out);
      return true;
    }
    absl::StatusOr<std::optional<Bytes>> attest_nonce = attest::ParseAttestMember(*request);
    if (!attest_nonce.ok()) {
      LogRequestError("v2", op, kErrBadRequest, attest_nonce.status());
      AppendV2Error(id, kErrBadRequest, out);
      return true;
    }
    if (attest_nonce->has_value()) {
      SignAttested(id, *request, *message, *options, **attest_nonce, path, out, payload,
                   audit_client);
      return true;
    }
    if (path.has_value()) {
      SignPathV2(id, *message, *options, *path, out, payload, audit_client);
      return true;
    }
    SignV2(id.dump(), *message, *options, state, out, payload, audit_client);
    return true;
  }

  if (op == kGenerateKeyOp) {
    GenerateKeyReply generated = HandleGenerateKeyOp(options_.key_generator, id, *request);
    Audit(payload, audit_client, op, generated.verdict, generated.rule);
    V2Reply reply(out);
    out += generated.body.dump();
    return true;
  }

  if (op == "health") {
    nlohmann::json body = {{"id", id}, {"ok", true}};
    body.update(Health());
    V2Reply reply(out);
    out += body.dump();
    return true;
  }

  if (IsEthOp(op)) {
    EthV2(id, op, *request, path, out, payload, audit_client);
    return true;
  }

  if (op != "public_key" && op != "attest") {
    LogRequestError(
        "v2", "unknown", kErrUnknownOp,
        absl::InvalidArgumentError(absl::StrCat("unknown op of ", op.size(), " bytes")));
    AppendV2Error(id, kErrUnknownOp, out);
    return true;
  }

  // Both need the key (its public half).
  RequestSigner key;
  if (std::string_view reason = ResolveSigner(path, audit_client, key, &detail); !reason.empty()) {
    ResolveFailed(id, op, reason, key, detail, /*audited=*/false, payload, audit_client, out);
    return true;
  }
  const signer::Signer* signer = key.signer;

  if (op == "public_key") {
    std::string raw;
    AppendHex(signer->public_key_raw(), raw);
    nlohmann::json body = {{"id", id},
                           {"ok", true},
                           {"key_type", signer::KeyTypeName(signer->key_type())},
                           {"public_key_pem", signer->public_key_pem()},
                           {"spki_der", Base64Encode(signer->public_key_der())},
                           {"public_key_raw", raw}};
    if (path.has_value()) body["path"] = path->ToString();
    V2Reply reply(out);
    out += body.dump();
    return true;
  }

  // attest
  std::optional<Bytes> nonce;
  if (auto it = request->find("nonce"); it != request->end() && !it->is_null()) {
    nonce = DecodeB64Field(*request, "nonce", &detail);
    if (!nonce.has_value() || nonce->size() > nsm::kMaxNonceSize) {
      if (nonce.has_value()) {
        detail = absl::InvalidArgumentError(
            absl::StrCat("nonce of ", nonce->size(), " bytes, over ", nsm::kMaxNonceSize));
      }
      LogRequestError("v2", op, kErrBadRequest, detail);
      AppendV2Error(id, kErrBadRequest, out);
      return true;
    }
  }
  if (nsm_ == nullptr) {
    LogRequestError("v2", op, kErrAttestUnavailable,
                    absl::FailedPreconditionError("no NSM device configured"));
    AppendV2Error(id, kErrAttestUnavailable, out);
    return true;
  }
  const crypto::Sha256Digest spki_hash = crypto::Sha256(signer->public_key_der());
  std::optional<ByteView> nonce_view;
  if (nonce.has_value()) nonce_view = ByteView(*nonce);
  absl::StatusOr<Bytes> document = AttestSigningKey(*nsm_, *signer, nonce_view);
  if (!document.ok()) {
    LogRequestError("v2", op, kErrAttestUnavailable, document.status());
    AppendV2Error(id, kErrAttestUnavailable, out);
    return true;
  }
  nlohmann::json body = {{"id", id},
                         {"ok", true},
                         {"document", Base64Encode(*document)},
                         {"spki_sha256", HexEncode(ByteView(spki_hash.data(), spki_hash.size()))}};
  V2Reply reply(out);
  out += body.dump();
  return true;
}

void RequestHandler::EthV2(const nlohmann::json& id, const std::string& op,
                           const nlohmann::json& request,
                           const std::optional<hd::DerivationPath>& path, std::string& out,
                           std::string_view payload, std::string_view audit_client) {
  // As sign: a signing op's every answer is audited; eth_address, as public_key, is not.
  const bool audited = IsEthSigningOp(op);
  absl::Status detail;
  RequestSigner key;
  if (std::string_view reason = ResolveSigner(path, audit_client, key, &detail); !reason.empty()) {
    ResolveFailed(id, op, reason, key, detail, audited, payload, audit_client, out);
    return;
  }
  const signer::Signer* signer = key.signer;
  const signpolicy::WalletRules* wallet =
      options_.signing_policy != nullptr && options_.signing_policy->wallet.has_value()
          ? &*options_.signing_policy->wallet
          : nullptr;
  EthOpResult result = RunEthOp(op, request, *signer, wallet);
  if (!result.rule.empty()) {  // refused by a wallet rule: named in the log and the audit record
    LogWarn("request_refused",
            {{"protocol", "v2"}, {"rule", result.rule}, {"client", audit_client}, {"op", op}});
    Audit(payload, audit_client, op, audit::kVerdictRefused, result.rule);
    AppendV2Error(id, result.reason, out);
    return;
  }
  if (!result.reason.empty()) {
    LogRequestError("v2", op, result.reason, result.detail);
    if (audited) Audit(payload, audit_client, op, audit::kVerdictFailed, result.reason);
    AppendV2Error(id, result.reason, out);
    return;
  }
  if (audited && !Audit(payload, audit_client, op, audit::kVerdictSigned, "")) {
    AppendV2Error(id, kErrAuditUnavailable, out);  // the signature is withheld
    return;
  }
  nlohmann::json body = {{"id", id}, {"ok", true}};
  body.update(result.body);
  if (path.has_value()) body["path"] = path->ToString();
  V2Reply reply(out);
  out += body.dump();
  if (options_.log_requests) LogDebug("request", {{"protocol", "v2"}, {"op", op}});
}

absl::StatusOr<std::optional<hd::DerivationPath>> ParsePathMember(const nlohmann::json& request) {
  auto it = request.find("path");
  if (it == request.end()) return std::nullopt;
  if (!it->is_string()) return absl::InvalidArgumentError("field \"path\" is not a string");
  absl::StatusOr<hd::DerivationPath> path =
      hd::DerivationPath::Parse(it->get_ref<const std::string&>());
  if (!path.ok()) return path.status();
  return std::optional<hd::DerivationPath>(*std::move(path));
}

std::string_view RequestHandler::ResolveSigner(const std::optional<hd::DerivationPath>& path,
                                               std::string_view client, RequestSigner& out,
                                               absl::Status* detail) {
  KeyRef ref;
  if (keys_.mode() == LoadMode::kPerRequest) {
    absl::StatusOr<LoadedKey> loaded = keys_.LoadForRequest();
    if (!loaded.ok()) {
      *detail = loaded.status();
      return kErrKeyNotLoaded;
    }
    out.per_request = *std::move(loaded);
    ref = KeyRef{.signer = out.per_request.signer.get(), .hd = out.per_request.hd.get()};
  } else {
    absl::StatusOr<KeyRef> acquired = keys_.AcquireKey();
    if (!acquired.ok()) {
      *detail = acquired.status();
      return kErrKeyNotLoaded;
    }
    ref = *acquired;
  }
  if (ref.hd == nullptr) {
    if (path.has_value()) {
      *detail =
          absl::InvalidArgumentError("the request names a path, but the key is not an HD seed");
      return kErrPathNeedsHd;
    }
    out.signer = ref.signer;
    return {};
  }
  if (!path.has_value()) {
    *detail = absl::InvalidArgumentError(std::string(kHdNeedsPath));
    return kErrPathRequired;
  }
  if (options_.signing_policy != nullptr) {
    // Under a policy a path is the verified client's choice, within its "paths".
    const signpolicy::AuthorizedClient* authorized =
        client.empty() ? nullptr : options_.signing_policy->Find(client);
    if (authorized == nullptr || !authorized->AllowsPath(*path)) {
      out.rule = signpolicy::kRuleHdPath;
      *detail = absl::PermissionDeniedError(
          authorized == nullptr
              ? std::string("an unauthenticated request names a path")
              : absl::StrCat("path ", path->ToString(), " matches none of the client's paths"));
      return kErrPathNotAllowed;
    }
  }
  absl::StatusOr<std::shared_ptr<const DerivedSigner>> derived = ref.hd->DerivedFor(*path);
  if (!derived.ok()) {
    *detail = derived.status();
    return derived.status().code() == absl::StatusCode::kInvalidArgument ? kErrBadRequest
                                                                         : kErrInternal;
  }
  out.derived = *std::move(derived);
  out.signer = &out.derived->signer();
  return {};
}

void RequestHandler::ResolveFailed(const nlohmann::json& id, std::string_view op,
                                   std::string_view reason, const RequestSigner& key,
                                   const absl::Status& detail, bool audited,
                                   std::string_view payload, std::string_view audit_client,
                                   std::string& out) {
  if (!key.rule.empty()) {  // refused by the policy's paths: named in the log and the audit
    LogWarn("request_refused", {{"protocol", "v2"},
                                {"rule", key.rule},
                                {"client", audit_client},
                                {"op", op},
                                {"error", std::string(detail.message())}});
    Audit(payload, audit_client, op, audit::kVerdictRefused, key.rule);
  } else {
    LogRequestError("v2", op, reason, detail);
    if (audited) Audit(payload, audit_client, op, audit::kVerdictFailed, reason);
  }
  AppendV2Error(id, reason, out);
}

std::optional<Bytes> RequestHandler::SignOrAnswer(const RequestSigner& key,
                                                  const nlohmann::json& id, ByteView message,
                                                  const signer::SignOptions& options,
                                                  std::string& out, std::string_view payload,
                                                  std::string_view audit_client) {
  absl::StatusOr<Bytes> signature = key.derived != nullptr ? key.derived->Sign(message, options)
                                                           : key.signer->Sign(message, options);
  if (signature.ok()) return *std::move(signature);
  const std::string_view reason = SignFailureReason(signature.status());
  LogRequestError("v2", "sign", reason, signature.status());
  Audit(payload, audit_client, "sign", audit::kVerdictFailed, reason);
  AppendV2Error(id, reason, out);
  return std::nullopt;
}

void RequestHandler::SignPathV2(const nlohmann::json& id, ByteView message,
                                const signer::SignOptions& options, const hd::DerivationPath& path,
                                std::string& out, std::string_view payload,
                                std::string_view audit_client) {
  absl::Status detail;
  RequestSigner key;
  if (std::string_view reason = ResolveSigner(path, audit_client, key, &detail); !reason.empty()) {
    ResolveFailed(id, "sign", reason, key, detail, /*audited=*/true, payload, audit_client, out);
    return;
  }
  std::optional<Bytes> signature =
      SignOrAnswer(key, id, message, options, out, payload, audit_client);
  if (!signature.has_value()) return;
  if (!Audit(payload, audit_client, "sign", audit::kVerdictSigned, "")) {
    AppendV2Error(id, kErrAuditUnavailable, out);  // the signature is withheld
    return;
  }
  std::string hex;
  AppendHex(*signature, hex);
  V2Reply reply(out);
  absl::StrAppend(&out, "{\"id\":", id.dump(), ",\"ok\":true,\"signature\":\"", hex, "\"}");
  if (options_.log_requests) {
    LogDebug("request", {{"protocol", "v2"}, {"op", "sign"}, {"path", path.ToString()}});
  }
}

void RequestHandler::SignAttested(const nlohmann::json& id, const nlohmann::json& request,
                                  ByteView message, const signer::SignOptions& options,
                                  ByteView nonce, const std::optional<hd::DerivationPath>& path,
                                  std::string& out, std::string_view payload,
                                  std::string_view audit_client) {
  // Nothing is signed unless the document can be made: NSM first, then the limiter.
  if (nsm_ == nullptr) {
    LogRequestError("v2", "sign", kErrAttestUnavailable,
                    absl::FailedPreconditionError("attested sign without an NSM device"));
    AppendV2Error(id, kErrAttestUnavailable, out);
    return;
  }
  absl::StatusOr<attest::RequestDigest> digest = attest::AttestedRequestDigest(request);
  if (!digest.ok()) {
    LogRequestError("v2", "sign", kErrBadRequest, digest.status());
    AppendV2Error(id, kErrBadRequest, out);
    return;
  }
  if (!attest_limiter_.TryAcquire()) {
    AnswerRateLimited(id, out);
    return;
  }
  absl::Status detail;
  RequestSigner key;
  if (std::string_view reason = ResolveSigner(path, audit_client, key, &detail); !reason.empty()) {
    // Audited when the policy refused (a key that is not loaded is not audited here, as before).
    ResolveFailed(id, "sign", reason, key, detail, /*audited=*/false, payload, audit_client, out);
    return;
  }
  const signer::Signer* signer = key.signer;
  std::optional<Bytes> signature =
      SignOrAnswer(key, id, message, options, out, payload, audit_client);
  if (!signature.has_value()) return;
  const crypto::Sha256Digest binding =
      attest::ReplyBinding(*digest, *signature, signer->public_key_der());
  nsm::NsmClient client(*nsm_);
  absl::StatusOr<Bytes> document = client.Attestation(ByteView(binding.data(), binding.size()),
                                                      nonce, ByteView(signer->public_key_der()));
  if (!document.ok()) {
    // The signature is not returned without its proof.
    LogRequestError("v2", "sign", kErrAttestUnavailable, document.status());
    Audit(payload, audit_client, "sign", audit::kVerdictFailed, kErrAttestUnavailable);
    AppendV2Error(id, kErrAttestUnavailable, out);
    return;
  }
  if (!Audit(payload, audit_client, "sign", audit::kVerdictSigned, "")) {
    AppendV2Error(id, kErrAuditUnavailable, out);  // the signature is withheld
    return;
  }
  attested_served_.fetch_add(1, std::memory_order_relaxed);
  std::string hex;
  AppendHex(*signature, hex);
  V2Reply reply(out);
  absl::StrAppend(&out, "{\"id\":", id.dump(), ",\"ok\":true,\"signature\":\"", hex,
                  "\",\"attestation\":\"", Base64Encode(*document), "\"}");
  if (options_.log_requests) {
    LogDebug(
        "request",
        {{"protocol", "v2"}, {"op", "sign"}, {"attested", true}, {"message_size", message.size()}});
  }
}

}  // namespace lockout::enclave
