#include "src/gateway/eth_gateway.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"
#include "src/eth/eip712.h"
#include "src/eth/personal_message.h"
#include "src/eth/transaction.h"

namespace lockout::gateway {
namespace {

std::string Hex0x(ByteView data) { return absl::StrCat("0x", HexEncode(data)); }

// A failed method: sets `error` and returns null.
nlohmann::json Fail(RpcError& error, int code, std::string message) {
  error.code = code;
  error.message = std::move(message);
  return nullptr;
}

bool ParamCount(const nlohmann::json& params, size_t min, size_t max) {
  return params.is_array() && params.size() >= min && params.size() <= max;
}

// Is `value` an address string equal to `mine`?
bool IsMyAddress(const nlohmann::json& value, const eth::Address& mine) {
  if (!value.is_string()) return false;
  absl::StatusOr<eth::Address> a = eth::ParseAddress(value.get<std::string>(), "address");
  return a.ok() && *a == mine;
}

std::optional<Bytes> HexData(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() < 2 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return std::nullopt;
  absl::StatusOr<Bytes> bytes = HexDecodeAllowPrefix(text);
  if (!bytes.ok()) return std::nullopt;
  return *std::move(bytes);
}

}  // namespace

std::string WalletSignatureHex(const eth::RecoverableSignature& sig) {
  Bytes bytes(sig.r.begin(), sig.r.end());
  bytes.insert(bytes.end(), sig.s.begin(), sig.s.end());
  bytes.push_back(static_cast<uint8_t>(27 + sig.recovery_id));
  return Hex0x(bytes);
}

std::string EthGateway::Handle(std::string_view body) const {
  std::variant<RpcRequest, RpcError> parsed = ParseRpcRequest(body);
  if (auto* error = std::get_if<RpcError>(&parsed)) return RpcErrorReply(*error);
  const RpcRequest& request = std::get<RpcRequest>(parsed);
  RpcError error{request.id, 0, ""};
  nlohmann::json result = Dispatch(request, error);
  if (error.code != 0) return RpcErrorReply(error);
  return RpcResult(request.id, result);
}

nlohmann::json EthGateway::Dispatch(const RpcRequest& request, RpcError& error) const {
  const nlohmann::json& p = request.params;
  const std::string& m = request.method;
  if (m != "eth_accounts" && m != "eth_sign" && m != "personal_sign" &&
      m != "eth_signTransaction" && m != "eth_signTypedData_v4") {
    return Fail(error, kMethodNotFound, "method not found");
  }
  if (!p.is_array()) return Fail(error, kInvalidParams, "params must be an array");
  if (m == "eth_accounts") {
    if (!p.empty()) return Fail(error, kInvalidParams, "eth_accounts takes no params");
    return nlohmann::json::array({eth::ChecksumAddress(address_)});
  }

  // What is to be signed, checked here first; `digest` is what the signature must recover over.
  crypto::Keccak256Digest digest{};
  if (m == "eth_sign" || m == "personal_sign") {
    const bool geth_order =
        m == "eth_sign";  // eth_sign(address, data); personal_sign(data, address)
    if (!(geth_order ? ParamCount(p, 2, 2) : ParamCount(p, 2, 3))) {
      return Fail(error, kInvalidParams,
                  geth_order ? "eth_sign takes [address, data]"
                             : "personal_sign takes [data, address] (and an ignored password)");
    }
    const nlohmann::json& address = p[geth_order ? 0 : 1];
    const nlohmann::json& data = p[geth_order ? 1 : 0];
    if (!address.is_string()) return Fail(error, kInvalidParams, "address must be a string");
    if (!IsMyAddress(address, address_)) return Fail(error, kInvalidParams, "unknown account");
    std::optional<Bytes> message = HexData(data);
    if (!message) return Fail(error, kInvalidParams, "data must be 0x-prefixed hex");
    digest = eth::PersonalMessageHash(*message);
    absl::StatusOr<eth::RecoverableSignature> sig = backend_->PersonalSign(*message);
    if (!sig.ok()) return Fail(error, kServerError, std::string(sig.status().message()));
    absl::StatusOr<eth::Address> who = eth::RecoverAddress(digest, *sig);
    if (!who.ok() || *who != address_) {
      return Fail(error, kServerError, "the enclave's signature does not recover to its address");
    }
    return WalletSignatureHex(*sig);
  }
  if (m == "eth_signTypedData_v4") {
    if (!ParamCount(p, 2, 2)) {
      return Fail(error, kInvalidParams, "eth_signTypedData_v4 takes [address, typedData]");
    }
    if (!IsMyAddress(p[0], address_)) return Fail(error, kInvalidParams, "unknown account");
    nlohmann::json typed_json = p[1];
    if (typed_json.is_string()) {
      absl::StatusOr<nlohmann::json> parsed =
          ParseJsonStrict(typed_json.get<std::string>(), kMaxRpcBody);
      if (!parsed.ok()) return Fail(error, kInvalidParams, "typedData: not JSON");
      typed_json = *std::move(parsed);
    }
    if (!typed_json.is_object()) {
      return Fail(error, kInvalidParams, "typedData must be an object or a JSON string");
    }
    absl::StatusOr<eth::TypedData> typed = eth::TypedData::Create(typed_json);
    if (!typed.ok()) {
      return Fail(error, kInvalidParams, absl::StrCat("typedData: ", typed.status().message()));
    }
    digest = typed->digest();
    absl::StatusOr<eth::RecoverableSignature> sig = backend_->SignTypedData(typed_json);
    if (!sig.ok()) return Fail(error, kServerError, std::string(sig.status().message()));
    absl::StatusOr<eth::Address> who = eth::RecoverAddress(digest, *sig);
    if (!who.ok() || *who != address_) {
      return Fail(error, kServerError, "the enclave's signature does not recover to its address");
    }
    return WalletSignatureHex(*sig);
  }
  // eth_signTransaction
  if (!ParamCount(p, 1, 1) || !p[0].is_object()) {
    return Fail(error, kInvalidParams, "eth_signTransaction takes [transaction object]");
  }
  const nlohmann::json& tx_json = p[0];
  auto from = tx_json.find("from");
  if (from != tx_json.end() && !IsMyAddress(*from, address_)) {
    return Fail(error, kInvalidParams, "unknown account");
  }
  absl::StatusOr<eth::Transaction> tx = eth::TransactionFromJson(tx_json);
  if (!tx.ok()) {
    return Fail(error, kInvalidParams, absl::StrCat("transaction: ", tx.status().message()));
  }
  absl::StatusOr<ops::EthSignedTransaction> signed_tx = backend_->SignTransaction(tx_json);
  if (!signed_tx.ok()) return Fail(error, kServerError, std::string(signed_tx.status().message()));
  if (signed_tx->from != address_) {
    return Fail(error, kServerError, "the enclave's transaction is not signed by its address");
  }
  nlohmann::json tx_out = tx_json;
  tx_out["from"] = eth::ChecksumAddress(signed_tx->from);
  tx_out["hash"] = Hex0x(ByteView(signed_tx->hash.data(), signed_tx->hash.size()));
  return {{"raw", Hex0x(signed_tx->raw)}, {"tx", tx_out}};
}

}  // namespace lockout::gateway
