#pragma once

// EIP-712 typed structured data, version 4 (the JSON eth_signTypedData_v4 takes):
//   {"types": {...}, "primaryType": "...", "domain": {...}, "message": {...}}
// and its digest keccak256(0x19 0x01 ‖ hashStruct(EIP712Domain, domain) ‖
// hashStruct(primaryType, message)).
//
// What is accepted (everything else is InvalidArgument naming the type/field, never values):
//  - type names and field names are identifiers ([A-Za-z_$][A-Za-z0-9_$]*); a struct may not take
//    an atomic type's name; each struct has at least one field and no field name twice;
//  - field types: address, bool, string, bytes, bytes1..bytes32, uint8..uint256 and int8..int256
//    in steps of 8 (no "uint"/"int" aliases), a struct defined in `types`, or any of these with
//    array suffixes "[]" (dynamic) or "[k]" (fixed, 1 <= k); references may be recursive;
//  - EIP712Domain must be defined, with fields among name (string), version (string), chainId
//    (uint256), verifyingContract (address) and salt (bytes32); primaryType may not be
//    EIP712Domain;
//  - values: every declared field present and no undeclared member (a null or missing struct is
//    refused, as go-ethereum does; MetaMask hashes it as zero); string: a JSON string; bytes and
//    bytesN: "0x" hex (bytesN exactly N bytes); address: as ParseAddress; bool: true/false;
//    integers: as ParseSignedQuantity, in range for their width (int as two's complement);
//    arrays: JSON arrays (fixed ones of exactly k elements).
// Work is bounded by `Eip712Limits`: the document's size, the number of types and fields, value
// nesting, array lengths, and the total count of values encoded.
// Thread-safety: a TypedData is immutable after Create; its methods may be called concurrently.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/crypto/keccak.h"

namespace lockout::eth {

struct Eip712Limits {
  size_t max_json_bytes = 256 * 1024;
  size_t max_types = 64;
  size_t max_fields_per_type = 64;
  size_t max_array_dimensions = 4;
  size_t max_array_length = 1024;
  int max_depth = 16;           // structs and arrays nested in a value
  size_t max_values = 1 << 16;  // values encoded in one hashStruct (all levels together)
};

class TypedData final {
 public:
  // Validates `json` (object) and computes its hashes.
  static absl::StatusOr<TypedData> Create(const nlohmann::json& json,
                                          const Eip712Limits& limits = {});
  // ParseJsonStrict (duplicate members refused) and Create.
  static absl::StatusOr<TypedData> Parse(std::string_view json, const Eip712Limits& limits = {});

  // encodeType: "Name(type1 name1,...)" followed by the types it references, sorted by name.
  // NotFound if `type_name` is not defined.
  absl::StatusOr<std::string> EncodeType(std::string_view type_name) const;
  absl::StatusOr<crypto::Keccak256Digest> TypeHash(std::string_view type_name) const;
  // keccak256(typeHash ‖ encodeData(value)) for a value of struct `type_name`.
  absl::StatusOr<crypto::Keccak256Digest> HashStruct(std::string_view type_name,
                                                     const nlohmann::json& value) const;

  const std::string& primary_type() const { return primary_type_; }
  const crypto::Keccak256Digest& domain_separator() const { return domain_separator_; }
  const crypto::Keccak256Digest& message_hash() const { return message_hash_; }
  // The digest to sign.
  const crypto::Keccak256Digest& digest() const { return digest_; }

 private:
  struct Field {
    std::string name;
    std::string type;
  };
  TypedData() = default;
  absl::Status ParseTypes(const nlohmann::json& types);

  Eip712Limits limits_;
  std::map<std::string, std::vector<Field>, std::less<>> types_;
  std::map<std::string, std::string, std::less<>> encoded_types_;  // name -> encodeType
  std::string primary_type_;
  crypto::Keccak256Digest domain_separator_{};
  crypto::Keccak256Digest message_hash_{};
  crypto::Keccak256Digest digest_{};

  friend class Eip712Encoder;
};

}  // namespace lockout::eth
