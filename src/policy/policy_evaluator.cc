#include "src/policy/policy_evaluator.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::policy {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Absl(s)); }

char Fold(char c, bool ignore_case) {
  return ignore_case ? absl::ascii_tolower(static_cast<unsigned char>(c)) : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Absl(a), Absl(b));
}

// IAM user/role/session name: non-empty printable ASCII without ':', '/', wildcards or spaces.
bool IsIamName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c > 0x20 && c <= 0x7e && c != ':' && c != '/' && c != '*' && c != '?';
  });
}

// ---- principal matching ----------------------------------------------------------------------

enum class PrincipalMatch {
  kNone,
  kDirect,   // "*", the caller's own ARN, or its role's ARN
  kAccount,  // the caller's account: access also needs the caller's identity policies
};

PrincipalMatch MatchPatterns(const std::vector<PrincipalPattern>& patterns, const Principal& who) {
  PrincipalMatch best = PrincipalMatch::kNone;
  for (const PrincipalPattern& p : patterns) {
    switch (p.kind) {
      case PrincipalPattern::Kind::kAnyone:
        return PrincipalMatch::kDirect;
      case PrincipalPattern::Kind::kArn:
        // An assumed-role session is matched by its own ARN and by its role's ARN (AWS).
        if (p.value == who.arn ||
            (who.type == PrincipalType::kAssumedRole && p.value == who.role_arn)) {
          return PrincipalMatch::kDirect;
        }
        break;
      case PrincipalPattern::Kind::kAccount:
        // The account principal stands for every identity of the account (for Allow, subject to
        // their identity policies; for Deny, outright).
        if (p.value == who.account) best = PrincipalMatch::kAccount;
        break;
      case PrincipalPattern::Kind::kService:
        break;  // service principals never match an IAM caller
    }
  }
  return best;
}

PrincipalMatch MatchPrincipal(const Statement& s, const Principal& who) {
  PrincipalMatch m = MatchPatterns(s.principals, who);
  if (!s.principals_negated) return m;
  return m == PrincipalMatch::kNone ? PrincipalMatch::kDirect : PrincipalMatch::kNone;
}

// ---- action / resource ---------------------------------------------------------------------

bool MatchActions(const Statement& s, const std::string& action_lower) {
  bool any = std::any_of(s.actions.begin(), s.actions.end(), [&](const std::string& pattern) {
    return WildcardMatch(pattern, action_lower, /*ignore_case=*/false);
  });
  return s.actions_negated ? !any : any;
}

bool MatchResources(const Statement& s, std::string_view resource) {
  bool any = std::any_of(s.resources.begin(), s.resources.end(), [&](const std::string& pattern) {
    return WildcardMatch(pattern, resource, /*ignore_case=*/false);
  });
  return s.resources_negated ? !any : any;
}

// ---- conditions ----------------------------------------------------------------------------

// Whether one request value matches one policy value under the positive base operator.
bool BaseMatch(ConditionOperator op, std::string_view policy_value, std::string_view value) {
  switch (op) {
    case ConditionOperator::kStringEquals:
      return policy_value == value;
    case ConditionOperator::kStringEqualsIgnoreCase:
      return EqualsIgnoreCase(policy_value, value);
    case ConditionOperator::kStringLike:
      return WildcardMatch(policy_value, value, /*ignore_case=*/false);
    case ConditionOperator::kArnLike:
      return ArnLikeMatch(policy_value, value);
    case ConditionOperator::kBool:
      return EqualsIgnoreCase(policy_value, value);  // policy values are "true" / "false"
    case ConditionOperator::kNull:
      return false;  // handled by ConditionHolds
  }
  return false;
}

// One request value against the condition: matches any policy value (ORed), then negated.
bool ValueSatisfies(const Condition& c, std::string_view value) {
  bool match = std::any_of(c.values.begin(), c.values.end(),
                           [&](const std::string& pv) { return BaseMatch(c.op, pv, value); });
  return c.negated ? !match : match;
}

bool ConditionHolds(const Condition& c, const ConditionKeys& keys) {
  const std::vector<std::string>* values = keys.Find(c.key);
  const bool missing = values == nullptr || values->empty();
  if (c.op == ConditionOperator::kNull) {
    // "Null": {"k": "true"} holds when k is absent, "false" when it is present.
    return std::any_of(c.values.begin(), c.values.end(),
                       [&](const std::string& v) { return (v == "true") == missing; });
  }
  if (missing) {
    if (c.if_exists) return true;
    switch (c.set) {
      case SetQualifier::kForAnyValue:
        return false;
      case SetQualifier::kForAllValues:
        return true;  // vacuously: every one of no values matches
      case SetQualifier::kNone:
        return c.negated;  // "the key is not X" is true of an absent key
    }
  }
  auto satisfies = [&](const std::string& v) { return ValueSatisfies(c, v); };
  switch (c.set) {
    case SetQualifier::kForAnyValue:
      return std::any_of(values->begin(), values->end(), satisfies);
    case SetQualifier::kForAllValues:
      return std::all_of(values->begin(), values->end(), satisfies);
    case SetQualifier::kNone:
      // A multi-valued key without a set qualifier: the positive operator holds if any value
      // matches; the negated one is its exact negation (no value matches).
      return c.negated ? std::all_of(values->begin(), values->end(), satisfies)
                       : std::any_of(values->begin(), values->end(), satisfies);
  }
  return false;
}

bool ConditionsHold(const Statement& s, const ConditionKeys& keys) {
  return std::all_of(s.conditions.begin(), s.conditions.end(),
                     [&](const Condition& c) { return ConditionHolds(c, keys); });
}

// The request keys plus those AWS always derives from the caller.
ConditionKeys EffectiveKeys(const RequestContext& request) {
  ConditionKeys keys = request.keys;
  const Principal& who = request.principal;
  if (keys.Find("aws:PrincipalArn") == nullptr) {
    keys.Add("aws:PrincipalArn", who.type == PrincipalType::kAssumedRole ? who.role_arn : who.arn);
  }
  if (keys.Find("aws:PrincipalAccount") == nullptr) keys.Add("aws:PrincipalAccount", who.account);
  if (keys.Find("kms:CallerAccount") == nullptr) keys.Add("kms:CallerAccount", who.account);
  return keys;
}

struct Hit {
  size_t policy_index = 0;
  size_t statement_index = 0;
  std::string sid;
};

Decision Deny(DecisionSource source, const Hit& hit, std::string reason) {
  Decision d;
  d.outcome = Outcome::kExplicitDeny;
  d.source = source;
  d.policy_index = hit.policy_index;
  d.statement_index = hit.statement_index;
  d.sid = hit.sid;
  d.reason = std::move(reason);
  return d;
}

Decision ImplicitDeny(std::string reason, DecisionSource missing = DecisionSource::kNone) {
  Decision d;
  d.source = missing;
  d.reason = std::move(reason);
  return d;
}

}  // namespace

// ---- Principal ---------------------------------------------------------------------------------

absl::StatusOr<Principal> Principal::AccountRoot(std::string_view account) {
  if (!IsAccountId(account)) return absl::InvalidArgumentError("account id must be 12 digits");
  Principal p;
  p.type = PrincipalType::kAccountRoot;
  p.account = std::string(account);
  p.arn = absl::StrCat("arn:aws:iam::", Absl(account), ":root");
  return p;
}

absl::StatusOr<Principal> Principal::User(std::string_view account, std::string_view user_name) {
  if (!IsAccountId(account)) return absl::InvalidArgumentError("account id must be 12 digits");
  if (!IsIamName(user_name)) return absl::InvalidArgumentError("invalid IAM user name");
  Principal p;
  p.type = PrincipalType::kUser;
  p.account = std::string(account);
  p.arn = absl::StrCat("arn:aws:iam::", Absl(account), ":user/", Absl(user_name));
  return p;
}

absl::StatusOr<Principal> Principal::AssumedRole(std::string_view role_arn,
                                                 std::string_view session_name) {
  std::array<std::string_view, 6> parts;
  if (!SplitArn(role_arn, parts) || parts[1].empty() || parts[2] != "iam" || !parts[3].empty() ||
      !IsAccountId(parts[4]) || !absl::StartsWith(Absl(parts[5]), "role/")) {
    return absl::InvalidArgumentError("role ARN must be arn:aws:iam::ACCOUNT:role/NAME");
  }
  std::string_view path_and_name = parts[5].substr(5);
  const size_t slash = path_and_name.rfind('/');
  std::string_view name =
      slash == std::string_view::npos ? path_and_name : path_and_name.substr(slash + 1);
  if (!IsIamName(name)) return absl::InvalidArgumentError("invalid IAM role name");
  if (!IsIamName(session_name)) return absl::InvalidArgumentError("invalid role session name");
  Principal p;
  p.type = PrincipalType::kAssumedRole;
  p.account = std::string(parts[4]);
  p.role_arn = std::string(role_arn);
  p.arn = absl::StrCat("arn:", Absl(parts[1]), ":sts::", Absl(parts[4]), ":assumed-role/",
                       Absl(name), "/", Absl(session_name));
  return p;
}

// ---- ConditionKeys
// -------------------------------------------------------------------------------

void ConditionKeys::Add(std::string_view key, std::string_view value) {
  values_[Lower(key)].emplace_back(value);
}

void ConditionKeys::Set(std::string_view key, std::string_view value) {
  values_[Lower(key)] = {std::string(value)};
}

void ConditionKeys::Erase(std::string_view key) { values_.erase(Lower(key)); }

const std::vector<std::string>* ConditionKeys::Find(std::string_view key) const {
  auto it = values_.find(Lower(key));
  return it == values_.end() ? nullptr : &it->second;
}

// ---- matching helpers
// ----------------------------------------------------------------------------

bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  // Greedy two-pointer match with backtracking to the last '*': each '*' retry advances the
  // text position, so the work is bounded by pattern.size() * text.size().
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() &&
               (pattern[p] == '?' || Fold(pattern[p], ignore_case) == Fold(text[t], ignore_case))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ArnLikeMatch(std::string_view pattern, std::string_view arn) {
  std::array<std::string_view, 6> want, have;
  if (!SplitArn(arn, have)) return false;
  if (pattern == "*") return true;
  if (!SplitArn(pattern, want)) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!WildcardMatch(want[i], have[i], /*ignore_case=*/false)) return false;
  }
  return true;
}

// ---- evaluation
// ----------------------------------------------------------------------------------

Decision Evaluate(const Policy& key_policy, const RequestContext& request) {
  if (key_policy.kind() != PolicyKind::kKeyPolicy) {
    return ImplicitDeny("the resource policy is not a key policy");
  }
  const Principal& who = request.principal;
  const std::string action = Lower(request.action);
  const ConditionKeys keys = EffectiveKeys(request);

  // Key policy: any Deny decides; remember the first direct and the first delegated Allow.
  std::optional<Hit> direct_allow, account_allow;
  const std::vector<Statement>& statements = key_policy.statements();
  for (size_t i = 0; i < statements.size(); ++i) {
    const Statement& s = statements[i];
    if (!MatchActions(s, action) || !MatchResources(s, request.resource)) continue;
    PrincipalMatch pm = MatchPrincipal(s, who);
    if (pm == PrincipalMatch::kNone || !ConditionsHold(s, keys)) continue;
    Hit hit{0, i, s.sid};
    if (s.effect == Effect::kDeny) {
      return Deny(DecisionSource::kKeyPolicy, hit, "explicit Deny in the key policy");
    }
    std::optional<Hit>& slot = pm == PrincipalMatch::kDirect ? direct_allow : account_allow;
    if (!slot) slot = hit;
  }

  // Identity policies (the account root has no identity policies and full identity rights).
  const bool is_root = who.type == PrincipalType::kAccountRoot;
  std::optional<Hit> identity_allow;
  if (is_root) identity_allow = Hit{};
  if (!is_root) {
    for (size_t p = 0; p < request.identity_policies.size(); ++p) {
      const Policy& policy = request.identity_policies[p];
      if (policy.kind() != PolicyKind::kIdentityPolicy) {
        return ImplicitDeny("an identity policy of the caller is not an identity policy");
      }
      for (size_t i = 0; i < policy.statements().size(); ++i) {
        const Statement& s = policy.statements()[i];
        if (!MatchActions(s, action) || !MatchResources(s, request.resource) ||
            !ConditionsHold(s, keys)) {
          continue;
        }
        Hit hit{p, i, s.sid};
        if (s.effect == Effect::kDeny) {
          return Deny(DecisionSource::kIdentityPolicy, hit, "explicit Deny in an identity policy");
        }
        if (!identity_allow) identity_allow = hit;
      }
    }
  }

  // Cross-account callers need their own account's permission even when named directly.
  std::array<std::string_view, 6> key_arn;
  const bool same_account = SplitArn(request.resource, key_arn) && key_arn[4] == who.account;

  auto allow = [&](const Hit& hit, std::string reason) {
    Decision d;
    d.outcome = Outcome::kAllow;
    d.source = DecisionSource::kKeyPolicy;
    d.statement_index = hit.statement_index;
    d.sid = hit.sid;
    if (identity_allow && !is_root) d.identity_sid = identity_allow->sid;
    d.reason = std::move(reason);
    return d;
  };
  if (direct_allow && (same_account || identity_allow)) {
    return allow(*direct_allow, "the key policy allows the caller");
  }
  if (account_allow && identity_allow) {
    return allow(*account_allow, is_root ? "the key policy allows the account root"
                                         : "the key policy allows the caller's account and an "
                                           "identity policy allows the request");
  }
  if (direct_allow) {
    return ImplicitDeny("cross-account caller: no identity policy allows the request",
                        DecisionSource::kIdentityPolicy);
  }
  if (account_allow) {
    return ImplicitDeny(
        "the key policy allows the caller's account but no identity policy allows the request",
        DecisionSource::kIdentityPolicy);
  }
  return ImplicitDeny("no key policy statement allows the request");
}

absl::Status CheckPolicyLockoutSafety(const Policy& new_policy, const RequestContext& caller) {
  RequestContext request = caller;
  request.action = "kms:PutKeyPolicy";
  if (Evaluate(new_policy, request).allowed()) return absl::OkStatus();
  return absl::InvalidArgumentError(Absl(kPolicyLockoutMessage));
}

}  // namespace lockout::policy
