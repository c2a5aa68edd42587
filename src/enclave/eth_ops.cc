#include "src/enclave/eth_ops.h"

#include <algorithm>
#include <array>
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
#include "src/eth/uint256.h"

namespace lockout::enclave {
namespace {

constexpr std::string_view kErrBadRequest = "bad request";
constexpr std::string_view kErrInternal = "internal error";

EthOpResult Failure(std::string_view reason, absl::Status detail) {
  return EthOpResult{.reason = reason, .rule = {}, .detail = std::move(detail), .body = {}};
}

// A refusal by wallet rule `rule`; `what` (for the log) names the rule's subject, never values.
EthOpResult WalletRefusal(std::string_view rule, std::string_view what) {
  return EthOpResult{.reason = kErrWalletRefused,
                     .rule = rule,
                     .detail = absl::PermissionDeniedError(
                         absl::StrCat("wallet rule ", Absl(rule), ": ", Absl(what))),
                     .body = {}};
}

// The first wallet rule `tx` breaks, or nullopt if it keeps them all.
std::optional<EthOpResult> CheckTransactionRules(const signpolicy::WalletRules& wallet,
                                                 const eth::Transaction& tx) {
  if (wallet.chain_ids.has_value()) {
    bool allowed = false;
    if (tx.chain_id.has_value()) {
      for (uint64_t id : *wallet.chain_ids) {
        if (eth::Uint256FromUint64(id) == *tx.chain_id) allowed = true;
      }
    }
    if (!allowed) {
      return WalletRefusal(signpolicy::kWalletRuleChainId, "chainId is not an allowed chain");
    }
  }
  if (wallet.recipients.has_value()) {
    if (!tx.to.has_value()) {
      return WalletRefusal(signpolicy::kWalletRuleRecipient,
                           "a contract creation (no \"to\") with a recipient allowlist");
    }
    if (!std::binary_search(wallet.recipients->begin(), wallet.recipients->end(), *tx.to)) {
      return WalletRefusal(signpolicy::kWalletRuleRecipient, "\"to\" is not an allowed recipient");
    }
  }
  if (wallet.max_value_wei.has_value() && tx.value > *wallet.max_value_wei) {
    return WalletRefusal(signpolicy::kWalletRuleMaxValue, "\"value\" exceeds max_value_wei");
  }
  if (wallet.methods.has_value() && !tx.data.empty()) {
    std::array<uint8_t, 4> selector{};
    const bool has_selector = tx.data.size() >= selector.size();
    if (has_selector) std::copy(tx.data.begin(), tx.data.begin() + 4, selector.begin());
    if (!has_selector ||
        !std::binary_search(wallet.methods->begin(), wallet.methods->end(), selector)) {
      return WalletRefusal(signpolicy::kWalletRuleMethod,
                           absl::StrCat("data (", tx.data.size(),
                                        " bytes) does not start with an allowed selector"));
    }
  }
  return std::nullopt;
}

// True if the typed data's domain (a JSON object TypedData::Create accepted) has every member
// `rule` sets, equal to it.
bool DomainMatches(const signpolicy::Eip712DomainRule& rule, const nlohmann::json& domain) {
  auto text_equals = [&domain](const char* name, const std::optional<std::string>& want) {
    if (!want.has_value()) return true;
    auto it = domain.find(name);
    return it != domain.end() && it->is_string() && it->get_ref<const std::string&>() == *want;
  };
  if (!text_equals("name", rule.name) || !text_equals("version", rule.version)) return false;
  if (rule.chain_id.has_value()) {
    auto it = domain.find("chainId");
    if (it == domain.end()) return false;
    absl::StatusOr<eth::Uint256> id = eth::ParseQuantity(*it, "domain.chainId");
    if (!id.ok() || *id != eth::Uint256FromUint64(*rule.chain_id)) return false;
  }
  if (rule.verifying_contract.has_value()) {
    auto it = domain.find("verifyingContract");
    if (it == domain.end() || !it->is_string()) return false;
    absl::StatusOr<eth::Address> address =
        eth::ParseAddress(it->get_ref<const std::string&>(), "domain.verifyingContract");
    if (!address.ok() || *address != *rule.verifying_contract) return false;
  }
  return true;
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
  return EthOpResult{
      .reason = {}, .rule = {}, .detail = {}, .body = {{"signature", WalletSignature(*sig)}}};
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
                     const signer::Signer& signer, const signpolicy::WalletRules* wallet) {
  if (signer.key_type() != signer::KeyType::kSecp256k1) {
    return Failure(kErrBadRequest, absl::InvalidArgumentError(absl::StrCat(
                                       Absl(op), " needs a secp256k1 key; this enclave's key is ",
                                       Absl(signer::KeyTypeName(signer.key_type())))));
  }
  absl::StatusOr<eth::Address> address = eth::EthereumAddress(signer.public_key_raw());
  if (!address.ok()) return Failure(kErrInternal, address.status());

  if (op == "eth_address") {
    return EthOpResult{.reason = {},
                       .rule = {},
                       .detail = {},
                       .body = {{"address", eth::ChecksumAddress(*address)}}};
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
    if (wallet != nullptr && !wallet->allow_personal_sign) {
      return WalletRefusal(signpolicy::kWalletRulePersonalSign, "eth_personal_sign is not allowed");
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
    if (wallet != nullptr && wallet->eip712_domains.has_value()) {
      // Create accepted the document, so "domain" is an object of valid members.
      const nlohmann::json* domain = Member(*typed, "domain");
      const bool allowed =
          domain != nullptr && domain->is_object() &&
          std::any_of(wallet->eip712_domains->begin(), wallet->eip712_domains->end(),
                      [domain](const signpolicy::Eip712DomainRule& rule) {
                        return DomainMatches(rule, *domain);
                      });
      if (!allowed) {
        return WalletRefusal(signpolicy::kWalletRuleEip712Domain,
                             "the typed data's domain matches no allowed domain");
      }
    }
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
    if (wallet != nullptr) {
      if (std::optional<EthOpResult> refused = CheckTransactionRules(*wallet, *tx)) {
        return *std::move(refused);
      }
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
                       .rule = {},
                       .detail = {},
                       .body = {{"raw", Hex0x(*raw)},
                                {"hash", Hex0x(ByteView(hash.data(), hash.size()))},
                                {"from", eth::ChecksumAddress(*address)}}};
  }

  return Failure(kErrBadRequest,
                 absl::InvalidArgumentError(absl::StrCat("not an eth op: ", op.size(), " bytes")));
}

}  // namespace lockout::enclave
