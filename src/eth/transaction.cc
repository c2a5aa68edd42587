#include "src/eth/transaction.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/eth/rlp.h"

namespace lockout::eth {
namespace {

using nlohmann::json;

absl::Status TxError(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("eth transaction: ", Absl(why)));
}

absl::Status FieldError(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("eth transaction: field '", Absl(field), "' ", Absl(why)));
}

constexpr std::string_view kKnownMembers[] = {
    "from",  "to",   "gas",   "gasLimit", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas",
    "value", "data", "input", "nonce",    "chainId",  "type",         "accessList"};

const json* Member(const json& object, std::string_view name) {
  auto it = object.find(std::string(name));
  return it == object.end() ? nullptr : &*it;
}

// "0x" + an even number of hex digits (JSON-RPC DATA).
absl::StatusOr<Bytes> ParseData(const json& value, std::string_view field, size_t max_bytes) {
  if (!value.is_string()) return FieldError(field, "is not a string");
  const std::string& text = value.get_ref<const std::string&>();
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') {
    return FieldError(field, "does not start with 0x");
  }
  if ((text.size() - 2) / 2 > max_bytes) {
    return FieldError(field, absl::StrCat("is longer than ", max_bytes, " bytes"));
  }
  auto bytes = HexDecode(std::string_view(text).substr(2));
  if (!bytes.ok()) return FieldError(field, "is not an even number of hex digits");
  return bytes;
}

absl::StatusOr<Address> ParseAddressMember(const json& value, std::string_view field) {
  if (!value.is_string()) return FieldError(field, "is not a string");
  return ParseAddress(value.get_ref<const std::string&>(), field);
}

absl::StatusOr<Uint256> ParseQuantity64(const json& value, std::string_view field) {
  auto q = ParseQuantity(value, field);
  if (!q.ok()) return q.status();
  if (BitLength(*q) > 64) return FieldError(field, "is larger than 2^64-1");
  return q;
}

// Two spellings of one member (gas/gasLimit, data/input): either, or both if equal.
const json* EitherMember(const json& object, std::string_view a, std::string_view b,
                         absl::Status& status) {
  const json* first = Member(object, a);
  const json* second = Member(object, b);
  if (first != nullptr && second != nullptr && *first != *second) {
    status = TxError(absl::StrCat("'", Absl(a), "' and '", Absl(b), "' differ"));
  }
  return first != nullptr ? first : second;
}

absl::StatusOr<std::vector<AccessListEntry>> ParseAccessList(const json& value,
                                                             const TransactionLimits& limits) {
  if (!value.is_array()) return FieldError("accessList", "is not an array");
  if (value.size() > limits.max_access_list_entries) {
    return FieldError("accessList",
                      absl::StrCat("has more than ", limits.max_access_list_entries, " entries"));
  }
  std::vector<AccessListEntry> out;
  size_t keys = 0;
  for (const json& entry : value) {
    if (!entry.is_object() || entry.size() != 2 || !entry.contains("address") ||
        !entry.contains("storageKeys")) {
      return FieldError("accessList", "has an entry that is not {\"address\", \"storageKeys\"}");
    }
    AccessListEntry parsed;
    auto address = ParseAddressMember(entry["address"], "accessList.address");
    if (!address.ok()) return address.status();
    parsed.address = *address;
    const json& storage_keys = entry["storageKeys"];
    if (!storage_keys.is_array()) return FieldError("accessList.storageKeys", "is not an array");
    keys += storage_keys.size();
    if (keys > limits.max_storage_keys) {
      return FieldError("accessList",
                        absl::StrCat("has more than ", limits.max_storage_keys, " storage keys"));
    }
    for (const json& key : storage_keys) {
      auto bytes = ParseData(key, "accessList.storageKeys", 32);
      if (!bytes.ok()) return bytes.status();
      if (bytes->size() != 32) return FieldError("accessList.storageKeys", "is not 32 bytes");
      std::array<uint8_t, 32> k;
      std::memcpy(k.data(), bytes->data(), 32);
      parsed.storage_keys.push_back(k);
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

Bytes EncodeAddressOrEmpty(const std::optional<Address>& to) {
  return to.has_value() ? RlpEncodeString(*to) : RlpEncodeString({});
}

Bytes EncodeAccessList(const std::vector<AccessListEntry>& list) {
  std::vector<Bytes> entries;
  entries.reserve(list.size());
  for (const AccessListEntry& entry : list) {
    std::vector<Bytes> keys;
    keys.reserve(entry.storage_keys.size());
    for (const auto& key : entry.storage_keys) keys.push_back(RlpEncodeString(key));
    entries.push_back(RlpEncodeList({RlpEncodeString(entry.address), RlpEncodeList(keys)}));
  }
  return RlpEncodeList(entries);
}

// The fields every encoding of `tx` starts with (before any signature fields).
std::vector<Bytes> BodyFields(const Transaction& tx) {
  std::vector<Bytes> f;
  switch (tx.type) {
    case TransactionType::kLegacy:
      f = {RlpEncodeUint(tx.nonce),     RlpEncodeUint(tx.gas_price), RlpEncodeUint(tx.gas_limit),
           EncodeAddressOrEmpty(tx.to), RlpEncodeUint(tx.value),     RlpEncodeString(tx.data)};
      break;
    case TransactionType::kAccessList:
      f = {RlpEncodeUint(tx.chain_id.value_or(Uint256{})),
           RlpEncodeUint(tx.nonce),
           RlpEncodeUint(tx.gas_price),
           RlpEncodeUint(tx.gas_limit),
           EncodeAddressOrEmpty(tx.to),
           RlpEncodeUint(tx.value),
           RlpEncodeString(tx.data),
           EncodeAccessList(tx.access_list)};
      break;
    case TransactionType::kDynamicFee:
      f = {RlpEncodeUint(tx.chain_id.value_or(Uint256{})),
           RlpEncodeUint(tx.nonce),
           RlpEncodeUint(tx.max_priority_fee_per_gas),
           RlpEncodeUint(tx.max_fee_per_gas),
           RlpEncodeUint(tx.gas_limit),
           EncodeAddressOrEmpty(tx.to),
           RlpEncodeUint(tx.value),
           RlpEncodeString(tx.data),
           EncodeAccessList(tx.access_list)};
      break;
  }
  return f;
}

Bytes WithTypePrefix(TransactionType type, Bytes rlp) {
  if (type == TransactionType::kLegacy) return rlp;
  Bytes out;
  out.reserve(rlp.size() + 1);
  out.push_back(static_cast<uint8_t>(type));
  out.insert(out.end(), rlp.begin(), rlp.end());
  return out;
}

// --- decoding raw signed transactions -------------------------------------------------------

absl::StatusOr<std::optional<Address>> DecodeTo(const RlpItem& item) {
  if (item.is_list) return FieldError("to", "is a list");
  if (item.bytes.empty()) return std::optional<Address>();
  if (item.bytes.size() != 20) return FieldError("to", "is neither empty nor 20 bytes");
  Address a;
  std::memcpy(a.data(), item.bytes.data(), 20);
  return std::optional<Address>(a);
}

absl::StatusOr<std::vector<AccessListEntry>> DecodeAccessList(const RlpItem& item,
                                                              const TransactionLimits& limits) {
  if (!item.is_list) return FieldError("accessList", "is not a list");
  if (item.list.size() > limits.max_access_list_entries) {
    return FieldError("accessList", "has too many entries");
  }
  std::vector<AccessListEntry> out;
  size_t keys = 0;
  for (const RlpItem& entry : item.list) {
    if (!entry.is_list || entry.list.size() != 2 || entry.list[0].is_list ||
        entry.list[0].bytes.size() != 20 || !entry.list[1].is_list) {
      return FieldError("accessList", "has an entry that is not [address, [keys]]");
    }
    AccessListEntry parsed;
    std::memcpy(parsed.address.data(), entry.list[0].bytes.data(), 20);
    keys += entry.list[1].list.size();
    if (keys > limits.max_storage_keys) return FieldError("accessList", "has too many keys");
    for (const RlpItem& key : entry.list[1].list) {
      if (key.is_list || key.bytes.size() != 32) {
        return FieldError("accessList", "has a storage key that is not 32 bytes");
      }
      std::array<uint8_t, 32> k;
      std::memcpy(k.data(), key.bytes.data(), 32);
      parsed.storage_keys.push_back(k);
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

}  // namespace

absl::StatusOr<Transaction> TransactionFromJson(const json& j, const TransactionLimits& limits) {
  if (!j.is_object()) return TxError("not a JSON object");
  for (const auto& [key, unused] : j.items()) {
    bool known = false;
    for (std::string_view k : kKnownMembers) known = known || key == k;
    // Never echo an unknown member's name: it is caller-controlled text of any length.
    if (!known) return TxError("unknown member (the members are those of eth_signTransaction)");
  }
  Transaction tx;
  absl::Status status;
  const json* gas = EitherMember(j, "gas", "gasLimit", status);
  const json* data = EitherMember(j, "data", "input", status);
  if (!status.ok()) return status;

  const json* gas_price = Member(j, "gasPrice");
  const json* max_fee = Member(j, "maxFeePerGas");
  const json* max_priority = Member(j, "maxPriorityFeePerGas");
  const json* access_list = Member(j, "accessList");
  if (const json* type = Member(j, "type"); type != nullptr) {
    auto t = ParseQuantity(*type, "type");
    if (!t.ok()) return t.status();
    if (BitLength(*t) > 2 || (*t)[31] > 2) return FieldError("type", "is not 0x0, 0x1 or 0x2");
    tx.type = static_cast<TransactionType>((*t)[31]);
  } else if (max_fee != nullptr || max_priority != nullptr) {
    tx.type = TransactionType::kDynamicFee;
  } else if (access_list != nullptr) {
    tx.type = TransactionType::kAccessList;
  }

  if (tx.type == TransactionType::kDynamicFee) {
    if (gas_price != nullptr)
      return FieldError("gasPrice", "is not allowed in a type 2 transaction");
    if (max_fee == nullptr) return FieldError("maxFeePerGas", "is missing");
    if (max_priority == nullptr) return FieldError("maxPriorityFeePerGas", "is missing");
    ASSIGN_OR_RETURN(tx.max_fee_per_gas, ParseQuantity(*max_fee, "maxFeePerGas"));
    ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas,
                     ParseQuantity(*max_priority, "maxPriorityFeePerGas"));
    if (tx.max_priority_fee_per_gas > tx.max_fee_per_gas) {
      return FieldError("maxPriorityFeePerGas", "is larger than maxFeePerGas");
    }
  } else {
    if (max_fee != nullptr) return FieldError("maxFeePerGas", "is only allowed in type 2");
    if (max_priority != nullptr) {
      return FieldError("maxPriorityFeePerGas", "is only allowed in type 2");
    }
    if (gas_price == nullptr) return FieldError("gasPrice", "is missing");
    ASSIGN_OR_RETURN(tx.gas_price, ParseQuantity(*gas_price, "gasPrice"));
  }
  if (access_list != nullptr) {
    ASSIGN_OR_RETURN(tx.access_list, ParseAccessList(*access_list, limits));
    if (tx.type == TransactionType::kLegacy && !tx.access_list.empty()) {
      return FieldError("accessList", "is not allowed in a legacy (type 0) transaction");
    }
  }

  const json* nonce = Member(j, "nonce");
  if (nonce == nullptr) return FieldError("nonce", "is missing");
  ASSIGN_OR_RETURN(tx.nonce, ParseQuantity64(*nonce, "nonce"));
  if (gas == nullptr) return FieldError("gas", "is missing");
  ASSIGN_OR_RETURN(tx.gas_limit, ParseQuantity64(*gas, "gas"));
  const json* chain_id = Member(j, "chainId");
  if (chain_id == nullptr) return FieldError("chainId", "is missing");
  ASSIGN_OR_RETURN(tx.chain_id, ParseQuantity(*chain_id, "chainId"));
  if (IsZero(*tx.chain_id)) return FieldError("chainId", "is 0 (EIP-155 needs a chain id)");
  // v = chainId*2 + 36 must fit in 256 bits for a legacy transaction.
  if (!TimesTwoPlus(*tx.chain_id, 36).has_value()) return FieldError("chainId", "is too large");
  if (const json* value = Member(j, "value"); value != nullptr) {
    ASSIGN_OR_RETURN(tx.value, ParseQuantity(*value, "value"));
  }
  if (data != nullptr) {
    ASSIGN_OR_RETURN(tx.data, ParseData(*data, "data", limits.max_data_bytes));
  }
  if (const json* to = Member(j, "to"); to != nullptr && !to->is_null()) {
    ASSIGN_OR_RETURN(tx.to, ParseAddressMember(*to, "to"));
  }
  if (const json* from = Member(j, "from"); from != nullptr) {
    ASSIGN_OR_RETURN(tx.from, ParseAddressMember(*from, "from"));
  }
  return tx;
}

absl::StatusOr<Transaction> ParseTransactionJson(std::string_view text,
                                                 const TransactionLimits& limits) {
  auto j = ParseJsonStrict(text, limits.max_json_bytes, /*max_depth=*/8);
  if (!j.ok()) return TxError(Std(j.status().message()));
  return TransactionFromJson(*j, limits);
}

Bytes SigningPayload(const Transaction& tx) {
  std::vector<Bytes> fields = BodyFields(tx);
  if (tx.type == TransactionType::kLegacy && tx.chain_id.has_value()) {
    fields.push_back(RlpEncodeUint(*tx.chain_id));
    fields.push_back(RlpEncodeUint(uint64_t{0}));
    fields.push_back(RlpEncodeUint(uint64_t{0}));
  }
  return WithTypePrefix(tx.type, RlpEncodeList(fields));
}

crypto::Keccak256Digest SigningHash(const Transaction& tx) {
  return crypto::Keccak256(SigningPayload(tx));
}

absl::StatusOr<Bytes> EncodeSignedTransaction(const Transaction& tx,
                                              const RecoverableSignature& signature) {
  if (absl::Status s = CheckSignature(signature, /*require_low_s=*/true); !s.ok()) return s;
  std::vector<Bytes> fields = BodyFields(tx);
  if (tx.type == TransactionType::kLegacy) {
    std::optional<Uint256> v;
    if (tx.chain_id.has_value()) {
      v = TimesTwoPlus(*tx.chain_id, 35u + signature.recovery_id);
      if (!v.has_value()) return FieldError("chainId", "is too large for v");
    } else {
      v = Uint256FromUint64(27u + signature.recovery_id);
    }
    fields.push_back(RlpEncodeUint(*v));
  } else {
    fields.push_back(RlpEncodeUint(uint64_t{signature.recovery_id}));
  }
  fields.push_back(RlpEncodeUint(signature.r));
  fields.push_back(RlpEncodeUint(signature.s));
  return WithTypePrefix(tx.type, RlpEncodeList(fields));
}

crypto::Keccak256Digest TransactionHash(ByteView raw_signed_transaction) {
  return crypto::Keccak256(raw_signed_transaction);
}

absl::StatusOr<SignedTransaction> DecodeSignedTransaction(ByteView raw,
                                                          const TransactionLimits& limits) {
  if (raw.empty()) return TxError("empty raw transaction");
  SignedTransaction out;
  Transaction& tx = out.tx;
  ByteView body = raw;
  if (raw[0] < 0xc0) {
    if (raw[0] != 0x01 && raw[0] != 0x02) {
      return TxError(absl::StrCat("unsupported transaction type ", raw[0]));
    }
    tx.type = static_cast<TransactionType>(raw[0]);
    body = raw.subspan(1);
  }
  RlpLimits rlp_limits;
  rlp_limits.max_input_bytes = limits.max_data_bytes + 64 * 1024 + limits.max_storage_keys * 33 +
                               limits.max_access_list_entries * 24;
  rlp_limits.max_depth = 4;
  auto decoded = RlpDecode(body, rlp_limits);
  if (!decoded.ok()) return TxError(Std(decoded.status().message()));
  if (!decoded->is_list) return TxError("the transaction is not an RLP list");
  const std::vector<RlpItem>& f = decoded->list;
  const size_t expected = tx.type == TransactionType::kLegacy       ? 9
                          : tx.type == TransactionType::kAccessList ? 11
                                                                    : 12;
  if (f.size() != expected) {
    return TxError(absl::StrCat("expected ", expected, " fields, got ", f.size()));
  }
  size_t i = 0;
  if (tx.type != TransactionType::kLegacy) {
    ASSIGN_OR_RETURN(tx.chain_id, RlpItemToUint(f[i++], "chainId"));
    if (IsZero(*tx.chain_id)) return FieldError("chainId", "is 0");
  }
  ASSIGN_OR_RETURN(tx.nonce, RlpItemToUint(f[i++], "nonce"));
  if (tx.type == TransactionType::kDynamicFee) {
    ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas, RlpItemToUint(f[i++], "maxPriorityFeePerGas"));
    ASSIGN_OR_RETURN(tx.max_fee_per_gas, RlpItemToUint(f[i++], "maxFeePerGas"));
  } else {
    ASSIGN_OR_RETURN(tx.gas_price, RlpItemToUint(f[i++], "gasPrice"));
  }
  ASSIGN_OR_RETURN(tx.gas_limit, RlpItemToUint(f[i++], "gas"));
  ASSIGN_OR_RETURN(tx.to, DecodeTo(f[i++]));
  ASSIGN_OR_RETURN(tx.value, RlpItemToUint(f[i++], "value"));
  if (f[i].is_list) return FieldError("data", "is a list");
  if (f[i].bytes.size() > limits.max_data_bytes) return FieldError("data", "is too long");
  tx.data = f[i++].bytes;
  if (tx.type != TransactionType::kLegacy) {
    ASSIGN_OR_RETURN(tx.access_list, DecodeAccessList(f[i++], limits));
  }
  ASSIGN_OR_RETURN(const Uint256 v, RlpItemToUint(f[i++], "v"));
  ASSIGN_OR_RETURN(out.signature.r, RlpItemToUint(f[i++], "r"));
  ASSIGN_OR_RETURN(out.signature.s, RlpItemToUint(f[i++], "s"));
  if (tx.type != TransactionType::kLegacy) {
    if (BitLength(v) > 1) return FieldError("yParity", "is not 0 or 1");
    out.signature.recovery_id = v[31];
  } else if (v == Uint256FromUint64(27) || v == Uint256FromUint64(28)) {
    out.signature.recovery_id = static_cast<uint8_t>(v[31] - 27);  // pre-EIP-155
  } else {
    const std::optional<Uint256> v_minus_35 = Minus(v, 35);
    if (!v_minus_35.has_value()) return FieldError("v", "is not 27, 28 or chainId*2+35/36");
    out.signature.recovery_id = (*v_minus_35)[31] & 1;
    tx.chain_id = Half(*v_minus_35);
    if (IsZero(*tx.chain_id)) return FieldError("v", "encodes chain id 0");
  }
  if (absl::Status s = CheckSignature(out.signature, /*require_low_s=*/true); !s.ok()) return s;
  return out;
}

absl::StatusOr<Address> RecoverSender(ByteView raw_signed_transaction) {
  auto signed_tx = DecodeSignedTransaction(raw_signed_transaction);
  if (!signed_tx.ok()) return signed_tx.status();
  return RecoverAddress(SigningHash(signed_tx->tx), signed_tx->signature);
}

}  // namespace lockout::eth
