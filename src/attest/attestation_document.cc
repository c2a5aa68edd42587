#include "src/attest/attestation_document.h"

#include <array>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/attest_error.h"
#include "src/common/cbor.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::attest {
namespace {

// Payload keys in the order the NSM writes them (serde_cbor: struct declaration order).
constexpr std::array<std::string_view, 9> kKeys = {"module_id",  "digest",      "timestamp",
                                                   "pcrs",       "certificate", "cabundle",
                                                   "public_key", "user_data",   "nonce"};
constexpr size_t kRequiredKeys = 6;  // the first six are mandatory (§3.2.2.1)

constexpr int64_t kCoseAlgEs384 = -35;  // RFC 8152 §8.1
constexpr uint64_t kCoseHeaderAlg = 1;
constexpr uint64_t kCoseSign1Tag = 18;
constexpr uint8_t kCoseSign1TagByte = 0xd2;  // major type 6, value 18
constexpr size_t kSha384Size = 48;

absl::Status Malformed(std::string_view what) {
  return AttestError(AttestFailure::kMalformed, what);
}
absl::Status BadField(std::string_view what) { return AttestError(AttestFailure::kBadField, what); }

Bytes SerializeOrDie(const CborPtr& item) {
  absl::StatusOr<Bytes> out = CborSerialize(item.get());
  if (!out.ok()) std::abort();  // only on allocation failure
  return *std::move(out);
}

// {1: -35} and nothing else. The bytes themselves are what is signed, so a non-shortest but
// equivalent encoding is harmless; we check meaning, not form.
absl::Status CheckProtectedHeader(ByteView header) {
  absl::StatusOr<CborPtr> parsed = CborParse(header);
  if (!parsed.ok()) return Malformed("protected header is not CBOR");
  const cbor_item_t* map = parsed->get();
  if (!cbor_isa_map(map) || cbor_map_size(map) != 1) {
    return Malformed("protected header is not a one-entry map");
  }
  const cbor_pair& pair = cbor_map_handle(map)[0];
  if (!cbor_isa_uint(pair.key) || cbor_get_int(pair.key) != kCoseHeaderAlg) {
    return Malformed("protected header has no alg (1) entry");
  }
  // CBOR negative integer n encodes -1 - n.
  if (!cbor_isa_negint(pair.value) ||
      cbor_get_int(pair.value) != static_cast<uint64_t>(-1 - kCoseAlgEs384)) {
    return Malformed("protected header alg is not ES384 (-35)");
  }
  return absl::OkStatus();
}

std::optional<size_t> KeyIndex(const cbor_item_t* key) {
  std::optional<std::string> text = CborGetText(key);
  if (!text) return std::nullopt;
  for (size_t i = 0; i < kKeys.size(); ++i) {
    if (kKeys[i] == *text) return i;
  }
  return std::nullopt;
}

absl::StatusOr<Bytes> RequireBytes(const cbor_item_t* item, std::string_view name) {
  std::optional<Bytes> b = CborGetBytes(item);
  if (!b) return BadField(absl::StrCat(Absl(name), " is not a byte string"));
  return *std::move(b);
}

absl::StatusOr<std::optional<Bytes>> OptionalBytes(const cbor_item_t* item, std::string_view name) {
  if (item == nullptr || CborIsNull(item)) return std::optional<Bytes>();
  ASSIGN_OR_RETURN(Bytes b, RequireBytes(item, name));
  return std::optional<Bytes>(std::move(b));
}

absl::Status ParsePcrs(const cbor_item_t* item, std::map<uint32_t, Bytes>* pcrs) {
  if (!cbor_isa_map(item)) return BadField("pcrs is not a map");
  const size_t n = cbor_map_size(item);
  if (n == 0 || n > kMaxPcrCount) {
    return BadField(absl::StrCat("pcrs has ", n, " entries, expected 1..", kMaxPcrCount));
  }
  const cbor_pair* pairs = cbor_map_handle(item);
  for (size_t i = 0; i < n; ++i) {
    if (!cbor_isa_uint(pairs[i].key)) {
      return BadField(absl::StrCat("pcrs key #", i, " is not an unsigned integer"));
    }
    const uint64_t index = cbor_get_int(pairs[i].key);
    if (index >= kPcrIndexLimit) {
      return BadField(absl::StrCat("pcrs index ", index, " is not in 0..31"));
    }
    ASSIGN_OR_RETURN(Bytes value, RequireBytes(pairs[i].value, absl::StrCat("pcr ", index)));
    if (!pcrs->emplace(static_cast<uint32_t>(index), std::move(value)).second) {
      return BadField(absl::StrCat("pcrs index ", index, " appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseCabundle(const cbor_item_t* item, std::vector<Bytes>* cabundle) {
  if (!cbor_isa_array(item)) return BadField("cabundle is not an array");
  const size_t n = cbor_array_size(item);
  if (n == 0 || n > kMaxCabundleSize) {
    return BadField(absl::StrCat("cabundle has ", n, " entries, expected 1..", kMaxCabundleSize));
  }
  cbor_item_t** items = cbor_array_handle(item);
  cabundle->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(Bytes cert, RequireBytes(items[i], absl::StrCat("cabundle[", i, "]")));
    cabundle->push_back(std::move(cert));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AttestationDocument> ParseAttestationPayload(ByteView payload) {
  absl::StatusOr<CborPtr> parsed = CborParse(payload);
  if (!parsed.ok()) {
    return BadField(absl::StrCat("payload is not CBOR (", parsed.status().message(), ")"));
  }
  const cbor_item_t* map = parsed->get();
  if (!cbor_isa_map(map)) return BadField("payload is not a map");
  const size_t n = cbor_map_size(map);
  if (n > kKeys.size()) return BadField(absl::StrCat("payload has ", n, " keys, at most 9"));

  std::array<const cbor_item_t*, kKeys.size()> values{};
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; ++i) {
    std::optional<size_t> k = KeyIndex(pairs[i].key);
    // The key's text comes from the document: name it by position, do not echo it.
    if (!k) return BadField(absl::StrCat("payload key #", i, " is not an NSM field name"));
    if (values[*k] != nullptr) {
      return BadField(absl::StrCat(Absl(kKeys[*k]), " appears twice"));
    }
    values[*k] = pairs[i].value;
  }
  for (size_t k = 0; k < kRequiredKeys; ++k) {
    if (values[k] == nullptr || CborIsNull(values[k])) {
      return BadField(absl::StrCat(Absl(kKeys[k]), " is missing"));
    }
  }

  AttestationDocument doc;
  std::optional<std::string> module_id = CborGetText(values[0]);
  if (!module_id) return BadField("module_id is not a text string");
  doc.module_id = *std::move(module_id);
  std::optional<std::string> digest = CborGetText(values[1]);
  if (!digest) return BadField("digest is not a text string");
  doc.digest = *std::move(digest);
  std::optional<uint64_t> timestamp = CborGetUint(values[2]);
  if (!timestamp) return BadField("timestamp is not an unsigned integer");
  doc.timestamp_ms = *timestamp;
  RETURN_IF_ERROR(ParsePcrs(values[3], &doc.pcrs));
  ASSIGN_OR_RETURN(doc.certificate, RequireBytes(values[4], "certificate"));
  RETURN_IF_ERROR(ParseCabundle(values[5], &doc.cabundle));
  ASSIGN_OR_RETURN(doc.public_key, OptionalBytes(values[6], "public_key"));
  ASSIGN_OR_RETURN(doc.user_data, OptionalBytes(values[7], "user_data"));
  ASSIGN_OR_RETURN(doc.nonce, OptionalBytes(values[8], "nonce"));
  RETURN_IF_ERROR(ValidateAttestationFields(doc));
  return doc;
}

namespace {

absl::Status CheckSize(std::string_view name, size_t size, size_t min, size_t max) {
  if (size < min || size > max) {
    return BadField(absl::StrCat(Absl(name), " has ", size, " bytes, expected ", min, "..", max));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAttestationFields(const AttestationDocument& doc) {
  RETURN_IF_ERROR(CheckSize("module_id", doc.module_id.size(), 1, kMaxModuleIdSize));
  if (doc.digest != "SHA384") return BadField("digest is not \"SHA384\"");
  if (doc.timestamp_ms == 0) return BadField("timestamp is 0");
  if (doc.pcrs.empty() || doc.pcrs.size() > kMaxPcrCount) {
    return BadField(
        absl::StrCat("pcrs has ", doc.pcrs.size(), " entries, expected 1..", kMaxPcrCount));
  }
  for (const auto& [index, value] : doc.pcrs) {
    if (index >= kPcrIndexLimit) {
      return BadField(absl::StrCat("pcrs index ", index, " is not in 0..31"));
    }
    if (value.size() != kSha384Size) {
      return BadField(
          absl::StrCat("pcr ", index, " has ", value.size(), " bytes, expected 48 (SHA384)"));
    }
  }
  RETURN_IF_ERROR(CheckSize("certificate", doc.certificate.size(), 1, kMaxCertSize));
  if (doc.cabundle.empty() || doc.cabundle.size() > kMaxCabundleSize) {
    return BadField(absl::StrCat("cabundle has ", doc.cabundle.size(), " entries, expected 1..",
                                 kMaxCabundleSize));
  }
  for (size_t i = 0; i < doc.cabundle.size(); ++i) {
    RETURN_IF_ERROR(
        CheckSize(absl::StrCat("cabundle[", i, "]"), doc.cabundle[i].size(), 1, kMaxCertSize));
  }
  if (doc.public_key) {
    RETURN_IF_ERROR(CheckSize("public_key", doc.public_key->size(), 1, kMaxPublicKeySize));
  }
  if (doc.user_data) {
    RETURN_IF_ERROR(CheckSize("user_data", doc.user_data->size(), 0, kMaxUserDataSize));
  }
  if (doc.nonce) RETURN_IF_ERROR(CheckSize("nonce", doc.nonce->size(), 0, kMaxNonceSize));
  return absl::OkStatus();
}

absl::StatusOr<AttestationDocument> ParseAttestationDocument(ByteView data) {
  if (data.size() > kMaxDocumentSize) {
    return Malformed(
        absl::StrCat("document has ", data.size(), " bytes, at most ", kMaxDocumentSize));
  }
  // Tag 18 in its one-byte form (0xd2) is stripped here: libcbor 0.8 rejects tags 6..20 as
  // "unassigned". The two-byte form (d8 12) reaches libcbor and is unwrapped below.
  ByteView body = data;
  if (!body.empty() && body[0] == kCoseSign1TagByte) body = body.subspan(1);
  absl::StatusOr<CborPtr> parsed = CborParse(body);
  if (!parsed.ok()) {
    return Malformed(absl::StrCat("not CBOR (", parsed.status().message(), ")"));
  }
  const cbor_item_t* top = parsed->get();
  CborPtr untagged;  // cbor_tag_item returns a new reference
  if (cbor_isa_tag(top)) {
    if (cbor_tag_value(top) != kCoseSign1Tag) return Malformed("tag is not COSE_Sign1 (18)");
    untagged.reset(cbor_tag_item(top));
    top = untagged.get();
  }
  if (!cbor_isa_array(top) || cbor_array_size(top) != 4) {
    return Malformed("not a COSE_Sign1 array of 4");
  }
  cbor_item_t** parts = cbor_array_handle(top);
  std::optional<Bytes> protected_header = CborGetBytes(parts[0]);
  if (!protected_header) return Malformed("protected header is not a byte string");
  RETURN_IF_ERROR(CheckProtectedHeader(*protected_header));
  if (!cbor_isa_map(parts[1]) || cbor_map_size(parts[1]) != 0) {
    return Malformed("unprotected header is not an empty map");
  }
  if (!cbor_isa_bytestring(parts[2])) return Malformed("payload is not a byte string");
  const size_t payload_size = cbor_bytestring_length(parts[2]);
  if (payload_size == 0 || payload_size > kMaxPayloadSize) {
    return Malformed(
        absl::StrCat("payload has ", payload_size, " bytes, expected 1..", kMaxPayloadSize));
  }
  if (!cbor_isa_bytestring(parts[3]) || cbor_bytestring_length(parts[3]) != kSignatureSize) {
    return Malformed("signature is not a 96-byte string (ES384 r || s)");
  }
  std::optional<Bytes> payload = CborGetBytes(parts[2]);
  std::optional<Bytes> signature = CborGetBytes(parts[3]);
  if (!payload || !signature) return Malformed("indefinite-length payload or signature");

  ASSIGN_OR_RETURN(AttestationDocument doc, ParseAttestationPayload(*payload));
  doc.cose.protected_header = *std::move(protected_header);
  doc.cose.payload = *std::move(payload);
  doc.cose.signature = *std::move(signature);
  return doc;
}

Bytes EncodeAttestationPayload(const AttestationDocument& doc) {
  auto optional = [](const std::optional<Bytes>& b) { return b ? CborByteString(*b) : CborNull(); };
  CborPtr pcrs = CborMap(doc.pcrs.size());
  for (const auto& [index, value] : doc.pcrs) {
    CborMapAdd(pcrs.get(), CborUint(index), CborByteString(value));
  }
  CborPtr cabundle = CborArray(doc.cabundle.size());
  for (const Bytes& cert : doc.cabundle) CborArrayPush(cabundle.get(), CborByteString(cert));

  CborPtr map = CborMap(kKeys.size());
  CborMapAdd(map.get(), CborText(kKeys[0]), CborText(doc.module_id));
  CborMapAdd(map.get(), CborText(kKeys[1]), CborText(doc.digest));
  CborMapAdd(map.get(), CborText(kKeys[2]), CborUint(doc.timestamp_ms));
  CborMapAdd(map.get(), CborText(kKeys[3]), std::move(pcrs));
  CborMapAdd(map.get(), CborText(kKeys[4]), CborByteString(doc.certificate));
  CborMapAdd(map.get(), CborText(kKeys[5]), std::move(cabundle));
  CborMapAdd(map.get(), CborText(kKeys[6]), optional(doc.public_key));
  CborMapAdd(map.get(), CborText(kKeys[7]), optional(doc.user_data));
  CborMapAdd(map.get(), CborText(kKeys[8]), optional(doc.nonce));
  return SerializeOrDie(map);
}

Bytes EncodeCoseSign1(const CoseSign1& cose) {
  CborPtr array = CborArray(4);
  CborArrayPush(array.get(), CborByteString(cose.protected_header));
  CborArrayPush(array.get(), CborMap(0));
  CborArrayPush(array.get(), CborByteString(cose.payload));
  CborArrayPush(array.get(), CborByteString(cose.signature));
  return SerializeOrDie(array);
}

Bytes EncodeSigStructure(ByteView protected_header, ByteView payload) {
  CborPtr array = CborArray(4);
  CborArrayPush(array.get(), CborText("Signature1"));
  CborArrayPush(array.get(), CborByteString(protected_header));
  CborArrayPush(array.get(), CborByteString(ByteView()));
  CborArrayPush(array.get(), CborByteString(payload));
  return SerializeOrDie(array);
}

Bytes Es384ProtectedHeader() { return Bytes{0xa1, 0x01, 0x38, 0x22}; }

}  // namespace lockout::attest
