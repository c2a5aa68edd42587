// libFuzzer target: the signing policy (src/signpolicy/signing_policy.h). The enclave parses it at
// boot from its image or from the relay (root on the parent controls the relay's copy).
//
// The input is the policy text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed policy holds 1..kMaxClients clients sorted by unique name, each with a key of its
//     algorithm's size and sorted, unique, known ops and keys ("*" alone or not at all);
//   * Find() finds every client and nothing else;
//   * "paths", when present, is 1..kMaxPathsPerClient sorted unique canonical patterns, each the
//     ToString() of its parsed pattern (and matching the path it names when it has no wildcard);
//   * a key pin holds a 32-byte SHA-256 or a 20-byte address;
//   * the canonical encoding parses back to a policy with the same canonical encoding (so the
//     digest sealed into PCR16 is a function of what the policy means, not how it is written).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_checks.h"
#include "src/signpolicy/signing_policy.h"

namespace {

using lockout::fuzz::Check;
namespace sp = lockout::signpolicy;

void CheckSortedUnique(const std::vector<std::string>& items, const char* what) {
  Check(!items.empty(), what);
  for (size_t i = 1; i < items.size(); ++i) Check(items[i - 1] < items[i], what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<sp::SigningPolicy> policy = sp::ParseSigningPolicy(text);
  if (!policy.ok()) {
    lockout::fuzz::CheckErrorMessage(policy.status(), 300);
    Check(policy.status().code() == absl::StatusCode::kInvalidArgument,
          "error not InvalidArgument");
    return 0;
  }
  Check(size <= sp::kMaxPolicyBytes, "an oversized policy was accepted");
  Check(!policy->clients.empty() && policy->clients.size() <= sp::kMaxClients, "client count");
  for (size_t i = 0; i < policy->clients.size(); ++i) {
    const sp::AuthorizedClient& c = policy->clients[i];
    if (i > 0) Check(policy->clients[i - 1].name < c.name, "clients not sorted by unique name");
    Check(policy->Find(c.name) == &c, "Find does not find a client");
    Check(c.public_key.size() == (c.algorithm == sp::ClientKeyAlgorithm::kEd25519 ? 32u : 65u),
          "public key of the wrong size");
    CheckSortedUnique(c.ops, "ops not sorted, unique, non-empty");
    CheckSortedUnique(c.keys, "keys not sorted, unique, non-empty");
    for (const std::string& op : c.ops) Check(c.AllowsOp(op), "AllowsOp misses an op");
    if (c.paths.has_value()) {
      CheckSortedUnique(*c.paths, "paths not sorted, unique, non-empty");
      Check(c.paths->size() <= sp::kMaxPathsPerClient, "too many paths");
      Check(c.path_patterns.size() == c.paths->size(), "paths and patterns differ in number");
      for (size_t j = 0; j < c.paths->size(); ++j) {
        Check(c.path_patterns[j].ToString() == (*c.paths)[j], "a path is not canonical");
        absl::StatusOr<lockout::hd::DerivationPath> literal =
            lockout::hd::DerivationPath::Parse((*c.paths)[j]);
        if (literal.ok()) Check(c.AllowsPath(*literal), "a literal path does not match itself");
      }
    } else {
      Check(c.path_patterns.empty(), "patterns without paths");
      Check(c.AllowsPath(lockout::hd::DerivationPath()), "no paths must allow every path");
    }
    if (c.keys.size() > 1) {
      for (const std::string& k : c.keys) Check(k != sp::kAnyKey, "\"*\" beside other keys");
    }
  }
  Check(policy->Find("") == nullptr, "Find found an empty name");
  if (policy->key.has_value()) {
    Check(
        policy->key->value.size() == (policy->key->kind == sp::KeyPinKind::kEthAddress ? 20u : 32u),
        "key pin of the wrong size");
  }
  const std::string canonical = sp::CanonicalEncoding(*policy);
  absl::StatusOr<sp::SigningPolicy> again = sp::ParseSigningPolicy(canonical);
  Check(again.ok(), "the canonical encoding does not parse");
  Check(sp::CanonicalEncoding(*again) == canonical, "the canonical encoding is not a fixpoint");
  Check(sp::PolicyDigest(*again) == sp::PolicyDigest(*policy), "digest differs after round trip");
  Check(again->wallet == policy->wallet, "wallet rules differ after round trip");
  return 0;
}
