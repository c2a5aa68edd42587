#include "src/common/cbor.h"

#include <cstdlib>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"

namespace lockout {
namespace {

// Walks the raw encoding before libcbor sees it, so that no claimed length or count can make
// libcbor allocate more than the input could possibly hold: every count is checked against the
// bytes that remain (each element takes at least one byte). Rejects indefinite lengths, reserved
// additional-info values and nesting deeper than kMaxCborDepth.
absl::Status PreScan(ByteView data, size_t* pos, int depth) {
  if (depth > kMaxCborDepth) return absl::InvalidArgumentError("cbor: nesting too deep");
  if (*pos >= data.size()) {
    return absl::InvalidArgumentError(absl::StrCat("cbor: truncated at offset ", *pos));
  }
  const size_t start = *pos;
  uint8_t initial = data[(*pos)++];
  uint8_t major = initial >> 5;
  uint8_t info = initial & 0x1f;
  uint64_t arg = 0;
  if (info < 24) {
    arg = info;
  } else if (info <= 27) {
    size_t n = size_t{1} << (info - 24);
    if (data.size() - *pos < n) {
      return absl::InvalidArgumentError(absl::StrCat("cbor: truncated at offset ", start));
    }
    for (size_t i = 0; i < n; ++i) arg = (arg << 8) | data[(*pos)++];
  } else if (info == 31) {
    return absl::InvalidArgumentError(
        absl::StrCat("cbor: indefinite length at offset ", start, " is not accepted"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("cbor: reserved encoding at offset ", start));
  }
  const uint64_t remaining = data.size() - *pos;
  switch (major) {
    case 0:
    case 1:
    case 7:
      return absl::OkStatus();
    case 2:
    case 3:
      if (arg > remaining) {
        return absl::InvalidArgumentError(absl::StrCat("cbor: string at offset ", start, " claims ",
                                                       arg, " bytes, ", remaining, " remain"));
      }
      *pos += static_cast<size_t>(arg);
      return absl::OkStatus();
    case 4:
    case 5: {
      uint64_t items = arg;
      if (major == 5) {
        if (items > remaining / 2) {
          return absl::InvalidArgumentError(
              absl::StrCat("cbor: map at offset ", start, " claims ", arg, " pairs"));
        }
        items *= 2;
      }
      if (items > remaining) {
        return absl::InvalidArgumentError(
            absl::StrCat("cbor: array at offset ", start, " claims ", arg, " items"));
      }
      for (uint64_t i = 0; i < items; ++i) {
        absl::Status s = PreScan(data, pos, depth + 1);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case 6:
      return PreScan(data, pos, depth + 1);
  }
  return absl::InvalidArgumentError("cbor: unknown major type");
}

// Walks the item tree: no indefinite lengths, bounded depth. libcbor already checked that the
// encoded lengths fit inside the input.
absl::Status CheckShape(const cbor_item_t* item, int depth) {
  if (depth > kMaxCborDepth) return absl::InvalidArgumentError("cbor: nesting too deep");
  switch (cbor_typeof(item)) {
    case CBOR_TYPE_BYTESTRING:
      if (!cbor_bytestring_is_definite(item)) {
        return absl::InvalidArgumentError("cbor: indefinite-length byte string");
      }
      return absl::OkStatus();
    case CBOR_TYPE_STRING:
      if (!cbor_string_is_definite(item)) {
        return absl::InvalidArgumentError("cbor: indefinite-length text string");
      }
      return absl::OkStatus();
    case CBOR_TYPE_ARRAY: {
      if (!cbor_array_is_definite(item)) {
        return absl::InvalidArgumentError("cbor: indefinite-length array");
      }
      cbor_item_t** items = cbor_array_handle(item);
      for (size_t i = 0; i < cbor_array_size(item); ++i) {
        absl::Status s = CheckShape(items[i], depth + 1);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case CBOR_TYPE_MAP: {
      if (!cbor_map_is_definite(item)) {
        return absl::InvalidArgumentError("cbor: indefinite-length map");
      }
      cbor_pair* pairs = cbor_map_handle(item);
      for (size_t i = 0; i < cbor_map_size(item); ++i) {
        absl::Status s = CheckShape(pairs[i].key, depth + 1);
        if (!s.ok()) return s;
        s = CheckShape(pairs[i].value, depth + 1);
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    }
    case CBOR_TYPE_TAG: {
      CborPtr tagged(cbor_tag_item(item));  // cbor_tag_item returns a new reference
      return CheckShape(tagged.get(), depth + 1);
    }
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<CborPtr> CborParse(ByteView data) {
  if (data.empty()) return absl::InvalidArgumentError("cbor: empty input");
  if (data.size() > kMaxCborInput) {
    return absl::InvalidArgumentError(
        absl::StrCat("cbor: input of ", data.size(), " bytes exceeds ", kMaxCborInput));
  }
  size_t pos = 0;
  absl::Status scan = PreScan(data, &pos, 0);
  if (!scan.ok()) return scan;
  if (pos != data.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cbor: ", data.size() - pos, " trailing bytes after item"));
  }
  struct cbor_load_result result;
  CborPtr item(cbor_load(data.data(), data.size(), &result));
  if (item == nullptr || result.error.code != CBOR_ERR_NONE) {
    return absl::InvalidArgumentError(absl::StrCat("cbor: malformed at offset ",
                                                   result.error.position, " (code ",
                                                   static_cast<int>(result.error.code), ")"));
  }
  if (result.read != data.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cbor: ", data.size() - result.read, " trailing bytes after item"));
  }
  absl::Status shape = CheckShape(item.get(), 0);
  if (!shape.ok()) return shape;
  return item;
}

absl::StatusOr<Bytes> CborSerialize(const cbor_item_t* item) {
  unsigned char* buffer = nullptr;
  size_t buffer_size = 0;
  // libcbor 0.8 (Debian 12) has no cbor_serialized_size; serialise into its own allocation.
  size_t written = cbor_serialize_alloc(item, &buffer, &buffer_size);
  if (written == 0 || buffer == nullptr) {
    free(buffer);  // NOLINT(cppcoreguidelines-no-malloc): libcbor allocates with malloc
    return absl::InternalError("cbor: item cannot be serialised");
  }
  Bytes out(buffer, buffer + written);
  free(buffer);  // NOLINT(cppcoreguidelines-no-malloc)
  return out;
}

CborPtr CborText(std::string_view s) { return CborPtr(cbor_build_stringn(s.data(), s.size())); }
CborPtr CborByteString(ByteView b) { return CborPtr(cbor_build_bytestring(b.data(), b.size())); }
CborPtr CborUint(uint64_t v) {
  // Shortest form, as serde_cbor and the NSM emit.
  if (v <= 0xff) return CborPtr(cbor_build_uint8(static_cast<uint8_t>(v)));
  if (v <= 0xffff) return CborPtr(cbor_build_uint16(static_cast<uint16_t>(v)));
  if (v <= 0xffffffffULL) return CborPtr(cbor_build_uint32(static_cast<uint32_t>(v)));
  return CborPtr(cbor_build_uint64(v));
}
CborPtr CborNull() { return CborPtr(cbor_new_null()); }
CborPtr CborBool(bool v) { return CborPtr(cbor_build_bool(v)); }
CborPtr CborArray(size_t capacity) { return CborPtr(cbor_new_definite_array(capacity)); }
CborPtr CborMap(size_t capacity) { return CborPtr(cbor_new_definite_map(capacity)); }

void CborArrayPush(cbor_item_t* array, CborPtr value) {
  // cbor_array_push takes its own reference.
  cbor_array_push(array, value.get());
}

void CborMapAdd(cbor_item_t* map, CborPtr key, CborPtr value) {
  cbor_map_add(map, (struct cbor_pair){.key = key.get(), .value = value.get()});
}

const cbor_item_t* CborMapGet(const cbor_item_t* map, std::string_view key) {
  if (map == nullptr || !cbor_isa_map(map)) return nullptr;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    const cbor_item_t* k = pairs[i].key;
    if (cbor_isa_string(k) && cbor_string_is_definite(k) && cbor_string_length(k) == key.size() &&
        std::memcmp(cbor_string_handle(k), key.data(), key.size()) == 0) {
      return pairs[i].value;
    }
  }
  return nullptr;
}

std::optional<std::string> CborGetText(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_string(item) || !cbor_string_is_definite(item)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(item)),
                     cbor_string_length(item));
}

std::optional<Bytes> CborGetBytes(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
    return std::nullopt;
  }
  const uint8_t* p = cbor_bytestring_handle(item);
  return Bytes(p, p + cbor_bytestring_length(item));
}

std::optional<uint64_t> CborGetUint(const cbor_item_t* item) {
  if (item == nullptr || !cbor_isa_uint(item)) return std::nullopt;
  return cbor_get_int(item);
}

bool CborIsNull(const cbor_item_t* item) { return item != nullptr && cbor_is_null(item); }

absl::Status CborCheckUniqueTextKeys(const cbor_item_t* map) {
  if (map == nullptr || !cbor_isa_map(map)) return absl::InvalidArgumentError("cbor: not a map");
  std::set<std::string> seen;
  cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < cbor_map_size(map); ++i) {
    std::optional<std::string> k = CborGetText(pairs[i].key);
    if (!k) return absl::InvalidArgumentError("cbor: map key is not a text string");
    if (!seen.insert(*k).second) {
      return absl::InvalidArgumentError(absl::StrCat("cbor: duplicate map key \"", *k, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace lockout
