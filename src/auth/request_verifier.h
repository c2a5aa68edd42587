#pragma once

// RequestVerifier: the enclave's check of every request against its signing policy
// (docs/PROTOCOL.md §2, "Authenticated requests"), before anything else happens to it.
//
// A request passes when, in this order:
//   1. its frame is at most policy.max_request_bytes                 else request_too_large
//   2. it carries "auth" (v2), unless the policy allows unauthenticated requests (then a request
//      without "auth" passes unauthenticated; v1 never carries auth)  else unauthenticated
//   3. "auth" is well-formed (request_auth.h) and the request has a canonical encoding
//                                                                    else malformed_auth
//   4. the client is in the policy                                   else unknown_client
//   5. its timestamp is within the replay window of now              else stale_timestamp
//   6. the signature verifies over the canonical encoding            else bad_signature
//   7. the client may use the op (PermissionForOp)                   else op_not_allowed
//   8. ... and the key (sign, public_key, attest): the request's "key" member, or the enclave's
//      own key name when it has none                                 else key_not_allowed
//   9. the nonce was not accepted before (ReplayGuard)               else replayed_nonce
//      and the replay cache has room                                 else replay_cache_full
// Cheap checks come first, so that a flood of junk costs no signature verification; the
// signature comes before the permissions, so that a refusal naming a policy client's missing
// permission is never logged for a request that client did not sign; the nonce is recorded
// last, only for a request that passed everything else, so that nobody but the client can burn
// or fill nonces.
//
// Each refusal is counted by rule (for `health`); logging is the caller's (a server's) job.
//
// Thread-safety: thread-safe; the enclave's workers call Check* concurrently.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/auth/replay_guard.h"
#include "src/common/clock.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::auth {

enum class Rule {
  kRequestTooLarge,
  kUnauthenticated,
  kMalformedAuth,
  kUnknownClient,
  kStaleTimestamp,
  kBadSignature,
  kOpNotAllowed,
  kKeyNotAllowed,
  kReplayedNonce,
  kReplayCacheFull,
};
inline constexpr size_t kRuleCount = 10;

// "request_too_large", "unauthenticated", "malformed_auth", "unknown_client", ...
std::string_view RuleName(Rule rule);

// The permission (a policy client's "ops" entry) a v2 op needs: the op itself, except for the
// Ethereum ops (docs/PROTOCOL.md §2), which sign or reveal the key as the core ops do:
// eth_address needs "public_key"; eth_sign_transaction, eth_personal_sign and
// eth_sign_typed_data need "sign". They are also checked against the client's "keys".
std::string_view PermissionForOp(std::string_view op);

struct Decision {
  bool allowed = false;
  Rule rule = Rule::kUnauthenticated;  // why not, when !allowed
  // For the log: the policy client's name once its signature verified; before that the name
  // the request claims (when it is a well-formed name), else empty. Never anything else of the
  // request.
  std::string client;
  bool authenticated = false;  // allowed with a verified signature (not merely unauthenticated)
};

class RequestVerifier final {
 public:
  // `policy` must be non-null; `clock` must outlive the verifier. Builds a verifier per client.
  // Errors: InvalidArgument if a client's public key is unusable (the policy parser checks them,
  // so this means a policy not made by it).
  static absl::StatusOr<std::unique_ptr<RequestVerifier>> Create(
      std::shared_ptr<const signpolicy::SigningPolicy> policy, const Clock& clock);

  const signpolicy::SigningPolicy& policy() const { return *policy_; }

  // A v1 request of `payload_bytes` (v1 has no place for auth).
  Decision CheckV1(size_t payload_bytes);

  enum class Mode {
    kAdmit,      // a request about to be served: its nonce is recorded
    kCheckOnly,  // a request about to be queued for a blocking worker, which will Admit it:
                 // every check, but the nonce is only looked up
  };
  // A parsed v2 request object of `payload_bytes`. `enclave_key` is the name of the key the
  // enclave serves (for requests without a "key" member).
  Decision CheckV2(const nlohmann::json& request, size_t payload_bytes,
                   std::string_view enclave_key, Mode mode);

  // Refusals so far, indexed by Rule.
  std::array<uint64_t, kRuleCount> Refusals() const;
  // {"request_too_large": N, ...}: every rule, zeros included.
  nlohmann::json RefusalsJson() const;

  size_t remembered_nonces() const { return replay_.size(); }

 private:
  struct Client {
    const signpolicy::AuthorizedClient* policy;
    std::unique_ptr<ClientVerifier> verifier;
  };
  RequestVerifier(std::shared_ptr<const signpolicy::SigningPolicy> policy, const Clock& clock);
  Decision Refuse(Rule rule, std::string client);
  const Client* FindClient(std::string_view name) const;

  std::shared_ptr<const signpolicy::SigningPolicy> policy_;
  std::vector<Client> clients_;  // in policy order (sorted by name)
  ReplayGuard replay_;
  std::array<std::atomic<uint64_t>, kRuleCount> refusals_{};
};

}  // namespace lockout::auth
