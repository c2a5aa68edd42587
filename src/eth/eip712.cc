#include "src/eth/eip712.h"

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"
#include "src/eth/address.h"
#include "src/eth/uint256.h"

namespace lockout::eth {

using crypto::Keccak256Digest;
using nlohmann::json;

namespace {

using Word = std::array<uint8_t, 32>;

constexpr std::string_view kDomainType = "EIP712Domain";
constexpr size_t kMaxIdentifier = 64;

absl::Status Error(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("eip712: ", Absl(why)));
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifier) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// Parses a decimal in [lo, hi] without leading zeros; 0 if it is not one.
size_t SmallDecimal(std::string_view s, size_t lo, size_t hi) {
  if (s.empty() || s.size() > 7 || s[0] == '0') return 0;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  return (v >= lo && v <= hi) ? v : 0;
}

enum class Atomic { kNone, kAddress, kBool, kString, kBytes, kFixedBytes, kUint, kInt };

// The atomic kind of `type` and its size (bytesN: N; uintN/intN: N bits).
Atomic AtomicKind(std::string_view type, size_t& size) {
  size = 0;
  if (type == "address") return Atomic::kAddress;
  if (type == "bool") return Atomic::kBool;
  if (type == "string") return Atomic::kString;
  if (type == "bytes") return Atomic::kBytes;
  if (type.substr(0, 5) == "bytes") {
    size = SmallDecimal(type.substr(5), 1, 32);
    return size != 0 ? Atomic::kFixedBytes : Atomic::kNone;
  }
  for (auto [prefix, kind] : {std::pair{std::string_view("uint"), Atomic::kUint},
                              std::pair{std::string_view("int"), Atomic::kInt}}) {
    if (type.substr(0, prefix.size()) == prefix) {
      size = SmallDecimal(type.substr(prefix.size()), 8, 256);
      return (size != 0 && size % 8 == 0) ? kind : Atomic::kNone;
    }
  }
  return Atomic::kNone;
}

// Atomic names, and the Solidity aliases EIP-712 does not take, are not struct names.
bool LooksAtomic(std::string_view name) {
  size_t unused;
  return AtomicKind(name, unused) != Atomic::kNone || name == "uint" || name == "int" ||
         name == "byte";
}

// Splits "T[k]" / "T[]" into "T" and k (0 for dynamic). False if `type` has no array suffix;
// `ok` false if the suffix is malformed.
bool SplitArray(std::string_view type, std::string_view& element, size_t& length, bool& ok,
                size_t max_length) {
  ok = true;
  if (type.empty() || type.back() != ']') return false;
  const size_t open = type.rfind('[');
  if (open == std::string_view::npos || open == 0) {
    ok = false;
    return true;
  }
  element = type.substr(0, open);
  const std::string_view inside = type.substr(open + 1, type.size() - open - 2);
  length = 0;
  if (!inside.empty()) {
    length = SmallDecimal(inside, 1, max_length);
    ok = length != 0;
  }
  return true;
}

Word Keccak(ByteView data) { return crypto::Keccak256(data); }

}  // namespace

// Encodes values against a TypedData's types, counting the work done.
class Eip712Encoder {
 public:
  explicit Eip712Encoder(const TypedData& data) : data_(data) {}

  absl::StatusOr<Keccak256Digest> HashStruct(std::string_view type, const json& value, int depth) {
    auto it = data_.types_.find(type);
    if (it == data_.types_.end()) return Error("struct type is not defined");
    if (depth > data_.limits_.max_depth) return Error("value nested too deeply");
    if (!value.is_object()) {
      return Error(absl::StrCat("value of struct '", Absl(type), "' is not a JSON object"));
    }
    for (const auto& [key, unused] : value.items()) {
      bool declared = false;
      for (const TypedData::Field& f : it->second) declared = declared || f.name == key;
      if (!declared) {
        return Error(absl::StrCat("value of struct '", Absl(type),
                                  "' has a member its type does not declare"));
      }
    }
    const std::string& encoded_type = data_.encoded_types_.find(type)->second;
    Bytes buffer;
    buffer.reserve(32 * (it->second.size() + 1));
    const Word type_hash = Keccak(AsBytes(encoded_type));
    buffer.insert(buffer.end(), type_hash.begin(), type_hash.end());
    for (const TypedData::Field& f : it->second) {
      auto member = value.find(f.name);
      if (member == value.end()) {
        return Error(absl::StrCat("struct '", Absl(type), "' value lacks field '", f.name, "'"));
      }
      auto word = EncodeValue(f.type, *member, type, f.name, depth + 1);
      if (!word.ok()) return word.status();
      buffer.insert(buffer.end(), word->begin(), word->end());
    }
    return Keccak(buffer);
  }

 private:
  absl::Status FieldError(std::string_view type, std::string_view field, std::string_view why) {
    return Error(
        absl::StrCat("field '", Absl(field), "' of struct '", Absl(type), "' ", Absl(why)));
  }

  absl::StatusOr<Word> EncodeValue(std::string_view field_type, const json& value,
                                   std::string_view type, std::string_view field, int depth) {
    if (++values_ > data_.limits_.max_values) return Error("too many values to encode");
    if (depth > data_.limits_.max_depth) return Error("value nested too deeply");
    std::string_view element;
    size_t length = 0;
    bool ok = true;
    if (SplitArray(field_type, element, length, ok, data_.limits_.max_array_length)) {
      if (!value.is_array()) return FieldError(type, field, "is not a JSON array");
      if (value.size() > data_.limits_.max_array_length) {
        return FieldError(type, field, "has too many elements");
      }
      if (length != 0 && value.size() != length) {
        return FieldError(type, field, "does not have its fixed number of elements");
      }
      Bytes buffer;
      buffer.reserve(32 * value.size());
      for (const json& item : value) {
        auto word = EncodeValue(element, item, type, field, depth + 1);
        if (!word.ok()) return word.status();
        buffer.insert(buffer.end(), word->begin(), word->end());
      }
      return Keccak(buffer);
    }
    size_t size = 0;
    Word word{};
    const Atomic kind = AtomicKind(field_type, size);
    switch (kind) {
      case Atomic::kNone:
        if (value.is_null()) return FieldError(type, field, "is null");
        return HashStruct(field_type, value, depth);
      case Atomic::kAddress: {
        if (!value.is_string()) return FieldError(type, field, "is not a string");
        auto address = ParseAddress(value.get_ref<const std::string&>(), field);
        if (!address.ok()) return address.status();
        std::memcpy(word.data() + 12, address->data(), 20);
        return word;
      }
      case Atomic::kBool:
        if (!value.is_boolean()) return FieldError(type, field, "is not true or false");
        word[31] = value.get<bool>() ? 1 : 0;
        return word;
      case Atomic::kString:
        if (!value.is_string()) return FieldError(type, field, "is not a string");
        return Keccak(AsBytes(value.get_ref<const std::string&>()));
      case Atomic::kBytes:
      case Atomic::kFixedBytes: {
        if (!value.is_string()) return FieldError(type, field, "is not a 0x hex string");
        const std::string& text = value.get_ref<const std::string&>();
        if (text.size() < 2 || text[0] != '0' || text[1] != 'x') {
          return FieldError(type, field, "is not a 0x hex string");
        }
        auto bytes = HexDecode(std::string_view(text).substr(2));
        if (!bytes.ok()) return FieldError(type, field, "is not an even number of hex digits");
        if (size == 0) return Keccak(*bytes);
        if (bytes->size() != size) {
          return FieldError(type, field, absl::StrCat("is not ", size, " bytes"));
        }
        std::memcpy(word.data(), bytes->data(), size);  // bytesN is left-aligned
        return word;
      }
      case Atomic::kUint:
      case Atomic::kInt: {
        auto q = ParseSignedQuantity(value, field);
        if (!q.ok()) return q.status();
        const int bits = static_cast<int>(size);
        const int magnitude_bits = BitLength(q->magnitude);
        if (kind == Atomic::kUint) {
          if (q->negative || magnitude_bits > bits) {
            return FieldError(type, field, absl::StrCat("is out of range for uint", bits));
          }
          return q->magnitude;
        }
        // intN: -2^(N-1) <= v <= 2^(N-1) - 1.
        const bool in_range = magnitude_bits <= bits - 1 ||
                              (q->negative && magnitude_bits == bits && q->magnitude == [&] {
                                Uint256 limit{};
                                limit[static_cast<size_t>(32 - bits / 8)] = 0x80;
                                return limit;
                              }());
        if (!in_range)
          return FieldError(type, field, absl::StrCat("is out of range for int", bits));
        return q->negative ? Negate(q->magnitude) : q->magnitude;
      }
    }
    return Error("unreachable");
  }

  const TypedData& data_;
  size_t values_ = 0;
};

absl::Status TypedData::ParseTypes(const json& types) {
  if (!types.is_object()) return Error("'types' is not a JSON object");
  if (types.size() > limits_.max_types) {
    return Error(absl::StrCat("more than ", limits_.max_types, " types"));
  }
  for (const auto& [name, fields] : types.items()) {
    if (!IsIdentifier(name)) return Error("a type name is not an identifier (or too long)");
    if (LooksAtomic(name)) return Error(absl::StrCat("type '", name, "' takes an atomic name"));
    if (!fields.is_array() || fields.empty()) {
      return Error(absl::StrCat("type '", name, "' is not a non-empty array of fields"));
    }
    if (fields.size() > limits_.max_fields_per_type) {
      return Error(absl::StrCat("type '", name, "' has too many fields"));
    }
    std::vector<Field> parsed;
    for (const json& f : fields) {
      if (!f.is_object() || f.size() != 2 || !f.contains("name") || !f.contains("type") ||
          !f["name"].is_string() || !f["type"].is_string()) {
        return Error(absl::StrCat("type '", name, "' has a field that is not {name, type}"));
      }
      Field field{f["name"].get<std::string>(), f["type"].get<std::string>()};
      if (!IsIdentifier(field.name)) {
        return Error(absl::StrCat("type '", name, "' has a field name that is not an identifier"));
      }
      for (const Field& earlier : parsed) {
        if (earlier.name == field.name) {
          return Error(absl::StrCat("type '", name, "' declares field '", field.name, "' twice"));
        }
      }
      parsed.push_back(std::move(field));
    }
    types_.emplace(name, std::move(parsed));
  }
  // Every field type: an atomic type or a defined struct, with at most max_array_dimensions
  // well-formed array suffixes.
  for (const auto& [name, fields] : types_) {
    for (const Field& f : fields) {
      std::string_view base = f.type;
      size_t dimensions = 0;
      std::string_view element;
      size_t length;
      bool ok;
      while (SplitArray(base, element, length, ok, limits_.max_array_length)) {
        if (!ok || ++dimensions > limits_.max_array_dimensions) {
          return Error(absl::StrCat("field '", f.name, "' of type '", name,
                                    "' has a malformed or too deep array type"));
        }
        base = element;
      }
      size_t unused;
      if (AtomicKind(base, unused) == Atomic::kNone && types_.find(base) == types_.end()) {
        return Error(absl::StrCat("field '", f.name, "' of type '", name, "' has an unknown type"));
      }
    }
  }
  // encodeType of every struct: itself, then its transitive dependencies sorted by name.
  for (const auto& [name, fields] : types_) {
    std::set<std::string_view> deps;
    std::vector<std::string_view> stack = {name};
    while (!stack.empty()) {
      const std::string_view current = stack.back();
      stack.pop_back();
      for (const Field& f : types_.find(current)->second) {
        std::string_view base = f.type;
        base = base.substr(0, base.find('['));
        if (types_.count(base) != 0 && base != name && deps.insert(base).second) {
          stack.push_back(base);
        }
      }
    }
    std::string encoded;
    auto append = [&](std::string_view type_name) {
      encoded.append(type_name);
      encoded.push_back('(');
      bool first = true;
      for (const Field& f : types_.find(type_name)->second) {
        if (!first) encoded.push_back(',');
        first = false;
        absl::StrAppend(&encoded, f.type, " ", f.name);
      }
      encoded.push_back(')');
    };
    append(name);
    for (std::string_view dep : deps) append(dep);
    encoded_types_.emplace(name, std::move(encoded));
  }
  return absl::OkStatus();
}

absl::StatusOr<TypedData> TypedData::Create(const json& j, const Eip712Limits& limits) {
  if (!j.is_object()) return Error("typed data is not a JSON object");
  for (const auto& [key, unused] : j.items()) {
    if (key != "types" && key != "primaryType" && key != "domain" && key != "message") {
      return Error("unknown top-level member (expected types, primaryType, domain, message)");
    }
  }
  for (const char* key : {"types", "primaryType", "domain", "message"}) {
    if (!j.contains(key)) return Error(absl::StrCat("'", key, "' is missing"));
  }
  TypedData data;
  data.limits_ = limits;
  if (absl::Status s = data.ParseTypes(j["types"]); !s.ok()) return s;

  auto domain_type = data.types_.find(kDomainType);
  if (domain_type == data.types_.end()) return Error("EIP712Domain is not defined in 'types'");
  static constexpr std::pair<std::string_view, std::string_view> kDomainFields[] = {
      {"name", "string"},
      {"version", "string"},
      {"chainId", "uint256"},
      {"verifyingContract", "address"},
      {"salt", "bytes32"}};
  for (const Field& f : domain_type->second) {
    bool standard = false;
    for (const auto& [name, type] : kDomainFields)
      standard = standard || (f.name == name && f.type == type);
    if (!standard) {
      return Error(absl::StrCat("EIP712Domain field '", f.name,
                                "' is not one of the EIP's (name, version, chainId, "
                                "verifyingContract, salt) with its type"));
    }
  }
  const json& primary = j["primaryType"];
  if (!primary.is_string()) return Error("'primaryType' is not a string");
  data.primary_type_ = primary.get<std::string>();
  if (data.types_.find(data.primary_type_) == data.types_.end()) {
    return Error("'primaryType' is not defined in 'types'");
  }
  if (data.primary_type_ == kDomainType) return Error("'primaryType' may not be EIP712Domain");

  auto domain = Eip712Encoder(data).HashStruct(kDomainType, j["domain"], 0);
  if (!domain.ok()) return domain.status();
  data.domain_separator_ = *domain;
  auto message = Eip712Encoder(data).HashStruct(data.primary_type_, j["message"], 0);
  if (!message.ok()) return message.status();
  data.message_hash_ = *message;
  Bytes preimage = {0x19, 0x01};
  preimage.insert(preimage.end(), data.domain_separator_.begin(), data.domain_separator_.end());
  preimage.insert(preimage.end(), data.message_hash_.begin(), data.message_hash_.end());
  data.digest_ = crypto::Keccak256(preimage);
  return data;
}

absl::StatusOr<TypedData> TypedData::Parse(std::string_view text, const Eip712Limits& limits) {
  auto j = ParseJsonStrict(text, limits.max_json_bytes, limits.max_depth + 4);
  if (!j.ok()) return Error(Std(j.status().message()));
  return Create(*j, limits);
}

absl::StatusOr<std::string> TypedData::EncodeType(std::string_view type_name) const {
  auto it = encoded_types_.find(type_name);
  if (it == encoded_types_.end()) return absl::NotFoundError("eip712: type is not defined");
  return it->second;
}

absl::StatusOr<Keccak256Digest> TypedData::TypeHash(std::string_view type_name) const {
  auto encoded = EncodeType(type_name);
  if (!encoded.ok()) return encoded.status();
  return crypto::Keccak256(AsBytes(*encoded));
}

absl::StatusOr<Keccak256Digest> TypedData::HashStruct(std::string_view type_name,
                                                      const json& value) const {
  if (types_.find(type_name) == types_.end()) {
    return absl::NotFoundError("eip712: type is not defined");
  }
  return Eip712Encoder(*this).HashStruct(type_name, value, 0);
}

}  // namespace lockout::eth
