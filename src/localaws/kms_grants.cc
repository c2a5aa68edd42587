#include "src/localaws/kms_grants.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {
namespace {

constexpr uint8_t kTokenMagic[4] = {0x01, 'L', 'G', 'T'};
constexpr size_t kGrantIdBytes = 32;
constexpr size_t kTokenNonceBytes = 32;
constexpr size_t kTokenBytes = sizeof(kTokenMagic) + kGrantIdBytes + kTokenNonceBytes;

// The account a principal string names as a whole (ACCT or arn:aws:iam::ACCT:root), or "".
std::string_view AccountOf(std::string_view principal) {
  if (policy::IsAccountId(principal)) return principal;
  constexpr std::string_view kPrefix = "arn:aws:iam::";
  if (absl::StartsWith(Absl(principal), Absl(kPrefix)) &&
      absl::EndsWith(Absl(principal), ":root")) {
    std::string_view acct = principal.substr(kPrefix.size(), principal.size() - kPrefix.size() - 5);
    if (policy::IsAccountId(acct)) return acct;
  }
  return {};
}

}  // namespace

const std::vector<std::string_view>& KmsGrantOperationNames() {
  static const auto* names =
      new std::vector<std::string_view>{"Decrypt",
                                        "Encrypt",
                                        "GenerateDataKey",
                                        "GenerateDataKeyWithoutPlaintext",
                                        "ReEncryptFrom",
                                        "ReEncryptTo",
                                        "Sign",
                                        "Verify",
                                        "GetPublicKey",
                                        "CreateGrant",
                                        "RetireGrant",
                                        "DescribeKey",
                                        "GenerateDataKeyPair",
                                        "GenerateDataKeyPairWithoutPlaintext",
                                        "GenerateMac",
                                        "VerifyMac",
                                        "DeriveSharedSecret"};
  return *names;
}

std::string NewKmsGrantId() { return HexEncode(crypto::RandomBytes(kGrantIdBytes)); }

std::string MakeKmsGrantToken(std::string_view grant_id) {
  auto id = HexDecode(grant_id);
  Bytes raw(std::begin(kTokenMagic), std::end(kTokenMagic));
  if (id.ok() && id->size() == kGrantIdBytes) {
    raw.insert(raw.end(), id->begin(), id->end());
  } else {
    raw.resize(raw.size() + kGrantIdBytes);  // not reached: callers pass NewKmsGrantId() values
  }
  Bytes nonce = crypto::RandomBytes(kTokenNonceBytes);
  raw.insert(raw.end(), nonce.begin(), nonce.end());
  return Base64Encode(raw);
}

std::optional<std::string> KmsGrantIdFromToken(std::string_view token) {
  if (token.size() > 8192) return std::nullopt;
  auto raw = Base64Decode(token);
  if (!raw.ok() || raw->size() != kTokenBytes ||
      !std::equal(std::begin(kTokenMagic), std::end(kTokenMagic), raw->begin())) {
    return std::nullopt;
  }
  return HexEncode(ByteView(raw->data() + sizeof(kTokenMagic), kGrantIdBytes));
}

GranteeMatch MatchGrantee(std::string_view grantee, const policy::Principal& caller) {
  if (PrincipalNamesCaller(grantee, caller)) return GranteeMatch::kDirect;
  std::string_view account = AccountOf(grantee);
  if (!account.empty() && account == caller.account) {
    return caller.type == policy::PrincipalType::kAccountRoot ? GranteeMatch::kDirect
                                                              : GranteeMatch::kAccount;
  }
  return GranteeMatch::kNone;
}

bool PrincipalNamesCaller(std::string_view principal, const policy::Principal& caller) {
  if (principal.empty()) return false;
  if (principal == caller.arn) return true;
  if (caller.type == policy::PrincipalType::kAssumedRole && principal == caller.role_arn)
    return true;
  if (caller.type == policy::PrincipalType::kAccountRoot &&
      AccountOf(principal) == caller.account) {
    return true;
  }
  return false;
}

bool KmsGrantConstraintAllows(const KmsGrant& grant, const EncryptionContext* context) {
  if (context == nullptr) return true;
  switch (grant.constraint) {
    case KmsGrantConstraint::kNone:
      return true;
    case KmsGrantConstraint::kEncryptionContextEquals:
      return *context == grant.constraint_context;
    case KmsGrantConstraint::kEncryptionContextSubset:
      for (const auto& [k, v] : grant.constraint_context) {
        auto it = context->find(k);
        if (it == context->end() || it->second != v) return false;
      }
      return true;
  }
  return false;
}

bool KmsGrantIsNarrower(const KmsGrant& parent, const std::vector<std::string>& child_operations,
                        KmsGrantConstraint child, const EncryptionContext& child_context) {
  for (const std::string& op : child_operations) {
    if (std::find(parent.operations.begin(), parent.operations.end(), op) ==
        parent.operations.end()) {
      return false;
    }
  }
  switch (parent.constraint) {
    case KmsGrantConstraint::kNone:
      return true;
    case KmsGrantConstraint::kEncryptionContextEquals:
      return child == KmsGrantConstraint::kEncryptionContextEquals &&
             child_context == parent.constraint_context;
    case KmsGrantConstraint::kEncryptionContextSubset:
      // Every context the child allows must contain the parent's pairs.
      if (child == KmsGrantConstraint::kNone) return false;
      return KmsGrantConstraintAllows(parent, &child_context);
  }
  return false;
}

bool IsValidGrantPrincipal(std::string_view p) {
  if (p.empty() || p.size() > 256) return false;
  if (policy::IsAccountId(p)) return true;
  if (absl::EndsWith(Absl(p), ".amazonaws.com")) {
    return std::all_of(p.begin(), p.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    });
  }
  std::array<std::string_view, 6> parts;
  if (!policy::SplitArn(p, parts) || parts[1] != "aws" || parts[3] != "" ||
      !policy::IsAccountId(parts[4])) {
    return false;
  }
  if (parts[2] == "iam") {
    return parts[5] == "root" || absl::StartsWith(Absl(parts[5]), "user/") ||
           absl::StartsWith(Absl(parts[5]), "role/");
  }
  if (parts[2] == "sts") return absl::StartsWith(Absl(parts[5]), "assumed-role/");
  return false;
}

}  // namespace lockout::localaws
