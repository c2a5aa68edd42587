#include "src/nsm/nsm_message.h"

#include <array>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/cbor.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::nsm {
namespace {

// Wire names, spelled as the Rust enums of aws-nitro-enclaves-nsm-api spell them.
constexpr std::string_view kDescribePcr = "DescribePCR";
constexpr std::string_view kExtendPcr = "ExtendPCR";
constexpr std::string_view kLockPcr = "LockPCR";
constexpr std::string_view kLockPcrs = "LockPCRs";
constexpr std::string_view kDescribeNsm = "DescribeNSM";
constexpr std::string_view kAttestation = "Attestation";
constexpr std::string_view kGetRandom = "GetRandom";
constexpr std::string_view kError = "Error";

constexpr std::array<std::string_view, 9> kErrorCodeNames = {
    "Success",          "InvalidArgument", "InvalidIndex",  "InvalidResponse", "ReadOnlyIndex",
    "InvalidOperation", "BufferTooSmall",  "InputTooLarge", "InternalError"};
constexpr std::array<std::string_view, 3> kDigestNames = {"SHA256", "SHA384", "SHA512"};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

absl::Status Invalid(std::string_view a, std::string_view b = "", std::string_view c = "",
                     std::string_view d = "") {
  return absl::InvalidArgumentError(absl::StrCat("nsm: ", Absl(a), Absl(b), Absl(c), Absl(d)));
}

// Names read off the wire go into error messages only when short and printable; anything else is
// described by its size (errors never carry arbitrary peer bytes).
std::string SafeName(std::string_view name) {
  bool printable = name.size() <= 32;
  for (char ch : name) {
    if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') printable = false;
  }
  if (printable) return absl::StrCat("\"", Absl(name), "\"");
  return absl::StrCat("<", name.size(), "-byte name>");
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Rust's
// String, which module_id is on the NSM side, guarantees exactly this.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xe0) == 0xc0) {
      extra = 1;
      cp = b0 & 0x1fu;
      min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
      extra = 2;
      cp = b0 & 0x0fu;
      min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
      extra = 3;
      cp = b0 & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i - 1 < extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

// ---- Decoding helpers ----

// An externally tagged enum value: a bare name (unit variant) or {name: body}.
struct Tagged {
  std::string name;
  const cbor_item_t* body = nullptr;  // null for a unit variant; owned by the parsed root
};

absl::StatusOr<Tagged> SplitVariant(const cbor_item_t* item, std::string_view kind) {
  if (std::optional<std::string> name = CborGetText(item)) return Tagged{std::move(*name), nullptr};
  if (!cbor_isa_map(item)) {
    return Invalid(kind, " is neither a variant name nor a one-entry map");
  }
  if (cbor_map_size(item) != 1) {
    return Invalid(kind, " map has ", absl::StrCat(cbor_map_size(item)), " entries, expected 1");
  }
  const cbor_pair* pair = cbor_map_handle(item);
  std::optional<std::string> name = CborGetText(pair[0].key);
  if (!name) return Invalid(kind, " variant name is not a text string");
  return Tagged{std::move(*name), pair[0].value};
}

absl::Status RequireUnit(const Tagged& t) {
  if (t.body != nullptr) return Invalid(t.name, " is a unit variant but carries a value");
  return absl::OkStatus();
}

// The fields of a struct variant: a map with unique text keys, each one of `allowed`.
class Fields {
 public:
  static absl::StatusOr<Fields> Open(const Tagged& t,
                                     std::initializer_list<std::string_view> allowed) {
    if (t.body == nullptr) return Invalid(t.name, " needs a map of fields, got a bare name");
    if (!cbor_isa_map(t.body)) return Invalid(t.name, " fields are not a map");
    if (!CborCheckUniqueTextKeys(t.body).ok()) {
      return Invalid(t.name, " fields have a duplicate or non-text key");
    }
    const cbor_pair* pairs = cbor_map_handle(t.body);
    for (size_t i = 0; i < cbor_map_size(t.body); ++i) {
      std::string key = *CborGetText(pairs[i].key);  // text: checked above
      bool known = false;
      for (std::string_view a : allowed) known = known || key == a;
      if (!known) return Invalid(t.name, " has unknown field ", SafeName(key));
    }
    return Fields(t.name, t.body);
  }

  absl::StatusOr<const cbor_item_t*> Required(std::string_view field) const {
    const cbor_item_t* item = CborMapGet(map_, field);
    if (item == nullptr) return Invalid(variant_, " is missing field ", field);
    return item;
  }

  absl::StatusOr<uint16_t> U16(std::string_view field) const {
    ASSIGN_OR_RETURN(const cbor_item_t* item, Required(field));
    std::optional<uint64_t> v = CborGetUint(item);
    if (!v) return Invalid(variant_, ".", field, " is not an unsigned integer");
    if (*v > 0xffff) return Invalid(variant_, ".", field, " does not fit in 16 bits");
    return static_cast<uint16_t>(*v);
  }

  absl::StatusOr<bool> Bool(std::string_view field) const {
    ASSIGN_OR_RETURN(const cbor_item_t* item, Required(field));
    if (!cbor_is_bool(item)) return Invalid(variant_, ".", field, " is not a boolean");
    return cbor_get_bool(item);
  }

  absl::StatusOr<Bytes> ByteString(std::string_view field, size_t max) const {
    ASSIGN_OR_RETURN(const cbor_item_t* item, Required(field));
    return ByteStringValue(item, field, max);
  }

  // Absent or null -> nullopt (serde treats a missing Option field as None).
  absl::StatusOr<std::optional<Bytes>> OptionalByteString(std::string_view field,
                                                          size_t max) const {
    const cbor_item_t* item = CborMapGet(map_, field);
    if (item == nullptr || CborIsNull(item)) return std::optional<Bytes>();
    ASSIGN_OR_RETURN(Bytes b, ByteStringValue(item, field, max));
    return std::optional<Bytes>(std::move(b));
  }

  absl::StatusOr<std::string> Utf8(std::string_view field, size_t max) const {
    ASSIGN_OR_RETURN(const cbor_item_t* item, Required(field));
    std::optional<std::string> s = CborGetText(item);
    if (!s) return Invalid(variant_, ".", field, " is not a text string");
    if (s->size() > max) {
      return Invalid(variant_, ".", field, absl::StrCat(" is ", s->size(), " bytes, limit ", max));
    }
    if (!IsValidUtf8(*s)) return Invalid(variant_, ".", field, " is not valid UTF-8");
    return std::move(*s);
  }

 private:
  Fields(std::string variant, const cbor_item_t* map) : variant_(std::move(variant)), map_(map) {}

  absl::StatusOr<Bytes> ByteStringValue(const cbor_item_t* item, std::string_view field,
                                        size_t max) const {
    if (!cbor_isa_bytestring(item)) return Invalid(variant_, ".", field, " is not a byte string");
    const size_t size = cbor_bytestring_length(item);
    if (size > max) {
      return Invalid(variant_, ".", field, absl::StrCat(" is ", size, " bytes, limit ", max));
    }
    std::optional<Bytes> b = CborGetBytes(item);
    if (!b) return Invalid(variant_, ".", field, " is not a definite byte string");
    return std::move(*b);
  }

  std::string variant_;
  const cbor_item_t* map_;
};

absl::StatusOr<std::set<uint16_t>> DecodePcrSet(const cbor_item_t* item) {
  if (!cbor_isa_array(item)) return Invalid("DescribeNSM.locked_pcrs is not an array");
  std::set<uint16_t> out;
  cbor_item_t** items = cbor_array_handle(item);
  for (size_t i = 0; i < cbor_array_size(item); ++i) {
    std::optional<uint64_t> v = CborGetUint(items[i]);
    if (!v || *v > 0xffff) {
      return Invalid("DescribeNSM.locked_pcrs[", absl::StrCat(i), "] is not a 16-bit index");
    }
    if (!out.insert(static_cast<uint16_t>(*v)).second) {
      return Invalid("DescribeNSM.locked_pcrs lists index ", absl::StrCat(*v), " twice");
    }
  }
  return out;
}

absl::StatusOr<Digest> DecodeDigest(const cbor_item_t* item) {
  std::optional<std::string> name = CborGetText(item);
  if (!name) return Invalid("DescribeNSM.digest is not a text string");
  for (size_t i = 0; i < kDigestNames.size(); ++i) {
    if (*name == kDigestNames[i]) return static_cast<Digest>(i);
  }
  return Invalid("DescribeNSM.digest ", SafeName(*name), " is unknown");
}

absl::StatusOr<ErrorCode> DecodeErrorCode(const Tagged& t) {
  if (t.body == nullptr) return Invalid("Error needs an error code, got a bare name");
  std::optional<std::string> name = CborGetText(t.body);
  if (!name) return Invalid("Error code is not a text string");
  for (size_t i = 0; i < kErrorCodeNames.size(); ++i) {
    if (*name == kErrorCodeNames[i]) return static_cast<ErrorCode>(i);
  }
  return Invalid("Error code ", SafeName(*name), " is unknown");
}

absl::StatusOr<CborPtr> ParseBounded(ByteView cbor, size_t max, std::string_view kind) {
  if (cbor.size() > max) {
    return Invalid(kind, absl::StrCat(" of ", cbor.size(), " bytes exceeds ", max));
  }
  absl::StatusOr<CborPtr> root = CborParse(cbor);
  if (!root.ok()) {
    return Invalid(kind, " is not one well-formed CBOR item: ", Std(root.status().message()));
  }
  return root;
}

// ---- Encoding helpers ----

CborPtr Variant(std::string_view name, CborPtr body) {
  CborPtr map = CborMap(1);
  CborMapAdd(map.get(), CborText(name), std::move(body));
  return map;
}

// A struct body under construction; fields are written in call order.
class Body {
 public:
  explicit Body(size_t n) : map_(CborMap(n)) {}
  Body& Add(std::string_view field, CborPtr value) {
    CborMapAdd(map_.get(), CborText(field), std::move(value));
    return *this;
  }
  CborPtr Take() { return std::move(map_); }

 private:
  CborPtr map_;
};

absl::Status CheckSize(std::string_view variant, std::string_view field, size_t size, size_t max) {
  if (size > max) {
    return Invalid(variant, ".", field, absl::StrCat(" is ", size, " bytes, limit ", max));
  }
  return absl::OkStatus();
}

CborPtr OptionalBytes(const std::optional<Bytes>& b) { return b ? CborByteString(*b) : CborNull(); }

absl::StatusOr<Bytes> SerializeBounded(CborPtr item, size_t max, std::string_view kind) {
  ASSIGN_OR_RETURN(Bytes out, CborSerialize(item.get()));
  if (out.size() > max) {
    return Invalid(kind, absl::StrCat(" would be ", out.size(), " bytes, limit ", max));
  }
  return out;
}

std::string SizeOrNone(const std::optional<Bytes>& b) {
  return b ? absl::StrCat(b->size(), "B") : std::string("None");
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  const auto i = static_cast<size_t>(code);
  return i < kErrorCodeNames.size() ? kErrorCodeNames[i] : std::string_view("<bad ErrorCode>");
}

std::string_view DigestName(Digest digest) {
  const auto i = static_cast<size_t>(digest);
  return i < kDigestNames.size() ? kDigestNames[i] : std::string_view("<bad Digest>");
}

absl::StatusOr<Bytes> EncodeRequest(const NsmRequest& request) {
  absl::StatusOr<CborPtr> item = std::visit(
      Overloaded{
          [](const DescribePcrRequest& r) -> absl::StatusOr<CborPtr> {
            return Variant(kDescribePcr, Body(1).Add("index", CborUint(r.index)).Take());
          },
          [](const ExtendPcrRequest& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(CheckSize(kExtendPcr, "data", r.data.size(), kMaxExtendDataSize));
            return Variant(
                kExtendPcr,
                Body(2).Add("index", CborUint(r.index)).Add("data", CborByteString(r.data)).Take());
          },
          [](const LockPcrRequest& r) -> absl::StatusOr<CborPtr> {
            return Variant(kLockPcr, Body(1).Add("index", CborUint(r.index)).Take());
          },
          [](const LockPcrsRequest& r) -> absl::StatusOr<CborPtr> {
            return Variant(kLockPcrs, Body(1).Add("range", CborUint(r.range)).Take());
          },
          [](const DescribeNsmRequest&) -> absl::StatusOr<CborPtr> {
            return CborText(kDescribeNsm);
          },
          [](const AttestationRequest& r) -> absl::StatusOr<CborPtr> {
            if (r.user_data) {
              RETURN_IF_ERROR(
                  CheckSize(kAttestation, "user_data", r.user_data->size(), kMaxUserDataSize));
            }
            if (r.nonce) {
              RETURN_IF_ERROR(CheckSize(kAttestation, "nonce", r.nonce->size(), kMaxNonceSize));
            }
            if (r.public_key) {
              RETURN_IF_ERROR(
                  CheckSize(kAttestation, "public_key", r.public_key->size(), kMaxPublicKeySize));
            }
            return Variant(kAttestation, Body(3)
                                             .Add("user_data", OptionalBytes(r.user_data))
                                             .Add("nonce", OptionalBytes(r.nonce))
                                             .Add("public_key", OptionalBytes(r.public_key))
                                             .Take());
          },
          [](const GetRandomRequest&) -> absl::StatusOr<CborPtr> { return CborText(kGetRandom); },
      },
      request);
  if (!item.ok()) return item.status();
  return SerializeBounded(std::move(*item), kMaxRequestSize, "request");
}

absl::StatusOr<NsmRequest> DecodeRequest(ByteView cbor) {
  ASSIGN_OR_RETURN(CborPtr root, ParseBounded(cbor, kMaxRequestSize, "request"));
  ASSIGN_OR_RETURN(Tagged t, SplitVariant(root.get(), "request"));
  if (t.name == kDescribePcr) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"index"}));
    ASSIGN_OR_RETURN(uint16_t index, f.U16("index"));
    return DescribePcrRequest{index};
  }
  if (t.name == kExtendPcr) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"index", "data"}));
    ASSIGN_OR_RETURN(uint16_t index, f.U16("index"));
    ASSIGN_OR_RETURN(Bytes data, f.ByteString("data", kMaxExtendDataSize));
    return ExtendPcrRequest{index, std::move(data)};
  }
  if (t.name == kLockPcr) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"index"}));
    ASSIGN_OR_RETURN(uint16_t index, f.U16("index"));
    return LockPcrRequest{index};
  }
  if (t.name == kLockPcrs) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"range"}));
    ASSIGN_OR_RETURN(uint16_t range, f.U16("range"));
    return LockPcrsRequest{range};
  }
  if (t.name == kDescribeNsm) {
    RETURN_IF_ERROR(RequireUnit(t));
    return DescribeNsmRequest{};
  }
  if (t.name == kAttestation) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"user_data", "nonce", "public_key"}));
    AttestationRequest r;
    ASSIGN_OR_RETURN(r.user_data, f.OptionalByteString("user_data", kMaxUserDataSize));
    ASSIGN_OR_RETURN(r.nonce, f.OptionalByteString("nonce", kMaxNonceSize));
    ASSIGN_OR_RETURN(r.public_key, f.OptionalByteString("public_key", kMaxPublicKeySize));
    return r;
  }
  if (t.name == kGetRandom) {
    RETURN_IF_ERROR(RequireUnit(t));
    return GetRandomRequest{};
  }
  return Invalid("unknown request variant ", SafeName(t.name));
}

absl::StatusOr<Bytes> EncodeResponse(const NsmResponse& response) {
  absl::StatusOr<CborPtr> item = std::visit(
      Overloaded{
          [](const DescribePcrResponse& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(CheckSize(kDescribePcr, "data", r.data.size(), kMaxPcrSize));
            return Variant(
                kDescribePcr,
                Body(2).Add("lock", CborBool(r.lock)).Add("data", CborByteString(r.data)).Take());
          },
          [](const ExtendPcrResponse& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(CheckSize(kExtendPcr, "data", r.data.size(), kMaxPcrSize));
            return Variant(kExtendPcr, Body(1).Add("data", CborByteString(r.data)).Take());
          },
          [](const LockPcrResponse&) -> absl::StatusOr<CborPtr> { return CborText(kLockPcr); },
          [](const LockPcrsResponse&) -> absl::StatusOr<CborPtr> { return CborText(kLockPcrs); },
          [](const DescribeNsmResponse& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(
                CheckSize(kDescribeNsm, "module_id", r.module_id.size(), kMaxModuleIdSize));
            if (!IsValidUtf8(r.module_id)) {
              return Invalid("DescribeNSM.module_id is not valid UTF-8");
            }
            if (DigestName(r.digest).front() == '<')
              return Invalid("DescribeNSM.digest is unknown");
            CborPtr pcrs = CborArray(r.locked_pcrs.size());
            for (uint16_t pcr : r.locked_pcrs) CborArrayPush(pcrs.get(), CborUint(pcr));
            return Variant(kDescribeNsm, Body(7)
                                             .Add("version_major", CborUint(r.version_major))
                                             .Add("version_minor", CborUint(r.version_minor))
                                             .Add("version_patch", CborUint(r.version_patch))
                                             .Add("module_id", CborText(r.module_id))
                                             .Add("max_pcrs", CborUint(r.max_pcrs))
                                             .Add("locked_pcrs", std::move(pcrs))
                                             .Add("digest", CborText(DigestName(r.digest)))
                                             .Take());
          },
          [](const AttestationResponse& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(
                CheckSize(kAttestation, "document", r.document.size(), kMaxDocumentSize));
            return Variant(kAttestation,
                           Body(1).Add("document", CborByteString(r.document)).Take());
          },
          [](const GetRandomResponse& r) -> absl::StatusOr<CborPtr> {
            RETURN_IF_ERROR(CheckSize(kGetRandom, "random", r.random.size(), kMaxRandomSize));
            return Variant(kGetRandom, Body(1).Add("random", CborByteString(r.random)).Take());
          },
          [](const ErrorResponse& r) -> absl::StatusOr<CborPtr> {
            std::string_view name = ErrorCodeName(r.code);
            if (name.front() == '<') return Invalid("Error code is unknown");
            return Variant(kError, CborText(name));
          },
      },
      response);
  if (!item.ok()) return item.status();
  return SerializeBounded(std::move(*item), kMaxResponseSize, "response");
}

absl::StatusOr<NsmResponse> DecodeResponse(ByteView cbor) {
  ASSIGN_OR_RETURN(CborPtr root, ParseBounded(cbor, kMaxResponseSize, "response"));
  ASSIGN_OR_RETURN(Tagged t, SplitVariant(root.get(), "response"));
  if (t.name == kDescribePcr) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"lock", "data"}));
    ASSIGN_OR_RETURN(bool lock, f.Bool("lock"));
    ASSIGN_OR_RETURN(Bytes data, f.ByteString("data", kMaxPcrSize));
    return DescribePcrResponse{lock, std::move(data)};
  }
  if (t.name == kExtendPcr) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"data"}));
    ASSIGN_OR_RETURN(Bytes data, f.ByteString("data", kMaxPcrSize));
    return ExtendPcrResponse{std::move(data)};
  }
  if (t.name == kLockPcr) {
    RETURN_IF_ERROR(RequireUnit(t));
    return LockPcrResponse{};
  }
  if (t.name == kLockPcrs) {
    RETURN_IF_ERROR(RequireUnit(t));
    return LockPcrsResponse{};
  }
  if (t.name == kDescribeNsm) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"version_major", "version_minor", "version_patch",
                                                "module_id", "max_pcrs", "locked_pcrs", "digest"}));
    DescribeNsmResponse r;
    ASSIGN_OR_RETURN(r.version_major, f.U16("version_major"));
    ASSIGN_OR_RETURN(r.version_minor, f.U16("version_minor"));
    ASSIGN_OR_RETURN(r.version_patch, f.U16("version_patch"));
    ASSIGN_OR_RETURN(r.module_id, f.Utf8("module_id", kMaxModuleIdSize));
    ASSIGN_OR_RETURN(r.max_pcrs, f.U16("max_pcrs"));
    ASSIGN_OR_RETURN(const cbor_item_t* pcrs, f.Required("locked_pcrs"));
    ASSIGN_OR_RETURN(r.locked_pcrs, DecodePcrSet(pcrs));
    ASSIGN_OR_RETURN(const cbor_item_t* digest, f.Required("digest"));
    ASSIGN_OR_RETURN(r.digest, DecodeDigest(digest));
    return r;
  }
  if (t.name == kAttestation) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"document"}));
    ASSIGN_OR_RETURN(Bytes document, f.ByteString("document", kMaxDocumentSize));
    return AttestationResponse{std::move(document)};
  }
  if (t.name == kGetRandom) {
    ASSIGN_OR_RETURN(Fields f, Fields::Open(t, {"random"}));
    ASSIGN_OR_RETURN(Bytes random, f.ByteString("random", kMaxRandomSize));
    return GetRandomResponse{std::move(random)};
  }
  if (t.name == kError) {
    ASSIGN_OR_RETURN(ErrorCode code, DecodeErrorCode(t));
    return ErrorResponse{code};
  }
  return Invalid("unknown response variant ", SafeName(t.name));
}

std::string_view VariantName(const NsmRequest& request) {
  return std::visit(Overloaded{
                        [](const DescribePcrRequest&) { return kDescribePcr; },
                        [](const ExtendPcrRequest&) { return kExtendPcr; },
                        [](const LockPcrRequest&) { return kLockPcr; },
                        [](const LockPcrsRequest&) { return kLockPcrs; },
                        [](const DescribeNsmRequest&) { return kDescribeNsm; },
                        [](const AttestationRequest&) { return kAttestation; },
                        [](const GetRandomRequest&) { return kGetRandom; },
                    },
                    request);
}

std::string_view VariantName(const NsmResponse& response) {
  return std::visit(Overloaded{
                        [](const DescribePcrResponse&) { return kDescribePcr; },
                        [](const ExtendPcrResponse&) { return kExtendPcr; },
                        [](const LockPcrResponse&) { return kLockPcr; },
                        [](const LockPcrsResponse&) { return kLockPcrs; },
                        [](const DescribeNsmResponse&) { return kDescribeNsm; },
                        [](const AttestationResponse&) { return kAttestation; },
                        [](const GetRandomResponse&) { return kGetRandom; },
                        [](const ErrorResponse&) { return kError; },
                    },
                    response);
}

std::string Describe(const NsmRequest& request) {
  return std::visit(
      Overloaded{
          [](const DescribePcrRequest& r) {
            return absl::StrCat("DescribePCR{index=", r.index, "}");
          },
          [](const ExtendPcrRequest& r) {
            return absl::StrCat("ExtendPCR{index=", r.index, ", data=", r.data.size(), "B}");
          },
          [](const LockPcrRequest& r) { return absl::StrCat("LockPCR{index=", r.index, "}"); },
          [](const LockPcrsRequest& r) { return absl::StrCat("LockPCRs{range=", r.range, "}"); },
          [](const DescribeNsmRequest&) { return std::string("DescribeNSM"); },
          [](const AttestationRequest& r) {
            return absl::StrCat("Attestation{user_data=", SizeOrNone(r.user_data),
                                ", nonce=", SizeOrNone(r.nonce),
                                ", public_key=", SizeOrNone(r.public_key), "}");
          },
          [](const GetRandomRequest&) { return std::string("GetRandom"); },
      },
      request);
}

std::string Describe(const NsmResponse& response) {
  return std::visit(Overloaded{
                        [](const DescribePcrResponse& r) {
                          return absl::StrCat("DescribePCR{lock=", r.lock ? "true" : "false",
                                              ", data=", r.data.size(), "B}");
                        },
                        [](const ExtendPcrResponse& r) {
                          return absl::StrCat("ExtendPCR{data=", r.data.size(), "B}");
                        },
                        [](const LockPcrResponse&) { return std::string("LockPCR"); },
                        [](const LockPcrsResponse&) { return std::string("LockPCRs"); },
                        [](const DescribeNsmResponse& r) {
                          return absl::StrCat(
                              "DescribeNSM{version=", r.version_major, ".", r.version_minor, ".",
                              r.version_patch, ", module_id=", SafeName(r.module_id),
                              ", max_pcrs=", r.max_pcrs, ", locked_pcrs=", r.locked_pcrs.size(),
                              ", digest=", Absl(DigestName(r.digest)), "}");
                        },
                        [](const AttestationResponse& r) {
                          return absl::StrCat("Attestation{document=", r.document.size(), "B}");
                        },
                        [](const GetRandomResponse& r) {
                          return absl::StrCat("GetRandom{random=", r.random.size(), "B}");
                        },
                        [](const ErrorResponse& r) {
                          return absl::StrCat("Error(", Absl(ErrorCodeName(r.code)), ")");
                        },
                    },
                    response);
}

}  // namespace lockout::nsm
