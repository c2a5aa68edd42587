#include "src/enclave/eth_ops.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/eth/address.h"
#include "src/eth/eip712.h"
#include "src/eth/personal_message.h"
#include "src/eth/recover.h"
#include "src/eth/transaction.h"

namespace lockout::enclave {
namespace {

constexpr std::string_view kErrBadRequest = "bad request";
constexpr std::string_view kErrInternal = "internal error";

EthOpResult Failure(std::string_view reason, absl::Status detail) {
  return EthOpResult{.reason = reason, .detail = std::move(detail), .body = {}};
}

EthOpResult BadRequest(const absl::Status& detail) {
  return Failure(kErrBadRequest, absl::InvalidArgumentError(detail.message()));
}

std::string Hex0x(ByteView data) { return absl::StrCat("0x", HexEncode(data)); }

// The key's recoverable signature (r‖s‖v, v 0/1) over a 32-byte digest.
absl::StatusOr<eth::RecoverableSignature> SignDigest(const signer::Signer& signer,
                                                     const crypto::Keccak256Digest& digest) {
  const signer::SignOptions options{.hash = signer::HashAlgorithm::kNone,
                                    .format = signer::SignatureFormat::kRecoverable};
  absl::StatusOr<Bytes> sig = signer.Sign(ByteView(digest.data(), digest.size()), options);
  if (!sig.ok()) return sig.status();
  if (sig->size() != 65 || (*sig)[64] > 1) {
    return absl::InternalError(absl::StrCat("recoverable signature of ", sig->size(), " bytes"));
  }
  eth::RecoverableSignature out;
  std::copy(sig->begin(), sig->begin() + 32, out.r.begin());
  std::copy(sig->begin() + 32, sig->begin() + 64, out.s.begin());
  out.recovery_id = (*sig)[64];
  return out;
}

// "0x" r‖s‖v with v = 27 + recovery id, as wallets return personal_sign and signTypedData.
std::string WalletSignature(const eth::RecoverableSignature& sig) {
  Bytes bytes(sig.r.begin(), sig.r.end());
  bytes.insert(bytes.end(), sig.s.begin(), sig.s.end());
  bytes.push_back(static_cast<uint8_t>(27 + sig.recovery_id));
  return Hex0x(bytes);
}

// Signs a message digest and checks that it recovers to `address` before it is released.
EthOpResult SignMessageDigest(const signer::Signer& signer, const eth::Address& address,
                              const crypto::Keccak256Digest& digest) {
  absl::StatusOr<eth::RecoverableSignature> sig = SignDigest(signer, digest);
  if (!sig.ok()) return Failure(kErrInternal, sig.status());
  absl::StatusOr<eth::Address> recovered = eth::RecoverAddress(digest, *sig);
  if (!recovered.ok() || *recovered != address) {
    return Failure(kErrInternal, absl::InternalError("signature does not recover to the key"));
  }
  return EthOpResult{.reason = {}, .detail = {}, .body = {{"signature", WalletSignature(*sig)}}};
}

const nlohmann::json* Member(const nlohmann::json& request, const char* name) {
  auto it = request.find(name);
  return it == request.end() ? nullptr : &*it;
}

}  // namespace

bool IsEthOp(std::string_view op) { return op == "eth_address" || IsEthSigningOp(op); }

bool IsEthSigningOp(std::string_view op) {
  return op == "eth_sign_transaction" || op == "eth_personal_sign" || op == "eth_sign_typed_data";
}

EthOpResult RunEthOp(std::string_view op, const nlohmann::json& request,
                     const signer::Signer& signer) {
  if (signer.key_type() != signer::KeyType::kSecp256k1) {
    return Failure(kErrBadRequest, absl::InvalidArgumentError(absl::StrCat(
                                       Absl(op), " needs a secp256k1 key; this enclave's key is ",
                                       Absl(signer::KeyTypeName(signer.key_type())))));
  }
  absl::StatusOr<eth::Address> address = eth::EthereumAddress(signer.public_key_raw());
  if (!address.ok()) return Failure(kErrInternal, address.status());

  if (op == "eth_address") {
    return EthOpResult{
        .reason = {}, .detail = {}, .body = {{"address", eth::ChecksumAddress(*address)}}};
  }

  if (op == "eth_personal_sign") {
    const nlohmann::json* message = Member(request, "message");
    if (message == nullptr || !message->is_string()) {
      return Failure(kErrBadRequest,
                     absl::InvalidArgumentError("field \"message\" missing or not a string"));
    }
    absl::StatusOr<Bytes> bytes = Base64Decode(message->get_ref<const std::string&>());
    if (!bytes.ok()) {
      return Failure(kErrBadRequest, absl::InvalidArgumentError(absl::StrCat(
                                         "field \"message\": ", bytes.status().message())));
    }
    return SignMessageDigest(signer, *address, eth::PersonalMessageHash(*bytes));
  }

  if (op == "eth_sign_typed_data") {
    const nlohmann::json* typed = Member(request, "typed_data");
    if (typed == nullptr || !typed->is_object()) {
      return Failure(kErrBadRequest,
                     absl::InvalidArgumentError("field \"typed_data\" missing or not an object"));
    }
    absl::StatusOr<eth::TypedData> data = eth::TypedData::Create(*typed);
    if (!data.ok()) return BadRequest(data.status());
    return SignMessageDigest(signer, *address, data->digest());
  }

  if (op == "eth_sign_transaction") {
    const nlohmann::json* json = Member(request, "transaction");
    if (json == nullptr || !json->is_object()) {
      return Failure(kErrBadRequest,
                     absl::InvalidArgumentError("field \"transaction\" missing or not an object"));
    }
    absl::StatusOr<eth::Transaction> tx = eth::TransactionFromJson(*json);
    if (!tx.ok()) return BadRequest(tx.status());
    if (tx->from.has_value() && *tx->from != *address) {
      return Failure(kErrBadRequest,
                     absl::InvalidArgumentError("transaction \"from\" is not this key's address"));
    }
    absl::StatusOr<eth::RecoverableSignature> sig = SignDigest(signer, eth::SigningHash(*tx));
    if (!sig.ok()) return Failure(kErrInternal, sig.status());
    absl::StatusOr<Bytes> raw = eth::EncodeSignedTransaction(*tx, *sig);
    if (!raw.ok()) return Failure(kErrInternal, raw.status());
    // Released only if the raw transaction, decoded again, names this key as its sender.
    absl::StatusOr<eth::Address> sender = eth::RecoverSender(*raw);
    if (!sender.ok() || *sender != *address) {
      return Failure(kErrInternal,
                     absl::InternalError("signed transaction does not recover to the key"));
    }
    const crypto::Keccak256Digest hash = eth::TransactionHash(*raw);
    return EthOpResult{.reason = {},
                       .detail = {},
                       .body = {{"raw", Hex0x(*raw)},
                                {"hash", Hex0x(ByteView(hash.data(), hash.size()))},
                                {"from", eth::ChecksumAddress(*address)}}};
  }

  return Failure(kErrBadRequest,
                 absl::InvalidArgumentError(absl::StrCat("not an eth op: ", op.size(), " bytes")));
}

}  // namespace lockout::enclave
