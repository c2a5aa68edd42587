#include "src/audit/audit_record.h"

#include <openssl/evp.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::audit {
namespace {

using nlohmann::json;

constexpr std::string_view kCheckpointTag = "lockout-audit-checkpoint-v1";
constexpr std::string_view kGenesisTag = "lockout-audit-key-v1";

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Status CheckName(std::string_view field, std::string_view value) {
  if (value.empty() || value.size() > kMaxNameSize || !IsPrintableAscii(value)) {
    return absl::InvalidArgumentError(absl::StrCat("audit record: ", Absl(field), " must be 1..",
                                                   kMaxNameSize, " bytes of printable ASCII"));
  }
  return absl::OkStatus();
}

// A JSON string of printable ASCII: only '"' and '\' need escaping (RFC 8259 §7).
void AppendString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void AppendMember(std::string& out, std::string_view name, std::string_view string_value) {
  absl::StrAppend(&out, ",\"", Absl(name), "\":");
  AppendString(out, string_value);
}

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("audit record: ", Absl(what)));
}

absl::StatusOr<std::string> StringMember(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    return Bad(absl::StrCat("\"", name, "\" missing or not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<uint64_t> UintMember(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    return Bad(absl::StrCat("\"", name, "\" missing or not an unsigned integer"));
  }
  return it->get<uint64_t>();
}

template <size_t N>
absl::Status HexMember(const json& j, const char* name, std::array<uint8_t, N>& out) {
  ASSIGN_OR_RETURN(std::string hex, StringMember(j, name));
  absl::StatusOr<Bytes> bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != N) {
    return Bad(absl::StrCat("\"", name, "\" is not ", N, " bytes of hex"));
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return absl::OkStatus();
}

}  // namespace

std::string_view RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kGenesis:
      return "genesis";
    case RecordType::kRequest:
      return "request";
    case RecordType::kLost:
      return "lost";
    case RecordType::kCheckpoint:
      return "checkpoint";
  }
  return "unknown";
}

absl::StatusOr<std::string> EncodeRecordLine(const AuditRecord& r) {
  std::string out;
  out.reserve(256);
  absl::StrAppend(&out, "{\"seq\":", r.seq, ",\"type\":\"", Absl(RecordTypeName(r.type)),
                  "\",\"time\":", r.time_ms, ",\"prev\":\"",
                  HexEncode(ByteView(r.prev.data(), r.prev.size())), "\"");
  switch (r.type) {
    case RecordType::kGenesis:
      AppendMember(out, "audit_key", HexEncode(ByteView(r.audit_key.data(), r.audit_key.size())));
      if (r.attestation.empty()) {
        out += ",\"attestation\":null";
      } else {
        AppendMember(out, "attestation", Base64Encode(r.attestation));
      }
      break;
    case RecordType::kRequest:
      RETURN_IF_ERROR(CheckName("client", r.client));
      RETURN_IF_ERROR(CheckName("key", r.key));
      RETURN_IF_ERROR(CheckName("op", r.op));
      if (r.verdict != kVerdictSigned && r.verdict != kVerdictRefused &&
          r.verdict != kVerdictFailed) {
        return Bad("verdict must be signed, refused or failed");
      }
      if (r.rule.size() > kMaxNameSize || !IsPrintableAscii(r.rule)) {
        return Bad("rule must be at most 2048 bytes of printable ASCII");
      }
      AppendMember(out, "client", r.client);
      AppendMember(out, "digest", HexEncode(ByteView(r.digest.data(), r.digest.size())));
      AppendMember(out, "key", r.key);
      AppendMember(out, "op", r.op);
      AppendMember(out, "verdict", r.verdict);
      AppendMember(out, "rule", r.rule);
      break;
    case RecordType::kLost:
      absl::StrAppend(&out, ",\"count\":", r.count);
      break;
    case RecordType::kCheckpoint:
      AppendMember(out, "signature", HexEncode(ByteView(r.signature.data(), r.signature.size())));
      break;
  }
  out += '}';
  if (out.size() > kMaxLineSize) {
    return Bad(absl::StrCat("a line of ", out.size(), " bytes exceeds ", kMaxLineSize));
  }
  return out;
}

absl::StatusOr<AuditRecord> ParseRecordLine(std::string_view line) {
  if (line.size() > kMaxLineSize) {
    return Bad(absl::StrCat("a line of ", line.size(), " bytes exceeds ", kMaxLineSize));
  }
  if (!IsPrintableAscii(line)) return Bad("not printable ASCII");
  absl::StatusOr<json> parsed = ParseJsonStrict(line, kMaxLineSize, 2);
  if (!parsed.ok()) return Bad(absl::StrCat("not JSON: ", parsed.status().message()));
  const json& j = *parsed;
  if (!j.is_object()) return Bad("not a JSON object");
  AuditRecord r;
  ASSIGN_OR_RETURN(r.seq, UintMember(j, "seq"));
  ASSIGN_OR_RETURN(std::string type, StringMember(j, "type"));
  auto time = j.find("time");
  if (time == j.end() || !time->is_number_integer())
    return Bad("\"time\" missing or not an integer");
  r.time_ms = time->get<int64_t>();
  RETURN_IF_ERROR(HexMember(j, "prev", r.prev));
  if (type == "genesis") {
    r.type = RecordType::kGenesis;
    RETURN_IF_ERROR(HexMember(j, "audit_key", r.audit_key));
    auto att = j.find("attestation");
    if (att == j.end() || !(att->is_null() || att->is_string())) {
      return Bad("\"attestation\" missing or neither null nor a string");
    }
    if (att->is_string()) {
      absl::StatusOr<Bytes> doc = Base64Decode(att->get_ref<const std::string&>());
      if (!doc.ok() || doc->empty()) return Bad("\"attestation\" is not base64");
      r.attestation = *std::move(doc);
    }
  } else if (type == "request") {
    r.type = RecordType::kRequest;
    ASSIGN_OR_RETURN(r.client, StringMember(j, "client"));
    RETURN_IF_ERROR(HexMember(j, "digest", r.digest));
    ASSIGN_OR_RETURN(r.key, StringMember(j, "key"));
    ASSIGN_OR_RETURN(r.op, StringMember(j, "op"));
    ASSIGN_OR_RETURN(r.verdict, StringMember(j, "verdict"));
    ASSIGN_OR_RETURN(r.rule, StringMember(j, "rule"));
  } else if (type == "lost") {
    r.type = RecordType::kLost;
    ASSIGN_OR_RETURN(r.count, UintMember(j, "count"));
  } else if (type == "checkpoint") {
    r.type = RecordType::kCheckpoint;
    RETURN_IF_ERROR(HexMember(j, "signature", r.signature));
  } else {
    return Bad("unknown \"type\"");
  }
  // One encoding: anything else (member order, spacing, extra members, upper-case hex, escapes)
  // is not a line the enclave wrote.
  absl::StatusOr<std::string> again = EncodeRecordLine(r);
  if (!again.ok()) return again.status();
  if (*again != line) return Bad("not in the canonical encoding");
  return r;
}

crypto::Sha384Digest LineHash(std::string_view line) { return crypto::Sha384(AsBytes(line)); }

Bytes CheckpointSigningInput(const crypto::Sha384Digest& prev, uint64_t seq) {
  Bytes out(kCheckpointTag.begin(), kCheckpointTag.end());
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(seq >> (8 * i)));
  out.insert(out.end(), prev.begin(), prev.end());
  return out;
}

std::array<uint8_t, 32> GenesisUserData(ByteView audit_key) {
  Bytes input(kGenesisTag.begin(), kGenesisTag.end());
  input.insert(input.end(), audit_key.begin(), audit_key.end());
  return crypto::Sha256(input);
}

bool VerifyEd25519(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != kAuditKeySize || signature.size() != kSignatureSize) return false;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()),
      EVP_PKEY_free);
  if (key == nullptr) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

}  // namespace lockout::audit
