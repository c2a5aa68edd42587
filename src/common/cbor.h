#pragma once

// Thin RAII layer over libcbor for the formats we speak (attestation documents, NSM messages).
//
// Parsing untrusted bytes: CborParse() rejects trailing bytes, indefinite-length items (which
// neither /dev/nsm nor attestation documents use), nesting deeper than kMaxCborDepth and inputs
// larger than kMaxCborInput, all before allocating anything proportional to claimed sizes beyond
// the input length. Encoding: items are serialised in the order they were built (no sorting),
// definite lengths, shortest integer forms — serde_cbor's and the NSM's conventions.
// Thread-compatible (no shared state).

#include <cbor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout {

struct CborItemDeleter {
  void operator()(cbor_item_t* item) const {
    if (item != nullptr) cbor_decref(&item);
  }
};
// Owns one reference to an item.
using CborPtr = std::unique_ptr<cbor_item_t, CborItemDeleter>;

inline constexpr size_t kMaxCborInput = 1 << 20;  // 1 MiB: larger than any NSM message
inline constexpr int kMaxCborDepth = 16;

// Parses exactly one well-formed, definite-length CBOR item spanning all of `data`.
absl::StatusOr<CborPtr> CborParse(ByteView data);
// Serialises `item` (definite lengths only).
absl::StatusOr<Bytes> CborSerialize(const cbor_item_t* item);

// Builders returning owned items (abort on allocation failure like libcbor's own builders).
CborPtr CborText(std::string_view s);
CborPtr CborByteString(ByteView b);
CborPtr CborUint(uint64_t v);
CborPtr CborNull();
CborPtr CborBool(bool v);
CborPtr CborArray(size_t capacity);
CborPtr CborMap(size_t capacity);
// Appends; takes ownership of the new elements.
void CborArrayPush(cbor_item_t* array, CborPtr value);
void CborMapAdd(cbor_item_t* map, CborPtr key, CborPtr value);

// Accessors (nullptr / nullopt when the type does not match).
// Looks up a text-string key in a definite map; the map must not contain duplicate keys
// (CborParse does not check that: use CborCheckUniqueTextKeys where it matters).
const cbor_item_t* CborMapGet(const cbor_item_t* map, std::string_view key);
std::optional<std::string> CborGetText(const cbor_item_t* item);
std::optional<Bytes> CborGetBytes(const cbor_item_t* item);
std::optional<uint64_t> CborGetUint(const cbor_item_t* item);
bool CborIsNull(const cbor_item_t* item);
// Error if a map has two equal text keys or any non-text key.
absl::Status CborCheckUniqueTextKeys(const cbor_item_t* map);

}  // namespace lockout
