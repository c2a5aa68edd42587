// libFuzzer target: key policy JSON. Policy::Parse (src/policy/policy.h: local-aws's KMS reads
// policies from PutKeyPolicy/CreateKey callers) as a key policy and as an identity policy, and
// the operator's `lockout policy lint` (src/operator/policy_lint.h), which runs on whatever
// GetKeyPolicy returned from the network.
//
// The input is the policy text. Properties checked (abort on violation):
//   * failures are InvalidArgument with a bounded printable message;
//   * a parsed policy keeps the text as given, has statements, names principals exactly when it
//     is a key policy, and holds only lower-cased actions and condition keys;
//   * a parsed policy re-serialises to a canonical document that parses to the same statements,
//     and that document is a fixpoint;
//   * LintKeyPolicy succeeds exactly when the text parses as a key policy, and then reports the
//     same as it does for the canonical document (same account): the report depends on what the
//     policy means, not on how it is written.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz/fuzz_checks.h"
#include "src/common/logger.h"
#include "src/operator/policy_lint.h"
#include "src/policy/policy.h"

namespace {

using lockout::fuzz::Check;
using lockout::policy::Condition;
using lockout::policy::Effect;
using lockout::policy::Policy;
using lockout::policy::PolicyKind;
using lockout::policy::PrincipalPattern;
using lockout::policy::Statement;
using ojson = nlohmann::ordered_json;

ojson Principals(const std::vector<PrincipalPattern>& principals) {
  ojson out = ojson::object();
  for (const PrincipalPattern& p : principals) {
    switch (p.kind) {
      case PrincipalPattern::Kind::kAnyone:
        out["AWS"].push_back("*");
        break;
      case PrincipalPattern::Kind::kAccount:
      case PrincipalPattern::Kind::kArn:
        out["AWS"].push_back(p.value);
        break;
      case PrincipalPattern::Kind::kService:
        out["Service"].push_back(p.value);
        break;
    }
  }
  return out;
}

// The canonical document of `policy`, or nullopt when two condition keys of one operator differ
// only in case (the parser lower-cases them, so they cannot be written back as separate keys).
std::optional<std::string> Canonical(const Policy& policy) {
  ojson doc = ojson::object();
  if (!policy.version().empty()) doc["Version"] = policy.version();
  if (!policy.id().empty()) doc["Id"] = policy.id();
  ojson statements = ojson::array();
  for (const Statement& s : policy.statements()) {
    ojson st = ojson::object();
    if (!s.sid.empty()) st["Sid"] = s.sid;
    st["Effect"] = s.effect == Effect::kAllow ? "Allow" : "Deny";
    if (policy.kind() == PolicyKind::kKeyPolicy) {
      st[s.principals_negated ? "NotPrincipal" : "Principal"] = Principals(s.principals);
    }
    st[s.actions_negated ? "NotAction" : "Action"] = s.actions;
    st[s.resources_negated ? "NotResource" : "Resource"] = s.resources;
    if (!s.conditions.empty()) {
      ojson block = ojson::object();
      for (const Condition& c : s.conditions) {
        ojson& keys = block[c.operator_name];
        if (keys.contains(c.key)) return std::nullopt;
        keys[c.key] = c.values;
      }
      st["Condition"] = std::move(block);
    }
    statements.push_back(std::move(st));
  }
  doc["Statement"] = std::move(statements);
  return doc.dump();
}

bool SameConditions(const std::vector<Condition>& a, const std::vector<Condition>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].operator_name != b[i].operator_name || a[i].op != b[i].op ||
        a[i].negated != b[i].negated || a[i].if_exists != b[i].if_exists || a[i].set != b[i].set ||
        a[i].key != b[i].key || a[i].values != b[i].values) {
      return false;
    }
  }
  return true;
}

bool SameStatements(const Policy& a, const Policy& b) {
  if (a.version() != b.version() || a.id() != b.id() ||
      a.statements().size() != b.statements().size()) {
    return false;
  }
  for (size_t i = 0; i < a.statements().size(); ++i) {
    const Statement& x = a.statements()[i];
    const Statement& y = b.statements()[i];
    if (x.sid != y.sid || x.effect != y.effect || x.principals_negated != y.principals_negated ||
        x.principals.size() != y.principals.size() || x.actions_negated != y.actions_negated ||
        x.actions != y.actions || x.resources_negated != y.resources_negated ||
        x.resources != y.resources || !SameConditions(x.conditions, y.conditions)) {
      return false;
    }
    for (size_t j = 0; j < x.principals.size(); ++j) {
      if (x.principals[j].kind != y.principals[j].kind ||
          x.principals[j].value != y.principals[j].value) {
        return false;
      }
    }
  }
  return true;
}

bool IsLower(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

// Parses `text` as `kind` and checks the parse; the policy when it parsed.
std::optional<Policy> ParseAndCheck(std::string_view text, PolicyKind kind) {
  absl::StatusOr<Policy> policy = Policy::Parse(text, kind);
  if (!policy.ok()) {
    lockout::fuzz::CheckErrorMessage(policy.status(), 400);
    Check(policy.status().code() == absl::StatusCode::kInvalidArgument,
          "error not InvalidArgument");
    return std::nullopt;
  }
  Check(text.find('\0') == std::string_view::npos, "a policy with a NUL byte was accepted");
  Check(policy->text() == text, "the policy text is not kept as given");
  Check(policy->kind() == kind && !policy->statements().empty(), "no statements");
  for (const Statement& s : policy->statements()) {
    Check(s.principals.empty() == (kind == PolicyKind::kIdentityPolicy),
          "principals do not match the policy kind");
    Check(!s.actions.empty() && !s.resources.empty(), "a statement without actions/resources");
    for (const std::string& a : s.actions) Check(IsLower(a), "an action is not lower-cased");
    for (const Condition& c : s.conditions) {
      Check(IsLower(c.key) && !c.values.empty(), "a condition key not lower-cased or no values");
    }
  }
  std::optional<std::string> canonical = Canonical(*policy);
  if (canonical.has_value()) {
    absl::StatusOr<Policy> again = Policy::Parse(*canonical, kind);
    // The canonical text can only outgrow the limit when the input was near it.
    if (!again.ok() && canonical->size() > lockout::policy::kMaxPolicyBytes) {
      return *std::move(policy);
    }
    Check(again.ok(), "the canonical policy does not parse");
    Check(SameStatements(*policy, *again), "the canonical policy parses differently");
    Check(Canonical(*again) == canonical, "the canonical policy is not a fixpoint");
  }
  return *std::move(policy);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    lockout::Logger::Default().SetLevel(lockout::LogLevel::kError);
    return true;
  }();
  (void)quiet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<Policy> key_policy = ParseAndCheck(text, PolicyKind::kKeyPolicy);
  (void)ParseAndCheck(text, PolicyKind::kIdentityPolicy);

  // Linting evaluates dozens of requests; only texts that parse get that far anyway.
  absl::StatusOr<lockout::ops::LintReport> report = lockout::ops::LintKeyPolicy(text);
  Check(report.ok() == key_policy.has_value(), "lint and Policy::Parse disagree");
  if (!report.ok()) {
    lockout::fuzz::CheckErrorMessage(report.status(), 500);
    return 0;
  }
  Check(report->statement_count == key_policy->statements().size(), "lint miscounts statements");
  Check(!report->Text().empty(), "empty lint text");
  const ojson as_json = report->ToJson();
  Check(!as_json.dump().empty(), "lint JSON does not serialise");
  const lockout::ops::LintVerdict verdict = report->verdict();
  Check((verdict != lockout::ops::LintVerdict::kNotLocked) == report->locked_to_enclave,
        "verdict disagrees with locked_to_enclave");

  std::optional<std::string> canonical = Canonical(*key_policy);
  if (!canonical.has_value() || canonical->size() > lockout::policy::kMaxPolicyBytes) return 0;
  const lockout::ops::LintOptions same_account{.account_id = report->account_id};
  absl::StatusOr<lockout::ops::LintReport> pinned = lockout::ops::LintKeyPolicy(text, same_account);
  absl::StatusOr<lockout::ops::LintReport> rewritten =
      lockout::ops::LintKeyPolicy(*canonical, same_account);
  Check(pinned.ok() && rewritten.ok(), "lint fails on the canonical policy");
  Check(pinned->ToJson() == as_json, "lint depends on more than the account option");
  Check(rewritten->ToJson() == as_json, "lint reports differently on the canonical policy");
  return 0;
}
