#pragma once

// Ethereum transactions: the JSON a wallet hands to eth_signTransaction, the digest to sign, the
// raw signed transaction (eth_sendRawTransaction's input) and its hash, and the sender of a raw
// signed transaction. Three kinds:
//  - legacy (type 0) with EIP-155 replay protection: the digest covers
//    rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0]); v = chainId*2 + 35 + recid;
//  - EIP-2930 (type 1): 0x01 ‖ rlp([chainId, nonce, gasPrice, gas, to, value, data, accessList]);
//  - EIP-1559 (type 2): 0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to,
//    value, data, accessList]); typed transactions carry yParity (0/1) as v.
// This component never signs: callers pass SigningHash to lockout_signer and give the
// (r, s, recovery id) back to EncodeSignedTransaction.
// Thread-safety: pure functions.

#include <array>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/crypto/keccak.h"
#include "src/eth/address.h"
#include "src/eth/recover.h"
#include "src/eth/uint256.h"

namespace lockout::eth {

enum class TransactionType : uint8_t { kLegacy = 0, kAccessList = 1, kDynamicFee = 2 };

struct AccessListEntry {
  Address address{};
  std::vector<std::array<uint8_t, 32>> storage_keys;
  bool operator==(const AccessListEntry&) const = default;
};

struct Transaction {
  TransactionType type = TransactionType::kLegacy;
  // Always set (non-zero) in a parsed JSON transaction; nullopt only for a pre-EIP-155 legacy
  // transaction (v = 27/28) read by DecodeSignedTransaction.
  std::optional<Uint256> chain_id;
  Uint256 nonce{};
  Uint256 gas_price{};                 // types 0 and 1
  Uint256 max_priority_fee_per_gas{};  // type 2
  Uint256 max_fee_per_gas{};           // type 2
  Uint256 gas_limit{};
  std::optional<Address> to;  // nullopt: contract creation
  Uint256 value{};
  Bytes data;
  std::vector<AccessListEntry> access_list;  // types 1 and 2
  // The JSON's optional "from"; part of no encoding (the caller checks it names its key).
  std::optional<Address> from;
  bool operator==(const Transaction&) const = default;
};

struct TransactionLimits {
  size_t max_json_bytes = 512 * 1024;
  size_t max_data_bytes = 128 * 1024;  // go-ethereum's transaction pool takes at most 128 KiB
  size_t max_access_list_entries = 256;
  size_t max_storage_keys = 4096;  // in all entries together
};

// Parses an eth_signTransaction object. Members: from?, to? (absent or null: contract creation),
// gas | gasLimit, gasPrice, maxFeePerGas, maxPriorityFeePerGas, value?, data? | input?, nonce,
// chainId, type? ("0x0", "0x1", "0x2"; inferred from the fee fields and accessList if absent),
// accessList? ([{"address", "storageKeys": [32-byte hex]}]). Quantities as ParseQuantity takes
// them; nonce and gas must fit in 64 bits (EIP-2681; every client holds gas in a uint64).
// Refused (InvalidArgument naming the member, never its value): bad JSON, unknown members, a
// missing nonce/gas/chainId/fee field, fee fields of the other type, chainId 0, gas and gasLimit
// (or data and input) both present and different, maxPriorityFeePerGas > maxFeePerGas, an access
// list on a legacy transaction, and anything beyond `limits`.
absl::StatusOr<Transaction> ParseTransactionJson(std::string_view json,
                                                 const TransactionLimits& limits = {});
absl::StatusOr<Transaction> TransactionFromJson(const nlohmann::json& json,
                                                const TransactionLimits& limits = {});

// The bytes whose Keccak-256 is signed (see the top of this file), and that digest.
Bytes SigningPayload(const Transaction& tx);
crypto::Keccak256Digest SigningHash(const Transaction& tx);

// The raw signed transaction. InvalidArgument if the signature is malformed or has a high s
// (CheckSignature with EIP-2's rule), or if v would not fit in 256 bits.
absl::StatusOr<Bytes> EncodeSignedTransaction(const Transaction& tx,
                                              const RecoverableSignature& signature);

// Keccak-256 of the raw signed transaction: the transaction hash explorers show.
crypto::Keccak256Digest TransactionHash(ByteView raw_signed_transaction);

struct SignedTransaction {
  Transaction tx;
  RecoverableSignature signature;
};

// Decodes a raw signed transaction (legacy: an RLP list; typed: 0x01/0x02 ‖ RLP list), strictly:
// canonical RLP and integers, exact field counts, 20-byte or empty `to`, 32-byte storage keys,
// v in {27, 28, chainId*2+35, chainId*2+36} (chainId > 0) or yParity in {0, 1}, low s.
absl::StatusOr<SignedTransaction> DecodeSignedTransaction(ByteView raw,
                                                          const TransactionLimits& limits = {});

// The address that signed a raw signed transaction.
absl::StatusOr<Address> RecoverSender(ByteView raw_signed_transaction);

}  // namespace lockout::eth
