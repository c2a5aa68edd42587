#include "src/operator/enclave_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/auth/request_auth.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/eth/transaction.h"

namespace lockout::ops {
namespace {

using Json = nlohmann::json;

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed enclave reply: ", Absl(what)));
}

// Printable ASCII, at most 200 bytes: enclave error reasons are short generic strings.
std::string Sanitize(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

absl::StatusOr<Json> ReadReply(net::BlockingStream& stream, net::FrameDecoder& decoder,
                               absl::Time deadline) {
  absl::StatusOr<std::optional<net::Frame>> frame = net::ReadFrame(stream, decoder, deadline);
  if (!frame.ok()) return frame.status();
  if (!frame->has_value()) {
    return absl::UnavailableError("the enclave closed the connection without replying");
  }
  absl::StatusOr<Json> reply = ParseJson((*frame)->payload);
  if (!reply.ok()) return Malformed(Std(reply.status().message()));
  if (!reply->is_object()) return Malformed("not a JSON object");
  return reply;
}

}  // namespace

absl::StatusOr<std::string> ReplyString(const Json& reply, std::string_view name) {
  auto it = reply.find(std::string(name));
  if (it == reply.end() || !it->is_string()) {
    return Malformed(absl::StrCat("\"", Absl(name), "\" is missing or not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<std::string> SignV1(const net::Endpoint& endpoint, ByteView message,
                                   absl::Duration timeout) {
  // One deadline for the whole exchange, connecting included.
  const absl::Time deadline = Clock::Real().Now() + timeout;
  absl::StatusOr<net::BlockingStream> stream = net::BlockingStream::Connect(endpoint, deadline);
  if (!stream.ok()) return stream.status();
  const std::string request = Json{{"bytes", Base64Encode(message)}}.dump();
  if (absl::Status s = net::WriteFrame(*stream, net::FrameKind::kV1, request, deadline); !s.ok()) {
    return s;
  }
  net::FrameDecoder decoder;
  absl::StatusOr<std::optional<net::Frame>> frame = net::ReadFrame(*stream, decoder, deadline);
  if (!frame.ok()) return frame.status();
  if (!frame->has_value()) {
    return absl::UnavailableError("the enclave closed the connection without replying");
  }
  if ((*frame)->kind != net::FrameKind::kV1) return Malformed("a v2 frame answered a v1 request");
  return std::move((*frame)->payload);
}

absl::StatusOr<Bytes> ParseV1SignReply(std::string_view json_text) {
  absl::StatusOr<Json> reply = ParseJson(json_text);
  if (!reply.ok()) return Malformed(Std(reply.status().message()));
  if (!reply->is_object()) return Malformed("not a JSON object");
  absl::StatusOr<std::string> success = ReplyString(*reply, "success");
  if (!success.ok()) return success.status();
  if (*success != "True") {
    absl::StatusOr<std::string> error = ReplyString(*reply, "error");
    return absl::FailedPreconditionError(
        absl::StrCat("enclave: ", error.ok() ? Sanitize(*error) : "(no error text)"));
  }
  absl::StatusOr<std::string> data = ReplyString(*reply, "data");
  if (!data.ok()) return data.status();
  if (!data->starts_with("0x")) return Malformed("\"data\" does not start with 0x");
  absl::StatusOr<Bytes> sig = HexDecode(std::string_view(*data).substr(2));
  if (!sig.ok() || sig->empty()) return Malformed("\"data\" is not hex");
  return sig;
}

absl::StatusOr<std::unique_ptr<EnclaveV2Client>> EnclaveV2Client::Connect(
    const net::Endpoint& endpoint, absl::Duration timeout) {
  absl::StatusOr<net::BlockingStream> stream =
      net::BlockingStream::Connect(endpoint, Clock::Real().Now() + timeout);
  if (!stream.ok()) return stream.status();
  return std::unique_ptr<EnclaveV2Client>(new EnclaveV2Client(*std::move(stream), timeout));
}

void EnclaveV2Client::Authenticate(std::shared_ptr<const auth::ClientKey> key, const Clock& clock) {
  client_key_ = std::move(key);
  clock_ = &clock;
}

absl::StatusOr<Json> EnclaveV2Client::Call(Json request) {
  const int64_t id = next_id_++;
  request["id"] = id;
  if (!path_.empty() && request.value("op", "") != "health" && !request.contains("path") &&
      !request.contains("auth")) {
    request["path"] = path_;  // before the request is signed: the signature covers it
  }
  if (client_key_ != nullptr) {
    absl::Status signed_request = auth::SignRequest(*client_key_, clock_->Now(), request);
    if (!signed_request.ok()) return signed_request;
  }
  // One deadline per call: the request written and its reply read.
  const absl::Time deadline = stream_.DeadlineAfter(timeout_);
  absl::Status sent = net::WriteFrame(stream_, net::FrameKind::kV2, request.dump(), deadline);
  if (!sent.ok()) return sent;
  absl::StatusOr<Json> reply = ReadReply(stream_, decoder_, deadline);
  if (!reply.ok()) return reply.status();
  auto rid = reply->find("id");
  if (rid == reply->end() || !rid->is_number_integer() || rid->get<int64_t>() != id) {
    // A framing error reply carries "id": null; report the enclave's reason if it gave one.
    absl::StatusOr<std::string> error = ReplyString(*reply, "error");
    if (error.ok())
      return absl::FailedPreconditionError(absl::StrCat("enclave: ", Sanitize(*error)));
    return Malformed(absl::StrCat("\"id\" does not echo the request's id ", id));
  }
  auto ok = reply->find("ok");
  if (ok == reply->end() || !ok->is_boolean()) return Malformed("\"ok\" is missing");
  if (!ok->get<bool>()) {
    absl::StatusOr<std::string> error = ReplyString(*reply, "error");
    return absl::FailedPreconditionError(
        absl::StrCat("enclave: ", error.ok() ? Sanitize(*error) : "(no error text)"));
  }
  return reply;
}

void AddSignOptions(const signer::SignOptions& options, nlohmann::json& request) {
  if (options.hash.has_value()) request["hash"] = signer::HashAlgorithmName(*options.hash);
  if (options.format.has_value()) request["format"] = signer::SignatureFormatName(*options.format);
}

absl::StatusOr<Bytes> EnclaveV2Client::Sign(ByteView message, const signer::SignOptions& options) {
  Json request{{"op", "sign"}, {"message", Base64Encode(message)}};
  AddSignOptions(options, request);
  absl::StatusOr<Json> reply = Call(std::move(request));
  if (!reply.ok()) return reply.status();
  absl::StatusOr<std::string> hex = ReplyString(*reply, "signature");
  if (!hex.ok()) return hex.status();
  absl::StatusOr<Bytes> sig = HexDecode(*hex);
  if (!sig.ok() || sig->empty()) return Malformed("\"signature\" is not hex");
  return sig;
}

absl::StatusOr<EnclavePublicKey> EnclaveV2Client::PublicKey() {
  absl::StatusOr<Json> reply = Call(Json{{"op", "public_key"}});
  if (!reply.ok()) return reply.status();
  EnclavePublicKey key;
  absl::StatusOr<std::string> type = ReplyString(*reply, "key_type");
  absl::StatusOr<std::string> pem = ReplyString(*reply, "public_key_pem");
  absl::StatusOr<std::string> der = ReplyString(*reply, "spki_der");
  absl::StatusOr<std::string> raw = ReplyString(*reply, "public_key_raw");
  for (const auto* s : {&type, &pem, &der, &raw}) {
    if (!s->ok()) return s->status();
  }
  absl::StatusOr<Bytes> der_bytes = Base64Decode(*der);
  absl::StatusOr<Bytes> raw_bytes = HexDecode(*raw);
  if (!der_bytes.ok()) return Malformed("\"spki_der\" is not base64");
  if (!raw_bytes.ok()) return Malformed("\"public_key_raw\" is not hex");
  key.key_type = *type;
  key.public_key_pem = *pem;
  key.spki_der = *std::move(der_bytes);
  key.public_key_raw = *std::move(raw_bytes);
  return key;
}

absl::StatusOr<Bytes> EnclaveV2Client::Attest(ByteView nonce) {
  absl::StatusOr<Json> reply = Call(Json{{"op", "attest"}, {"nonce", Base64Encode(nonce)}});
  if (!reply.ok()) return reply.status();
  absl::StatusOr<std::string> b64 = ReplyString(*reply, "document");
  if (!b64.ok()) return b64.status();
  absl::StatusOr<Bytes> doc = Base64Decode(*b64);
  if (!doc.ok() || doc->empty()) return Malformed("\"document\" is not base64");
  return doc;
}

absl::StatusOr<Json> EnclaveV2Client::Health() { return Call(Json{{"op", "health"}}); }

absl::StatusOr<eth::RecoverableSignature> ParseWalletSignature(std::string_view hex,
                                                               std::string_view field) {
  absl::StatusOr<Bytes> bytes = HexDecodeAllowPrefix(hex);
  if (!bytes.ok() || bytes->size() != 65 || !hex.starts_with("0x") ||
      ((*bytes)[64] != 27 && (*bytes)[64] != 28)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Absl(field), "\" is not 0x + 65 bytes r||s||v with v 27 or 28"));
  }
  eth::RecoverableSignature sig;
  std::copy(bytes->begin(), bytes->begin() + 32, sig.r.begin());
  std::copy(bytes->begin() + 32, bytes->begin() + 64, sig.s.begin());
  sig.recovery_id = static_cast<uint8_t>((*bytes)[64] - 27);
  RETURN_IF_ERROR(eth::CheckSignature(sig, /*require_low_s=*/false));
  return sig;
}

namespace {

absl::StatusOr<eth::Address> ReplyAddress(const Json& reply, std::string_view name) {
  ASSIGN_OR_RETURN(std::string text, ReplyString(reply, name));
  absl::StatusOr<eth::Address> address = eth::ParseAddress(text, name);
  if (!address.ok()) return Malformed(Std(address.status().message()));
  return address;
}

absl::StatusOr<eth::RecoverableSignature> ReplySignature(const Json& reply) {
  ASSIGN_OR_RETURN(std::string hex, ReplyString(reply, "signature"));
  absl::StatusOr<eth::RecoverableSignature> sig = ParseWalletSignature(hex, "signature");
  if (!sig.ok()) return Malformed(Std(sig.status().message()));
  return sig;
}

}  // namespace

absl::StatusOr<eth::Address> EnclaveV2Client::EthAddress() {
  ASSIGN_OR_RETURN(Json reply, Call(Json{{"op", "eth_address"}}));
  return ReplyAddress(reply, "address");
}

absl::StatusOr<EthSignedTransaction> EnclaveV2Client::EthSignTransaction(
    const nlohmann::json& transaction) {
  ASSIGN_OR_RETURN(Json reply,
                   Call(Json{{"op", "eth_sign_transaction"}, {"transaction", transaction}}));
  ASSIGN_OR_RETURN(std::string raw_hex, ReplyString(reply, "raw"));
  ASSIGN_OR_RETURN(std::string hash_hex, ReplyString(reply, "hash"));
  EthSignedTransaction out;
  ASSIGN_OR_RETURN(out.from, ReplyAddress(reply, "from"));
  absl::StatusOr<Bytes> raw = HexDecodeAllowPrefix(raw_hex);
  if (!raw.ok() || raw->empty() || !raw_hex.starts_with("0x")) {
    return Malformed("\"raw\" is not 0x + hex");
  }
  out.raw = *std::move(raw);
  out.hash = eth::TransactionHash(out.raw);
  if (hash_hex != absl::StrCat("0x", HexEncode(ByteView(out.hash.data(), out.hash.size())))) {
    return Malformed("\"hash\" is not Keccak-256 of \"raw\"");
  }
  absl::StatusOr<eth::Address> sender = eth::RecoverSender(out.raw);
  if (!sender.ok()) {
    return Malformed(
        absl::StrCat("\"raw\" is not a signed transaction: ", sender.status().message()));
  }
  if (*sender != out.from) return Malformed("\"raw\" recovers to an address other than \"from\"");
  return out;
}

absl::StatusOr<eth::RecoverableSignature> EnclaveV2Client::EthPersonalSign(ByteView message) {
  ASSIGN_OR_RETURN(Json reply,
                   Call(Json{{"op", "eth_personal_sign"}, {"message", Base64Encode(message)}}));
  return ReplySignature(reply);
}

absl::StatusOr<eth::RecoverableSignature> EnclaveV2Client::EthSignTypedData(
    const nlohmann::json& typed_data) {
  ASSIGN_OR_RETURN(Json reply,
                   Call(Json{{"op", "eth_sign_typed_data"}, {"typed_data", typed_data}}));
  return ReplySignature(reply);
}

}  // namespace lockout::ops
