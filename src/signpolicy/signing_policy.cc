#include "src/signpolicy/signing_policy.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/bytes.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/eth/address.h"
#include "src/eth/uint256.h"
#include "src/signer/signer.h"

namespace lockout::signpolicy {
namespace {

using json = nlohmann::json;

// Why a hand-checked schema rather than a generic validator: the document is sealed into PCR16,
// so what it means must be exactly one thing. Every member is named here; anything else is an
// error rather than ignored (an ignored field an operator believed in is a silent hole), and the
// canonical encoding below writes back exactly the fields read.

constexpr std::string_view kTopFields[] = {"version",
                                           "clients",
                                           "replay_window_seconds",
                                           "max_request_bytes",
                                           "max_nonces",
                                           "allow_unauthenticated_v1",
                                           "key",
                                           "wallet"};
constexpr std::string_view kWalletFields[] = {"chain_ids", "recipients",     "max_value_wei",
                                              "methods",   "eip712_domains", "allow_personal_sign"};
constexpr std::string_view kDomainFields[] = {"name", "version", "chainId", "verifyingContract"};
constexpr std::string_view kClientFields[] = {"name", "algorithm", "public_key", "ops", "keys"};
// kClientFields are required; "paths" is optional.
constexpr std::string_view kClientKnownFields[] = {"name", "algorithm", "public_key",
                                                   "ops",  "keys",      "paths"};
constexpr std::string_view kKeyPinFields[] = {"public_key_sha256", "eth_address"};
constexpr size_t kSha256Bytes = 32;

constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kP256UncompressedBytes = 65;

absl::Status Bad(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("signing policy: ", Absl(field), ": ", Absl(what)));
}

std::string_view TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "a number";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

absl::Status WrongType(std::string_view field, std::string_view want, const json& got) {
  return Bad(field, absl::StrCat("must be ", Absl(want), ", not ", Absl(TypeName(got))));
}

// Refuses members outside `known`, naming the first (by its position: a name from the document
// could be anything, so it is echoed only when short and of the safe alphabet).
template <size_t N>
absl::Status OnlyKnownMembers(const json& object, const std::string_view (&known)[N],
                              std::string_view where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& name = it.key();
    if (std::find(std::begin(known), std::end(known), name) != std::end(known)) continue;
    const bool printable = name.size() <= 40 && std::all_of(name.begin(), name.end(), [](char c) {
                             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9') || c == '_' || c == '-';
                           });
    return Bad(where, printable ? absl::StrCat("unknown field \"", name, "\"")
                                : absl::StrCat("unknown field (", name.size(), " chars)"));
  }
  return absl::OkStatus();
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// AWS Secrets Manager's secret-name alphabet: letters, digits and /_+=.@-. None of them needs a
// JSON escape, which keeps the canonical encoding free of escaping rules.
bool IsKeyNameChar(char c) { return IsNameChar(c) || c == '/' || c == '+' || c == '=' || c == '@'; }

// A non-negative JSON integer (not a float such as 300.0, not a string, not a boolean) within
// [min, max].
absl::StatusOr<uint64_t> BoundedInteger(const json& v, std::string_view field, uint64_t min,
                                        uint64_t max) {
  if (v.is_number_unsigned()) {
    const uint64_t n = v.get<uint64_t>();
    if (n < min || n > max) {
      return Bad(field, absl::StrCat("must be between ", min, " and ", max, ", not ", n));
    }
    return n;
  }
  if (v.is_number_integer()) {  // negative (nlohmann keeps non-negative integers unsigned)
    return Bad(field, absl::StrCat("must be between ", min, " and ", max, ", not negative"));
  }
  if (v.is_number_float()) return Bad(field, "must be an integer (no fraction or exponent)");
  return WrongType(field, "an integer", v);
}

absl::StatusOr<std::string> String(const json& v, std::string_view field) {
  if (!v.is_string()) return WrongType(field, "a string", v);
  return v.get<std::string>();
}

// A non-empty array of strings of at most `max_entries`, each passing `check`, none repeated;
// returned sorted.
template <typename Check>
absl::StatusOr<std::vector<std::string>> SortedUniqueStrings(const json& v, std::string_view field,
                                                             size_t max_entries, Check check) {
  if (!v.is_array()) return WrongType(field, "an array of strings", v);
  if (v.empty()) return Bad(field, "must not be empty");
  if (v.size() > max_entries) {
    return Bad(field, absl::StrCat(v.size(), " entries exceeds the limit of ", max_entries));
  }
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = absl::StrCat(Absl(field), "[", i, "]");
    ASSIGN_OR_RETURN(std::string entry, String(v[i], where));
    RETURN_IF_ERROR(check(entry, where));
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return Bad(field, "lists an entry twice");
  }
  return out;
}

absl::Status CheckP256Point(const std::string& raw, std::string_view field) {
  using GroupPtr = std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)>;
  using PointPtr = std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)>;
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), &EC_GROUP_free);
  if (group == nullptr) return absl::InternalError("signing policy: P-256 unavailable");
  PointPtr point(EC_POINT_new(group.get()), &EC_POINT_free);
  if (point == nullptr) return absl::InternalError("signing policy: out of memory");
  // EC_POINT_oct2point checks that the coordinates are below the field prime and that the point
  // is on the curve (SEC 1 v2 §2.3.4); P-256 has cofactor 1, so every curve point other than
  // infinity (which has no 65-byte form) is in the prime-order group.
  const int ok =
      EC_POINT_oct2point(group.get(), point.get(), reinterpret_cast<const uint8_t*>(raw.data()),
                         raw.size(), /*ctx=*/nullptr);
  ERR_clear_error();
  if (ok != 1 || EC_POINT_is_at_infinity(group.get(), point.get()) == 1) {
    return Bad(field, "is not a point on P-256");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PublicKey(const json& v, ClientKeyAlgorithm algorithm,
                                      std::string_view field) {
  ASSIGN_OR_RETURN(std::string hex, String(v, field));
  absl::StatusOr<Bytes> raw = HexDecode(hex);
  if (!raw.ok()) return Bad(field, absl::StrCat("not hex: ", raw.status().message()));
  std::string key(raw->begin(), raw->end());
  if (algorithm == ClientKeyAlgorithm::kEd25519) {
    if (key.size() != kEd25519KeyBytes) {
      return Bad(field, absl::StrCat("an ed25519 key is 32 bytes, not ", key.size()));
    }
    return key;
  }
  if (key.size() != kP256UncompressedBytes || key[0] != 0x04) {
    return Bad(field, absl::StrCat("an ecdsa-p256 key is 65 bytes, 04 || X || Y (uncompressed); "
                                   "got ",
                                   key.size(), " bytes"));
  }
  RETURN_IF_ERROR(CheckP256Point(key, field));
  return key;
}

absl::StatusOr<AuthorizedClient> ParseClient(const json& v, size_t index) {
  const std::string where = absl::StrCat("clients[", index, "]");
  if (!v.is_object()) return WrongType(where, "an object", v);
  RETURN_IF_ERROR(OnlyKnownMembers(v, kClientKnownFields, where));
  for (std::string_view required : kClientFields) {
    if (!v.contains(std::string(required))) {
      return Bad(absl::StrCat(where, ".", Absl(required)), "is required");
    }
  }
  AuthorizedClient client;
  const std::string name_field = absl::StrCat(where, ".name");
  ASSIGN_OR_RETURN(client.name, String(v["name"], name_field));
  if (!IsValidClientName(client.name)) {
    return Bad(name_field, "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
  const std::string algorithm_field = absl::StrCat(where, ".algorithm");
  ASSIGN_OR_RETURN(std::string algorithm, String(v["algorithm"], algorithm_field));
  if (algorithm == AlgorithmName(ClientKeyAlgorithm::kEd25519)) {
    client.algorithm = ClientKeyAlgorithm::kEd25519;
  } else if (algorithm == AlgorithmName(ClientKeyAlgorithm::kEcdsaP256)) {
    client.algorithm = ClientKeyAlgorithm::kEcdsaP256;
  } else {
    return Bad(algorithm_field, "must be \"ed25519\" or \"ecdsa-p256\"");
  }
  ASSIGN_OR_RETURN(client.public_key, PublicKey(v["public_key"], client.algorithm,
                                                absl::StrCat(where, ".public_key")));
  ASSIGN_OR_RETURN(
      client.ops,
      SortedUniqueStrings(
          v["ops"], absl::StrCat(where, ".ops"), kKnownOps.size(),
          [](const std::string& op, const std::string& at) -> absl::Status {
            if (std::find(kKnownOps.begin(), kKnownOps.end(), op) == kKnownOps.end()) {
              return Bad(at, "unknown op (known: attest, generate_key, health, public_key, sign)");
            }
            return absl::OkStatus();
          }));
  ASSIGN_OR_RETURN(
      client.keys,
      SortedUniqueStrings(v["keys"], absl::StrCat(where, ".keys"), kMaxKeysPerClient,
                          [](const std::string& key, const std::string& at) -> absl::Status {
                            if (key == kAnyKey) return absl::OkStatus();
                            if (key.empty() || key.size() > kMaxKeyNameChars ||
                                !std::all_of(key.begin(), key.end(), IsKeyNameChar)) {
                              return Bad(at,
                                         "a key name is \"*\" or 1 to 512 characters of "
                                         "A-Z a-z 0-9 / _ + = . @ -");
                            }
                            return absl::OkStatus();
                          }));
  if (client.keys.size() > 1 &&
      std::find(client.keys.begin(), client.keys.end(), kAnyKey) != client.keys.end()) {
    return Bad(absl::StrCat(where, ".keys"), "\"*\" must be the only entry");
  }
  if (auto it = v.find("paths"); it != v.end()) {
    const std::string field = absl::StrCat(where, ".paths");
    if (!it->is_array()) return WrongType(field, "an array of strings", *it);
    if (it->empty()) return Bad(field, "must not be empty (omit it to allow every path)");
    if (it->size() > kMaxPathsPerClient) {
      return Bad(field,
                 absl::StrCat(it->size(), " entries exceeds the limit of ", kMaxPathsPerClient));
    }
    std::vector<std::pair<std::string, hd::PathPattern>> parsed;
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string at = absl::StrCat(field, "[", i, "]");
      ASSIGN_OR_RETURN(std::string text, String((*it)[i], at));
      if (text.size() > kMaxPathPatternChars) {
        return Bad(at, absl::StrCat("longer than ", kMaxPathPatternChars, " characters"));
      }
      absl::StatusOr<hd::PathPattern> pattern = hd::PathPattern::Parse(text);
      if (!pattern.ok()) return Bad(at, std::string(pattern.status().message()));
      parsed.emplace_back(pattern->ToString(), *std::move(pattern));
    }
    std::sort(parsed.begin(), parsed.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 1; i < parsed.size(); ++i) {
      if (parsed[i].first == parsed[i - 1].first) return Bad(field, "lists a path twice");
    }
    client.paths.emplace();
    for (auto& [text, pattern] : parsed) {
      client.paths->push_back(std::move(text));
      client.path_patterns.push_back(std::move(pattern));
    }
  }
  return client;
}

// "key": exactly one of the two pin forms. The address goes through eth::ParseAddress, the one
// parser of addresses (it refuses mixed case that is not the EIP-55 checksum: a mistyped pin would
// otherwise lock the enclave out of its own key, or worse, pin a key nobody holds).
absl::StatusOr<KeyPin> ParseKeyPin(const json& v) {
  if (!v.is_object()) return WrongType("key", "an object", v);
  RETURN_IF_ERROR(OnlyKnownMembers(v, kKeyPinFields, "key"));
  if (v.size() != 1) {
    return Bad("key", "must hold exactly one of \"public_key_sha256\" or \"eth_address\"");
  }
  KeyPin pin;
  if (v.contains("public_key_sha256")) {
    constexpr std::string_view kField = "key.public_key_sha256";
    ASSIGN_OR_RETURN(std::string hex, String(v["public_key_sha256"], kField));
    absl::StatusOr<Bytes> raw = HexDecode(hex);
    if (!raw.ok()) return Bad(kField, absl::StrCat("not hex: ", raw.status().message()));
    if (raw->size() != kSha256Bytes) {
      return Bad(kField, absl::StrCat("a SHA-256 is 32 bytes (64 hex digits), not ", raw->size()));
    }
    pin.kind = KeyPinKind::kPublicKeySha256;
    pin.value = *std::move(raw);
    return pin;
  }
  constexpr std::string_view kField = "key.eth_address";
  ASSIGN_OR_RETURN(std::string text, String(v["eth_address"], kField));
  absl::StatusOr<eth::Address> address = eth::ParseAddress(text, kField);
  if (!address.ok()) {
    const std::string_view message = Std(address.status().message());
    constexpr std::string_view kWhy = "is not an address: ";
    const size_t at = message.find(kWhy);
    return Bad(kField, at == std::string_view::npos ? std::string("is not an address")
                                                    : std::string(message.substr(at)));
  }
  pin.kind = KeyPinKind::kEthAddress;
  pin.value.assign(address->begin(), address->end());
  return pin;
}

using AddressBytes = std::array<uint8_t, 20>;
using SelectorBytes = std::array<uint8_t, 4>;

// An address through eth::ParseAddress (EIP-55 checked), the message without the text.
absl::StatusOr<std::array<uint8_t, 20>> WalletAddress(const json& v, std::string_view field) {
  ASSIGN_OR_RETURN(std::string text, String(v, field));
  absl::StatusOr<eth::Address> address = eth::ParseAddress(text, field);
  if (!address.ok()) {
    const std::string_view message = Std(address.status().message());
    constexpr std::string_view kWhy = "is not an address: ";
    const size_t at = message.find(kWhy);
    return Bad(field, at == std::string_view::npos ? std::string("is not an address")
                                                   : std::string(message.substr(at)));
  }
  return *address;
}

// A non-empty array of at most `max_entries` values, each parsed by `parse`; sorted, unique.
template <typename T, typename Parse>
absl::StatusOr<std::vector<T>> SortedUniqueList(const json& v, std::string_view field,
                                                size_t max_entries, Parse parse) {
  if (!v.is_array()) return WrongType(field, "an array", v);
  if (v.empty()) return Bad(field, "must not be empty");
  if (v.size() > max_entries) {
    return Bad(field, absl::StrCat(v.size(), " entries exceeds the limit of ", max_entries));
  }
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    ASSIGN_OR_RETURN(T entry, parse(v[i], absl::StrCat(Absl(field), "[", i, "]")));
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return Bad(field, "lists an entry twice");
  }
  return out;
}

bool IsDomainTextChar(char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; }

absl::StatusOr<std::string> DomainText(const json& v, std::string_view field) {
  ASSIGN_OR_RETURN(std::string text, String(v, field));
  if (text.empty() || text.size() > kMaxWalletDomainTextChars ||
      !std::all_of(text.begin(), text.end(), IsDomainTextChar)) {
    return Bad(field, "must be 1 to 128 printable ASCII characters without '\"' and '\\'");
  }
  return text;
}

std::string DomainRuleJson(const Eip712DomainRule& rule) {
  std::string out = "{";
  auto sep = [&out] { return out.size() == 1 ? "" : ","; };
  if (rule.name.has_value()) absl::StrAppend(&out, sep(), "\"name\":\"", *rule.name, "\"");
  if (rule.version.has_value()) {
    absl::StrAppend(&out, sep(), "\"version\":\"", *rule.version, "\"");
  }
  if (rule.chain_id.has_value()) absl::StrAppend(&out, sep(), "\"chainId\":", *rule.chain_id);
  if (rule.verifying_contract.has_value()) {
    absl::StrAppend(&out, sep(), "\"verifyingContract\":\"0x",
                    HexEncode(ByteView(rule.verifying_contract->data(), 20)), "\"");
  }
  out += "}";
  return out;
}

absl::StatusOr<Eip712DomainRule> ParseDomainRule(const json& v, const std::string& where) {
  if (!v.is_object()) return WrongType(where, "an object", v);
  RETURN_IF_ERROR(OnlyKnownMembers(v, kDomainFields, where));
  if (v.empty()) {
    return Bad(where, "must set at least one of name, version, chainId, verifyingContract");
  }
  Eip712DomainRule rule;
  if (v.contains("name")) {
    ASSIGN_OR_RETURN(rule.name, DomainText(v["name"], absl::StrCat(where, ".name")));
  }
  if (v.contains("version")) {
    ASSIGN_OR_RETURN(rule.version, DomainText(v["version"], absl::StrCat(where, ".version")));
  }
  if (v.contains("chainId")) {
    ASSIGN_OR_RETURN(rule.chain_id,
                     BoundedInteger(v["chainId"], absl::StrCat(where, ".chainId"), 1, UINT64_MAX));
  }
  if (v.contains("verifyingContract")) {
    ASSIGN_OR_RETURN(
        rule.verifying_contract,
        WalletAddress(v["verifyingContract"], absl::StrCat(where, ".verifyingContract")));
  }
  return rule;
}

// "wallet": every member optional, but the section must restrict something (an empty section would
// seal a different PCR16 than no section while meaning the same).
absl::StatusOr<WalletRules> ParseWallet(const json& v) {
  if (!v.is_object()) return WrongType("wallet", "an object", v);
  RETURN_IF_ERROR(OnlyKnownMembers(v, kWalletFields, "wallet"));
  WalletRules wallet;
  if (v.contains("chain_ids")) {
    ASSIGN_OR_RETURN(wallet.chain_ids, SortedUniqueList<uint64_t>(
                                           v["chain_ids"], "wallet.chain_ids", kMaxWalletChainIds,
                                           [](const json& e, const std::string& at) {
                                             return BoundedInteger(e, at, 1, UINT64_MAX);
                                           }));
  }
  if (v.contains("recipients")) {
    ASSIGN_OR_RETURN(
        wallet.recipients,
        SortedUniqueList<AddressBytes>(
            v["recipients"], "wallet.recipients", kMaxWalletRecipients,
            [](const json& e, const std::string& at) { return WalletAddress(e, at); }));
  }
  if (v.contains("max_value_wei")) {
    constexpr std::string_view kField = "wallet.max_value_wei";
    ASSIGN_OR_RETURN(std::string text, String(v["max_value_wei"], kField));
    // Decimal only (no "0x", no sign, no leading zero): ParseQuantity then checks the range.
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Bad(kField, "must be a string of decimal digits");
    }
    absl::StatusOr<eth::Uint256> value = eth::ParseQuantity(json(text), kField);
    if (!value.ok()) {
      return Bad(kField, "must be a decimal integer 0..2^256-1 without leading zeros");
    }
    wallet.max_value_wei = *value;
    wallet.max_value_wei_decimal = text;
  }
  if (v.contains("methods")) {
    ASSIGN_OR_RETURN(
        wallet.methods,
        SortedUniqueList<SelectorBytes>(
            v["methods"], "wallet.methods", kMaxWalletMethods,
            [](const json& e, const std::string& at) -> absl::StatusOr<std::array<uint8_t, 4>> {
              ASSIGN_OR_RETURN(std::string text, String(e, at));
              if (text.size() != 10 || text[0] != '0' || text[1] != 'x') {
                return Bad(at, "a selector is \"0x\" + 8 hex digits");
              }
              absl::StatusOr<Bytes> raw = HexDecode(std::string_view(text).substr(2));
              if (!raw.ok() || raw->size() != 4) {
                return Bad(at, "a selector is \"0x\" + 8 hex digits");
              }
              std::array<uint8_t, 4> selector;
              std::copy(raw->begin(), raw->end(), selector.begin());
              return selector;
            }));
  }
  if (v.contains("eip712_domains")) {
    const json& domains = v["eip712_domains"];
    constexpr std::string_view kField = "wallet.eip712_domains";
    if (!domains.is_array()) return WrongType(kField, "an array", domains);
    if (domains.empty()) return Bad(kField, "must not be empty");
    if (domains.size() > kMaxWalletDomains) {
      return Bad(kField,
                 absl::StrCat(domains.size(), " entries exceeds the limit of ", kMaxWalletDomains));
    }
    std::vector<std::pair<std::string, Eip712DomainRule>> keyed;
    for (size_t i = 0; i < domains.size(); ++i) {
      ASSIGN_OR_RETURN(Eip712DomainRule rule,
                       ParseDomainRule(domains[i], absl::StrCat(Absl(kField), "[", i, "]")));
      keyed.emplace_back(DomainRuleJson(rule), std::move(rule));
    }
    std::sort(keyed.begin(), keyed.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<Eip712DomainRule> rules;
    for (size_t i = 0; i < keyed.size(); ++i) {
      if (i > 0 && keyed[i].first == keyed[i - 1].first) {
        return Bad(kField, "lists an entry twice");
      }
      rules.push_back(std::move(keyed[i].second));
    }
    wallet.eip712_domains = std::move(rules);
  }
  if (v.contains("allow_personal_sign")) {
    const json& b = v["allow_personal_sign"];
    if (!b.is_boolean()) return WrongType("wallet.allow_personal_sign", "true or false", b);
    wallet.allow_personal_sign = b.get<bool>();
  }
  if (!wallet.chain_ids && !wallet.recipients && !wallet.max_value_wei && !wallet.methods &&
      !wallet.eip712_domains && wallet.allow_personal_sign) {
    return Bad("wallet", "restricts nothing (set a rule, or leave \"wallet\" out)");
  }
  return wallet;
}

std::string_view KeyPinFieldName(KeyPinKind kind) {
  return kind == KeyPinKind::kEthAddress ? "eth_address" : "public_key_sha256";
}

// The pin value as written in the canonical encoding: lower-case hex, the address with "0x".
std::string KeyPinValueText(const KeyPin& pin) {
  return pin.kind == KeyPinKind::kEthAddress ? "0x" + HexEncode(pin.value) : HexEncode(pin.value);
}

}  // namespace

std::string WalletRulesJson(const WalletRules& wallet) {
  std::string out = "{";
  if (wallet.chain_ids.has_value()) {
    out += "\"chain_ids\":[";
    for (size_t i = 0; i < wallet.chain_ids->size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", (*wallet.chain_ids)[i]);
    }
    out += "],";
  }
  if (wallet.recipients.has_value()) {
    out += "\"recipients\":[";
    for (size_t i = 0; i < wallet.recipients->size(); ++i) {
      const auto& a = (*wallet.recipients)[i];
      absl::StrAppend(&out, i == 0 ? "" : ",", "\"0x", HexEncode(ByteView(a.data(), a.size())),
                      "\"");
    }
    out += "],";
  }
  if (wallet.max_value_wei.has_value()) {
    absl::StrAppend(&out, "\"max_value_wei\":\"", wallet.max_value_wei_decimal, "\",");
  }
  if (wallet.methods.has_value()) {
    out += "\"methods\":[";
    for (size_t i = 0; i < wallet.methods->size(); ++i) {
      const auto& m = (*wallet.methods)[i];
      absl::StrAppend(&out, i == 0 ? "" : ",", "\"0x", HexEncode(ByteView(m.data(), m.size())),
                      "\"");
    }
    out += "],";
  }
  if (wallet.eip712_domains.has_value()) {
    out += "\"eip712_domains\":[";
    for (size_t i = 0; i < wallet.eip712_domains->size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", DomainRuleJson((*wallet.eip712_domains)[i]));
    }
    out += "],";
  }
  absl::StrAppend(&out, "\"allow_personal_sign\":", wallet.allow_personal_sign ? "true" : "false",
                  "}");
  return out;
}

std::string KeyPinJson(const KeyPin& pin) {
  return absl::StrCat("{\"", Absl(KeyPinFieldName(pin.kind)), "\":\"", KeyPinValueText(pin), "\"}");
}

std::string DescribeKeyPin(const KeyPin& pin) {
  if (pin.kind == KeyPinKind::kEthAddress && pin.value.size() == std::tuple_size_v<eth::Address>) {
    eth::Address address;
    std::copy(pin.value.begin(), pin.value.end(), address.begin());
    return absl::StrCat("eth_address ", eth::ChecksumAddress(address));
  }
  return absl::StrCat(Absl(KeyPinFieldName(pin.kind)), " ", KeyPinValueText(pin));
}

absl::StatusOr<KeyPin> PinOfKey(const signer::Signer& key, KeyPinKind kind) {
  KeyPin pin;
  pin.kind = kind;
  if (kind == KeyPinKind::kPublicKeySha256) {
    const crypto::Sha256Digest digest = crypto::Sha256(key.public_key_der());
    pin.value.assign(digest.begin(), digest.end());
    return pin;
  }
  if (key.key_type() != signer::KeyType::kSecp256k1) {
    return absl::InvalidArgumentError(absl::StrCat("an eth_address pin needs a secp256k1 key, not ",
                                                   Absl(signer::KeyTypeName(key.key_type()))));
  }
  ASSIGN_OR_RETURN(eth::Address address, eth::EthereumAddress(key.public_key_raw()));
  pin.value.assign(address.begin(), address.end());
  return pin;
}

absl::Status CheckKeyPin(const KeyPin& pin, const signer::Signer& key) {
  // Compare like with like: an address pin against a secp256k1 key's address; anything else by
  // the SPKI fingerprint (which also names the key in the message when the types differ).
  const bool by_address =
      pin.kind == KeyPinKind::kEthAddress && key.key_type() == signer::KeyType::kSecp256k1;
  ASSIGN_OR_RETURN(KeyPin actual, PinOfKey(key, by_address ? KeyPinKind::kEthAddress
                                                           : KeyPinKind::kPublicKeySha256));
  if (actual == pin) return absl::OkStatus();
  std::string what = DescribeKeyPin(actual);
  if (pin.kind == KeyPinKind::kEthAddress && !by_address) {
    what = absl::StrCat("a ", Absl(signer::KeyTypeName(key.key_type())), " key with ", what);
  }
  return absl::FailedPreconditionError(
      absl::StrCat("key does not match the policy's pin: the policy pins ", DescribeKeyPin(pin),
                   ", the key has ", what));
}

bool IsValidClientName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxClientNameChars &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

std::string_view AlgorithmName(ClientKeyAlgorithm algorithm) {
  return algorithm == ClientKeyAlgorithm::kEd25519 ? "ed25519" : "ecdsa-p256";
}

bool AuthorizedClient::AllowsOp(std::string_view op) const {
  return std::binary_search(ops.begin(), ops.end(), op);
}

bool AuthorizedClient::AllowsPath(const hd::DerivationPath& path) const {
  if (!paths.has_value()) return true;
  return std::any_of(path_patterns.begin(), path_patterns.end(),
                     [&path](const hd::PathPattern& p) { return p.Matches(path); });
}

bool AuthorizedClient::AllowsKey(std::string_view key) const {
  if (keys.size() == 1 && keys[0] == kAnyKey) return true;
  return std::binary_search(keys.begin(), keys.end(), key);
}

const AuthorizedClient* SigningPolicy::Find(std::string_view name) const {
  auto it = std::lower_bound(
      clients.begin(), clients.end(), name,
      [](const AuthorizedClient& c, std::string_view n) { return std::string_view(c.name) < n; });
  if (it == clients.end() || it->name != name) return nullptr;
  return &*it;
}

absl::StatusOr<SigningPolicy> ParseSigningPolicy(std::string_view text) {
  absl::StatusOr<json> parsed = ParseJsonStrict(text, kMaxPolicyBytes, /*max_depth=*/8);
  if (!parsed.ok()) return Bad("document", Std(parsed.status().message()));
  const json& doc = *parsed;
  if (!doc.is_object()) return WrongType("document", "a JSON object", doc);
  RETURN_IF_ERROR(OnlyKnownMembers(doc, kTopFields, "document"));

  if (!doc.contains("version")) return Bad("version", "is required (1)");
  ASSIGN_OR_RETURN(uint64_t version, BoundedInteger(doc["version"], "version", 1, 1));
  (void)version;

  SigningPolicy policy;
  if (!doc.contains("clients")) return Bad("clients", "is required");
  const json& clients = doc["clients"];
  if (!clients.is_array()) return WrongType("clients", "an array", clients);
  if (clients.empty()) return Bad("clients", "must name at least one client");
  if (clients.size() > kMaxClients) {
    return Bad("clients",
               absl::StrCat(clients.size(), " clients exceeds the limit of ", kMaxClients));
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSIGN_OR_RETURN(AuthorizedClient client, ParseClient(clients[i], i));
    policy.clients.push_back(std::move(client));
  }
  std::sort(policy.clients.begin(), policy.clients.end(),
            [](const AuthorizedClient& a, const AuthorizedClient& b) { return a.name < b.name; });
  for (size_t i = 1; i < policy.clients.size(); ++i) {
    if (policy.clients[i].name == policy.clients[i - 1].name) {
      return Bad("clients", absl::StrCat("two clients are named \"", policy.clients[i].name, "\""));
    }
  }

  if (doc.contains("replay_window_seconds")) {
    ASSIGN_OR_RETURN(uint64_t seconds,
                     BoundedInteger(doc["replay_window_seconds"], "replay_window_seconds", 1,
                                    kMaxReplayWindowSeconds));
    policy.replay_window = absl::Seconds(static_cast<int64_t>(seconds));
  }
  if (doc.contains("max_request_bytes")) {
    ASSIGN_OR_RETURN(uint64_t bytes, BoundedInteger(doc["max_request_bytes"], "max_request_bytes",
                                                    kMinRequestBytes, kMaxRequestBytesLimit));
    policy.max_request_bytes = static_cast<size_t>(bytes);
  }
  if (doc.contains("max_nonces")) {
    ASSIGN_OR_RETURN(uint64_t nonces,
                     BoundedInteger(doc["max_nonces"], "max_nonces", 1, kMaxNoncesLimit));
    policy.max_nonces = static_cast<size_t>(nonces);
  }
  if (doc.contains("allow_unauthenticated_v1")) {
    const json& v = doc["allow_unauthenticated_v1"];
    if (!v.is_boolean()) return WrongType("allow_unauthenticated_v1", "true or false", v);
    policy.allow_unauthenticated_v1 = v.get<bool>();
  }
  if (doc.contains("key")) {
    ASSIGN_OR_RETURN(KeyPin pin, ParseKeyPin(doc["key"]));
    policy.key = std::move(pin);
  }
  if (doc.contains("wallet")) {
    ASSIGN_OR_RETURN(WalletRules wallet, ParseWallet(doc["wallet"]));
    policy.wallet = std::move(wallet);
  }
  return policy;
}

absl::StatusOr<SigningPolicy> ReadSigningPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileString(path, kMaxPolicyBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(path, ": ", text.status().message()));
  }
  absl::StatusOr<SigningPolicy> policy = ParseSigningPolicy(*text);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

// The canonical encoding is written by hand rather than by nlohmann's dump so that every byte is
// fixed by docs/PROTOCOL.md and not by a library version: member order, no whitespace, decimal
// integers, and strings that need no escaping (the parser admits only alphabets without '"', '\'
// or control characters in every string field).
std::string CanonicalEncoding(const SigningPolicy& policy) {
  auto string_list = [](const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", "\"", items[i], "\"");
    }
    out += "]";
    return out;
  };
  std::string out = "{\"version\":1,\"clients\":[";
  for (size_t i = 0; i < policy.clients.size(); ++i) {
    const AuthorizedClient& c = policy.clients[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"name\":\"", c.name, "\",\"algorithm\":\"",
                    Absl(AlgorithmName(c.algorithm)), "\",\"public_key\":\"",
                    HexEncode(AsBytes(c.public_key)), "\",\"ops\":", string_list(c.ops),
                    ",\"keys\":", string_list(c.keys));
    // "paths" only when set, so a policy without them keeps its encoding (and PCR16).
    if (c.paths.has_value()) absl::StrAppend(&out, ",\"paths\":", string_list(*c.paths));
    out += "}";
  }
  absl::StrAppend(
      &out, "],\"replay_window_seconds\":", absl::ToInt64Seconds(policy.replay_window),
      ",\"max_request_bytes\":", policy.max_request_bytes, ",\"max_nonces\":", policy.max_nonces,
      ",\"allow_unauthenticated_v1\":", policy.allow_unauthenticated_v1 ? "true" : "false");
  if (policy.key.has_value()) absl::StrAppend(&out, ",\"key\":", KeyPinJson(*policy.key));
  if (policy.wallet.has_value()) {
    absl::StrAppend(&out, ",\"wallet\":", WalletRulesJson(*policy.wallet));
  }
  out += "}";
  return out;
}

std::array<uint8_t, 48> PolicyDigest(const SigningPolicy& policy) {
  return crypto::Sha384(AsBytes(CanonicalEncoding(policy)));
}

std::array<uint8_t, 48> ExpectedPcr16(const SigningPolicy& policy) {
  const crypto::Sha384Digest digest = PolicyDigest(policy);
  return crypto::ExtendPcr(crypto::Sha384Digest{}, ByteView(digest.data(), digest.size()));
}

}  // namespace lockout::signpolicy
