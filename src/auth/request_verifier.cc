#include "src/auth/request_verifier.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/auth/request_auth.h"
#include "src/common/strings.h"

namespace lockout::auth {
namespace {

constexpr std::array<Rule, kRuleCount> kAllRules = {
    Rule::kRequestTooLarge, Rule::kUnauthenticated, Rule::kMalformedAuth, Rule::kUnknownClient,
    Rule::kStaleTimestamp,  Rule::kBadSignature,    Rule::kOpNotAllowed,  Rule::kKeyNotAllowed,
    Rule::kReplayedNonce,   Rule::kReplayCacheFull};

// Ops that use the key, and so are checked against the client's "keys".
bool UsesKey(std::string_view op) {
  return op == "sign" || op == "public_key" || op == "attest" || op == "generate_key" ||
         PermissionForOp(op) != op;
}

}  // namespace

std::string_view PermissionForOp(std::string_view op) {
  if (op == "eth_address") return "public_key";
  if (op == "eth_sign_transaction" || op == "eth_personal_sign" || op == "eth_sign_typed_data") {
    return "sign";
  }
  return op;
}

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kRequestTooLarge:
      return "request_too_large";
    case Rule::kUnauthenticated:
      return "unauthenticated";
    case Rule::kMalformedAuth:
      return "malformed_auth";
    case Rule::kUnknownClient:
      return "unknown_client";
    case Rule::kStaleTimestamp:
      return "stale_timestamp";
    case Rule::kBadSignature:
      return "bad_signature";
    case Rule::kOpNotAllowed:
      return "op_not_allowed";
    case Rule::kKeyNotAllowed:
      return "key_not_allowed";
    case Rule::kReplayedNonce:
      return "replayed_nonce";
    case Rule::kReplayCacheFull:
      return "replay_cache_full";
  }
  return "unknown";
}

RequestVerifier::RequestVerifier(std::shared_ptr<const signpolicy::SigningPolicy> policy,
                                 const Clock& clock)
    : policy_(std::move(policy)),
      // Each client's share of the replay cache: max_nonces / N (at least 1), so that the shares
      // add up to at most max_nonces and one client's flood cannot refuse another's requests.
      replay_(
          policy_->replay_window, policy_->max_nonces, clock,
          std::max<size_t>(policy_->max_nonces / std::max<size_t>(policy_->clients.size(), 1), 1)) {
}

absl::StatusOr<std::unique_ptr<RequestVerifier>> RequestVerifier::Create(
    std::shared_ptr<const signpolicy::SigningPolicy> policy, const Clock& clock) {
  if (policy == nullptr) return absl::InvalidArgumentError("no signing policy");
  std::unique_ptr<RequestVerifier> v(new RequestVerifier(std::move(policy), clock));
  v->clients_.reserve(v->policy_->clients.size());
  for (const signpolicy::AuthorizedClient& c : v->policy_->clients) {
    absl::StatusOr<std::unique_ptr<ClientVerifier>> verifier =
        ClientVerifier::Create(c.algorithm, c.public_key);
    if (!verifier.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("signing policy client \"", c.name, "\": ", verifier.status().message()));
    }
    v->clients_.push_back(Client{.policy = &c, .verifier = *std::move(verifier)});
  }
  std::sort(v->clients_.begin(), v->clients_.end(),
            [](const Client& a, const Client& b) { return a.policy->name < b.policy->name; });
  return v;
}

const RequestVerifier::Client* RequestVerifier::FindClient(std::string_view name) const {
  auto it = std::lower_bound(
      clients_.begin(), clients_.end(), name,
      [](const Client& c, std::string_view n) { return std::string_view(c.policy->name) < n; });
  if (it == clients_.end() || it->policy->name != name) return nullptr;
  return &*it;
}

Decision RequestVerifier::Refuse(Rule rule, std::string client) {
  refusals_[static_cast<size_t>(rule)].fetch_add(1, std::memory_order_relaxed);
  return Decision{
      .allowed = false, .rule = rule, .client = std::move(client), .authenticated = false};
}

Decision RequestVerifier::CheckV1(size_t payload_bytes) {
  if (payload_bytes > policy_->max_request_bytes) return Refuse(Rule::kRequestTooLarge, "");
  if (!policy_->allow_unauthenticated_v1) return Refuse(Rule::kUnauthenticated, "");
  return Decision{
      .allowed = true, .rule = Rule::kUnauthenticated, .client = {}, .authenticated = false};
}

Decision RequestVerifier::CheckV2(const nlohmann::json& request, size_t payload_bytes,
                                  std::string_view enclave_key, Mode mode) {
  if (payload_bytes > policy_->max_request_bytes) return Refuse(Rule::kRequestTooLarge, "");
  auto auth_it = request.find("auth");
  if (auth_it == request.end()) {
    if (policy_->allow_unauthenticated_v1)
      return Decision{
          .allowed = true, .rule = Rule::kUnauthenticated, .client = {}, .authenticated = false};
    return Refuse(Rule::kUnauthenticated, "");
  }
  absl::StatusOr<AuthFields> auth = ParseAuthFields(*auth_it);
  if (!auth.ok()) {
    // The claimed name, when it is one, helps an operator find the misbehaving client.
    std::string claimed;
    if (auth_it->is_object()) {
      auto c = auth_it->find("client");
      if (c != auth_it->end() && c->is_string() &&
          IsValidClientName(c->get_ref<const std::string&>())) {
        claimed = c->get<std::string>();
      }
    }
    return Refuse(Rule::kMalformedAuth, std::move(claimed));
  }
  absl::StatusOr<std::string> encoding =
      CanonicalRequest(request, auth->client, auth->timestamp_ms, auth->nonce);
  if (!encoding.ok()) return Refuse(Rule::kMalformedAuth, auth->client);
  const Client* client = FindClient(auth->client);
  if (client == nullptr) return Refuse(Rule::kUnknownClient, auth->client);
  if (!replay_.Fresh(auth->timestamp_ms)) return Refuse(Rule::kStaleTimestamp, auth->client);
  if (!client->verifier->Verify(AsBytes(*encoding), auth->signature)) {
    return Refuse(Rule::kBadSignature, auth->client);
  }
  // From here on the request is the client's own: its name is no longer a claim.
  auto op = request.find("op");
  if (op == request.end() || !op->is_string() ||
      !client->policy->AllowsOp(PermissionForOp(op->get_ref<const std::string&>()))) {
    return Refuse(Rule::kOpNotAllowed, auth->client);
  }
  if (UsesKey(op->get_ref<const std::string&>())) {
    std::string_view key = enclave_key;
    if (auto k = request.find("key"); k != request.end()) {
      if (!k->is_string()) return Refuse(Rule::kKeyNotAllowed, auth->client);
      key = k->get_ref<const std::string&>();
    }
    if (!client->policy->AllowsKey(key)) return Refuse(Rule::kKeyNotAllowed, auth->client);
  }
  const ReplayGuard::Verdict verdict =
      mode == Mode::kAdmit ? replay_.Admit(auth->client, auth->nonce, auth->timestamp_ms)
                           : replay_.Check(auth->client, auth->nonce, auth->timestamp_ms);
  switch (verdict) {
    case ReplayGuard::Verdict::kAccepted:
      return Decision{.allowed = true,
                      .rule = Rule::kUnauthenticated,
                      .client = auth->client,
                      .authenticated = true};
    case ReplayGuard::Verdict::kStale:  // the clock moved past the window since the check above
      return Refuse(Rule::kStaleTimestamp, auth->client);
    case ReplayGuard::Verdict::kReplayed:
      return Refuse(Rule::kReplayedNonce, auth->client);
    case ReplayGuard::Verdict::kFull:
      return Refuse(Rule::kReplayCacheFull, auth->client);
  }
  return Refuse(Rule::kReplayedNonce, auth->client);
}

std::array<uint64_t, kRuleCount> RequestVerifier::Refusals() const {
  std::array<uint64_t, kRuleCount> out;
  for (size_t i = 0; i < kRuleCount; ++i) out[i] = refusals_[i].load(std::memory_order_relaxed);
  return out;
}

nlohmann::json RequestVerifier::RefusalsJson() const {
  nlohmann::json out = nlohmann::json::object();
  const std::array<uint64_t, kRuleCount> counts = Refusals();
  for (Rule r : kAllRules) out[std::string(RuleName(r))] = counts[static_cast<size_t>(r)];
  return out;
}

}  // namespace lockout::auth
