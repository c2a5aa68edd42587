#include "src/auth/request_auth.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/auth/client_key.h"
#include "src/common/encoding.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::auth {
namespace {

constexpr size_t kNewNonceBytes = 32;

absl::Status BadAuth(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("auth.", Absl(field), ": ", Absl(what)));
}

void AppendU32(size_t n, std::string& out) {
  out.push_back(static_cast<char>((n >> 24) & 0xFF));
  out.push_back(static_cast<char>((n >> 16) & 0xFF));
  out.push_back(static_cast<char>((n >> 8) & 0xFF));
  out.push_back(static_cast<char>(n & 0xFF));
}

void AppendI64(int64_t v, std::string& out) {
  const auto u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xFF));
}

void AppendStr(std::string_view s, std::string& out) {
  AppendU32(s.size(), out);
  out.append(s);
}

absl::Status AppendValue(const nlohmann::json& v, int depth, std::string& out) {
  if (depth > kMaxCanonicalDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("request nests deeper than ", kMaxCanonicalDepth, " levels"));
  }
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      out.push_back('n');
      return absl::OkStatus();
    case nlohmann::json::value_t::boolean:
      out.push_back(v.get<bool>() ? 't' : 'f');
      return absl::OkStatus();
    case nlohmann::json::value_t::number_integer:
      out.push_back('i');
      AppendI64(v.get<int64_t>(), out);
      return absl::OkStatus();
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::InvalidArgumentError("an integer above the int64 range cannot be signed");
      }
      out.push_back('i');
      AppendI64(static_cast<int64_t>(u), out);
      return absl::OkStatus();
    }
    case nlohmann::json::value_t::number_float:
      return absl::InvalidArgumentError(
          "a number with a fraction or exponent has no canonical form; send an integer or a "
          "string");
    case nlohmann::json::value_t::string:
      out.push_back('s');
      AppendStr(v.get_ref<const std::string&>(), out);
      return absl::OkStatus();
    case nlohmann::json::value_t::array:
      out.push_back('a');
      AppendU32(v.size(), out);
      for (const nlohmann::json& e : v) RETURN_IF_ERROR(AppendValue(e, depth + 1, out));
      return absl::OkStatus();
    case nlohmann::json::value_t::object: {
      // nlohmann::json keeps object members in a std::map ordered by std::string's operator<,
      // which compares char_traits<char> - i.e. as unsigned bytes (memcmp) - the order the
      // encoding specifies. Checked here rather than trusted, since it is the wire format.
      std::vector<std::pair<std::string_view, const nlohmann::json*>> members;
      members.reserve(v.size());
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (depth == 1 && (it.key() == "id" || it.key() == "auth")) continue;
        members.emplace_back(it.key(), &it.value());
      }
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('o');
      AppendU32(members.size(), out);
      for (const auto& [name, value] : members) {
        AppendStr(name, out);
        RETURN_IF_ERROR(AppendValue(*value, depth + 1, out));
      }
      return absl::OkStatus();
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      break;
  }
  return absl::InvalidArgumentError("a value of a type JSON text cannot hold");
}

absl::StatusOr<Bytes> Base64Member(const nlohmann::json& auth, std::string_view name) {
  auto it = auth.find(std::string(name));
  if (it == auth.end()) return BadAuth(name, "is required");
  if (!it->is_string()) return BadAuth(name, "must be a base64 string");
  absl::StatusOr<Bytes> bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes.ok()) return BadAuth(name, Std(bytes.status().message()));
  return bytes;
}

}  // namespace

absl::StatusOr<AuthFields> ParseAuthFields(const nlohmann::json& auth) {
  if (!auth.is_object()) {
    return absl::InvalidArgumentError("auth: must be an object");
  }
  for (auto it = auth.begin(); it != auth.end(); ++it) {
    const std::string& k = it.key();
    if (k != "client" && k != "timestamp" && k != "nonce" && k != "signature") {
      return absl::InvalidArgumentError(
          absl::StrCat("auth: unknown member of ", k.size(),
                       " bytes (want only client, timestamp, nonce, signature)"));
    }
  }
  AuthFields f;
  auto client = auth.find("client");
  if (client == auth.end()) return BadAuth("client", "is required");
  if (!client->is_string() || !IsValidClientName(client->get_ref<const std::string&>())) {
    return BadAuth("client", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
  f.client = client->get<std::string>();
  auto ts = auth.find("timestamp");
  if (ts == auth.end()) return BadAuth("timestamp", "is required");
  if (ts->is_number_unsigned() &&
      ts->get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    f.timestamp_ms = static_cast<int64_t>(ts->get<uint64_t>());
  } else if (ts->is_number_integer() && ts->get<int64_t>() >= 0) {
    f.timestamp_ms = ts->get<int64_t>();
  } else {
    return BadAuth("timestamp", "must be an integer: unix time in milliseconds");
  }
  ASSIGN_OR_RETURN(f.nonce, Base64Member(auth, "nonce"));
  if (f.nonce.size() < kMinNonceBytes || f.nonce.size() > kMaxNonceBytes) {
    return BadAuth("nonce", absl::StrCat("must be ", kMinNonceBytes, " to ", kMaxNonceBytes,
                                         " bytes, not ", f.nonce.size()));
  }
  ASSIGN_OR_RETURN(f.signature, Base64Member(auth, "signature"));
  if (f.signature.empty() || f.signature.size() > kMaxClientSignatureSize) {
    return BadAuth("signature", absl::StrCat("must be 1 to ", kMaxClientSignatureSize,
                                             " bytes, not ", f.signature.size()));
  }
  return f;
}

absl::StatusOr<std::string> CanonicalRequest(const nlohmann::json& request, std::string_view client,
                                             int64_t timestamp_ms, ByteView nonce) {
  if (!request.is_object()) return absl::InvalidArgumentError("the request is not an object");
  std::string out;
  out.reserve(kRequestTag.size() + 64 + nonce.size());
  out.append(kRequestTag);
  AppendStr(client, out);
  AppendI64(timestamp_ms, out);
  AppendStr(std::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size()), out);
  RETURN_IF_ERROR(AppendValue(request, /*depth=*/1, out));
  return out;
}

absl::Status SignRequest(const ClientKey& key, absl::Time now, nlohmann::json& request) {
  if (!request.is_object()) return absl::InvalidArgumentError("the request is not an object");
  const int64_t timestamp_ms = absl::ToUnixMillis(now);
  const Bytes nonce = crypto::RandomBytes(kNewNonceBytes);
  request.erase("auth");
  ASSIGN_OR_RETURN(std::string encoding,
                   CanonicalRequest(request, key.name(), timestamp_ms, nonce));
  ASSIGN_OR_RETURN(Bytes signature, key.Sign(AsBytes(encoding)));
  request["auth"] = {{"client", key.name()},
                     {"timestamp", timestamp_ms},
                     {"nonce", Base64Encode(nonce)},
                     {"signature", Base64Encode(signature)}};
  return absl::OkStatus();
}

}  // namespace lockout::auth
