#include "src/operator/policy_lint.h"

#include <algorithm>
#include <array>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/strings.h"
#include "src/policy/policy.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::ops {
namespace {

using Json = nlohmann::ordered_json;
using policy::Condition;
using policy::ConditionOperator;
using policy::Policy;
using policy::PolicyKind;
using policy::Principal;
using policy::PrincipalPattern;

constexpr std::string_view kAttestationPrefix = "kms:recipientattestation:";
constexpr std::string_view kDefaultAccount = "111122223333";
constexpr std::string_view kAllKmsIdentityPolicy =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]})";

// "kms:recipientattestation:imagesha384" -> "kms:RecipientAttestation:ImageSha384", "...:PCR8".
std::string CanonicalKey(std::string_view lower) {
  std::string_view rest = lower.substr(kAttestationPrefix.size());
  std::string name = rest == "imagesha384" ? "ImageSha384" : absl::AsciiStrToUpper(Absl(rest));
  return absl::StrCat("kms:RecipientAttestation:", name);
}

std::string StatementName(const policy::Statement& s, size_t index) {
  return s.sid.empty() ? absl::StrCat("#", index + 1) : absl::StrCat("\"", s.sid, "\"");
}

bool IsStringEquality(const Condition& c) {
  return c.op == ConditionOperator::kStringEquals ||
         c.op == ConditionOperator::kStringEqualsIgnoreCase;
}

std::string AccountOf(std::string_view arn) {
  std::array<std::string_view, 6> parts;
  if (policy::SplitArn(arn, parts) && policy::IsAccountId(parts[4])) {
    return std::string(parts[4]);
  }
  return "";
}

struct Probe {
  const Policy& policy;
  const std::vector<Policy>& identity;
  std::string key_arn;

  policy::Decision Decide(const Principal& who, std::string_view action,
                          const std::map<std::string, std::string>& keys) const {
    policy::RequestContext request;
    request.principal = who;
    request.action = std::string(action);
    request.resource = key_arn;
    for (const auto& [k, v] : keys) request.keys.Set(k, v);
    request.identity_policies = identity;
    return policy::Evaluate(policy, request);
  }
  bool Allowed(const Principal& who, std::string_view action,
               const std::map<std::string, std::string>& keys) const {
    return Decide(who, action, keys).allowed();
  }
  // An explicit Deny in the key policy: what still binds a grantee.
  bool ExplicitlyDenied(const Principal& who, std::string_view action,
                        const std::map<std::string, std::string>& keys) const {
    return Decide(who, action, keys).outcome == policy::Outcome::kExplicitDeny;
  }
};

// The attestation cases each subject is asked about.
struct AttestationCases {
  // other_policy: the pinned values with another PCR16 (another signing policy).
  std::map<std::string, std::string> none, pinned, other, debug, other_policy;
};

struct Who {
  std::string label;
  absl::StatusOr<Principal> principal;
  bool named;
};

// Phase 1: the principals the policy names (in order), the account, statements that delegate to
// IAM or allow anyone, Denies that AND negated attestation keys, and the pinned values.
std::vector<std::string> ReadStatements(const Policy& policy, LintReport& report) {
  std::vector<std::string> named;
  std::set<std::string> seen;
  for (size_t i = 0; i < policy.statements().size(); ++i) {
    const policy::Statement& s = policy.statements()[i];
    for (const PrincipalPattern& p : s.principals) {
      if (p.kind == PrincipalPattern::Kind::kArn && seen.insert(p.value).second) {
        named.push_back(p.value);
      }
      if (report.account_id.empty()) {
        report.account_id =
            p.kind == PrincipalPattern::Kind::kAccount ? p.value : AccountOf(p.value);
      }
      if (s.effect == policy::Effect::kAllow && !s.principals_negated &&
          p.kind == PrincipalPattern::Kind::kAccount) {
        report.delegating_statements.push_back(StatementName(s, i));
      }
      if (s.effect == policy::Effect::kAllow && !s.principals_negated &&
          p.kind == PrincipalPattern::Kind::kAnyone && s.conditions.empty()) {
        report.warnings.push_back(
            absl::StrCat("statement ", StatementName(s, i),
                         " allows ANYONE (Principal \"*\") with no condition"));
      }
    }
    size_t negated_attestation_keys = 0;
    for (const Condition& c : s.conditions) {
      if (!c.key.starts_with(kAttestationPrefix) || c.values.empty() || !IsStringEquality(c)) {
        continue;
      }
      const bool pins = (s.effect == policy::Effect::kAllow) != c.negated;
      if (pins) report.pinned.emplace(CanonicalKey(c.key), c.values.front());
      if (s.effect == policy::Effect::kDeny && c.negated) ++negated_attestation_keys;
    }
    if (negated_attestation_keys > 1) {
      report.warnings.push_back(absl::StrCat(
          "Deny statement ", StatementName(s, i), " negates ", negated_attestation_keys,
          " attestation keys in one block: they are ANDed, so it denies only when ALL differ; "
          "use one Deny statement per key"));
    }
  }
  return named;
}

// Phase 2: KMS sets both ImageSha384 and PCR0 from the document's PCR0; the cases to ask.
AttestationCases MakeCases(LintReport& report) {
  const std::string image_key = CanonicalKey("kms:recipientattestation:imagesha384");
  const std::string pcr0_key = CanonicalKey("kms:recipientattestation:pcr0");
  if (report.pinned.count(image_key) && !report.pinned.count(pcr0_key)) {
    report.pinned[pcr0_key] = report.pinned[image_key];
  } else if (report.pinned.count(pcr0_key) && !report.pinned.count(image_key)) {
    report.pinned[image_key] = report.pinned[pcr0_key];
  }
  AttestationCases c;
  c.pinned = report.pinned;
  c.other = c.pinned;
  c.other[image_key] = c.other[pcr0_key] = std::string(96, 'e');
  for (const auto& [k, v] : c.pinned) c.debug[k] = std::string(96, '0');
  c.debug[image_key] = c.debug[pcr0_key] = std::string(96, '0');
  c.other_policy = c.pinned;
  c.other_policy[std::string(kPcr16ConditionKey)] = std::string(96, 'f');
  return c;
}

// Phase 3: whom to ask — the account root, each named IAM role/user, another principal of the
// account, and one of another account.
std::vector<Who> Subjects(const LintReport& report, const std::vector<std::string>& named) {
  std::vector<Who> subjects;
  subjects.push_back({absl::StrCat("account root (arn:aws:iam::", report.account_id, ":root)"),
                      Principal::AccountRoot(report.account_id), false});
  for (const std::string& arn : named) {
    std::array<std::string_view, 6> parts;
    if (!policy::SplitArn(arn, parts) || parts[2] != "iam") continue;  // sessions: skip
    std::string_view resource = parts[5];
    if (resource.starts_with("role/")) {
      subjects.push_back({arn, Principal::AssumedRole(arn, "policy-lint"), true});
    } else if (resource.starts_with("user/")) {
      subjects.push_back(
          {arn, Principal::User(parts[4], resource.substr(resource.rfind('/') + 1)), true});
    }
  }
  subjects.push_back({"another IAM user or role of the account",
                      Principal::User(report.account_id, "any-other-principal"), false});
  const std::string foreign = report.account_id == "999988887777" ? "999988886666" : "999988887777";
  subjects.push_back(
      {"a principal of another AWS account", Principal::User(foreign, "outsider"), false});
  return subjects;
}

// Phase 4: the questions, for one subject.
LintSubject Interrogate(const Probe& probe, const Who& w, const Principal& who,
                        const AttestationCases& c) {
  LintSubject s;
  s.label = w.label;
  s.arn = who.arn;
  s.named_in_policy = w.named;
  s.decrypt_without_attestation = probe.Allowed(who, "kms:Decrypt", c.none);
  s.decrypt_pinned_enclave = probe.Allowed(who, "kms:Decrypt", c.pinned);
  s.decrypt_other_image = probe.Allowed(who, "kms:Decrypt", c.other);
  s.decrypt_debug_enclave = probe.Allowed(who, "kms:Decrypt", c.debug);
  s.decrypt_other_signing_policy = probe.Allowed(who, "kms:Decrypt", c.other_policy);
  s.put_key_policy = probe.Allowed(who, "kms:PutKeyPolicy", c.none);
  s.schedule_key_deletion = probe.Allowed(who, "kms:ScheduleKeyDeletion", c.none);
  s.encrypt = probe.Allowed(who, "kms:Encrypt", c.none);
  s.reencrypt_from = probe.Allowed(who, "kms:ReEncryptFrom", c.none);
  s.create_grant = probe.Allowed(who, "kms:CreateGrant", c.none);
  s.grant_leak = s.create_grant && (!probe.ExplicitlyDenied(who, "kms:Decrypt", c.none) ||
                                    !probe.ExplicitlyDenied(who, "kms:ReEncryptFrom", c.none));
  return s;
}

// Phase 5: the verdict and the warnings about subjects.
void Judge(LintReport& report) {
  report.locked_to_enclave = true;
  for (const LintSubject& s : report.subjects) {
    if (s.decrypt_without_attestation || s.decrypt_other_image || s.decrypt_debug_enclave ||
        s.reencrypt_from || s.grant_leak) {
      report.locked_to_enclave = false;
    }
    if (s.put_key_policy) report.policy_writers.push_back(s.label);
    if (s.reencrypt_from) {
      report.warnings.push_back(
          absl::StrCat(s.label,
                       " may call kms:ReEncryptFrom without attestation: it can re-encrypt the "
                       "ciphertext to a KMS key it controls and decrypt it there (the seed's "
                       "\"kms:ReEncrypt*\" grant does this)"));
    }
    if (s.grant_leak) {
      report.warnings.push_back(absl::StrCat(
          s.label,
          " may create grants (kms:CreateGrant) and no explicit Deny stops a grantee's Decrypt "
          "without attestation or ReEncryptFrom: it can grant itself the key"));
    }
  }
  if (report.pinned.empty()) {
    report.warnings.push_back(
        "no attestation condition (kms:RecipientAttestation:ImageSha384 / PCRn): decryption is "
        "not tied to any enclave");
  }
  if (!report.delegating_statements.empty()) {
    report.warnings.push_back(absl::StrCat(
        "statement(s) ", absl::StrJoin(report.delegating_statements, ", "),
        " name the account: every IAM user or role whose IAM policy allows it gets those actions, "
        "and whoever administers IAM can grant that"));
  }
  if (!report.policy_writers.empty()) {
    report.warnings.push_back(absl::StrCat(
        "whoever can change the policy (", absl::StrJoin(report.policy_writers, ", "),
        ") can also give itself Decrypt: the lock-out is only as strong as the protection of "
        "those principals (break-glass only: keep them off the parent instance, require MFA)"));
  } else {
    report.warnings.push_back(
        "nobody can change this policy (kms:PutKeyPolicy): it is immutable — a new enclave image "
        "needs a new KMS key; only AWS Support can restore access");
  }
}

bool IsPcrHex(std::string_view v) {
  return v.size() == 96 && std::all_of(v.begin(), v.end(), [](char ch) {
           return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
         });
}

// Phase 5b: the signing policy's seal (PCR16). Only warnings: the verdict is about the key's
// secrecy; PCR16 is about which signing policy the key's holder enforces.
void JudgeSigningPolicy(LintReport& report, const LintOptions& options) {
  auto finding = [&report](std::string text) {
    report.pcr16_findings.push_back(text);
    report.warnings.push_back(std::move(text));
  };
  const auto pin = report.pinned.find(std::string(kPcr16ConditionKey));
  const bool image_pinned =
      report.pinned.count(CanonicalKey("kms:recipientattestation:imagesha384")) > 0;
  bool someone_gets_around = false;
  for (const LintSubject& s : report.subjects) {
    if (s.decrypt_other_signing_policy) someone_gets_around = true;
  }
  if (pin != report.pinned.end()) report.pcr16_value = pin->second;
  if (pin != report.pinned.end() && !IsPcrHex(pin->second)) {
    report.pcr16_pin = Pcr16Pin::kWrongFormat;
    finding(
        absl::StrCat(Absl(kPcr16ConditionKey), " is pinned to a value that is not 96 hex digits (",
                     pin->second.size(),
                     " characters): no enclave's PCR16 can match it, so no enclave gets the key"));
  } else if (pin != report.pinned.end() && !someone_gets_around) {
    report.pcr16_pin = Pcr16Pin::kPinned;
  } else {
    report.pcr16_pin = Pcr16Pin::kNotPinned;
    if (pin != report.pinned.end()) {
      finding(absl::StrCat(
          Absl(kPcr16ConditionKey),
          " is pinned in one statement, but another lets an enclave with any PCR16 decrypt: the "
          "signing policy is not sealed"));
    }
  }
  report.expected_pcr16 = options.expected_pcr16;
  if (options.expected_pcr16.empty()) return;
  report.pcr16_matches_expected =
      report.pcr16_pin == Pcr16Pin::kPinned &&
      absl::EqualsIgnoreCase(report.pcr16_value, options.expected_pcr16);
  if (report.pcr16_pin == Pcr16Pin::kNotPinned) {
    finding(absl::StrCat(
        "the signing policy is NOT sealed: the key policy ",
        image_pinned ? "pins the enclave image (PCR0) but " : "", "does not pin ",
        Absl(kPcr16ConditionKey), " = ", options.expected_pcr16,
        ": root on the parent can boot the enclave with a signing policy of its own (a client of "
        "its own) and KMS still releases the key (lockout policy --signing-policy FILE)"));
  } else if (report.pcr16_pin == Pcr16Pin::kPinned && !report.pcr16_matches_expected) {
    finding(absl::StrCat(Absl(kPcr16ConditionKey), " is pinned to ", report.pcr16_value,
                         " but the signing policy gives ", options.expected_pcr16,
                         ": an enclave running this signing policy will be refused the key"));
  }
}

// Phase 6: what root on the parent instance can do. It holds the instance role's credentials
// (IMDS) and can start enclaves of its choice. The instance role is the role the policy lets
// decrypt from the pinned enclave; if none, every named role.
void JudgeParentRoot(LintReport& report) {
  std::vector<const LintSubject*> instance_roles;
  for (const LintSubject& s : report.subjects) {
    if (s.named_in_policy && s.decrypt_pinned_enclave) instance_roles.push_back(&s);
  }
  if (instance_roles.empty()) {
    for (const LintSubject& s : report.subjects) {
      if (s.named_in_policy && s.arn.find(":assumed-role/") != std::string::npos) {
        instance_roles.push_back(&s);
      }
    }
  }
  for (const LintSubject* r : instance_roles) {
    const std::string who = absl::StrCat("with ", r->label, "'s credentials");
    auto finding = [&](bool can, std::string what) {
      (can ? report.parent_root_can : report.parent_root_cannot)
          .push_back(absl::StrCat(what, " ", who));
    };
    finding(r->decrypt_without_attestation, "decrypt the key without any enclave");
    finding(r->decrypt_other_image,
            "decrypt the key from an enclave image of its own (different PCR0)");
    finding(r->decrypt_debug_enclave,
            "decrypt the key from a debug-mode enclave (all-zero PCRs, console readable)");
    finding(r->reencrypt_from,
            "re-encrypt the ciphertext to a key of its own (kms:ReEncryptFrom) and decrypt it");
    finding(r->grant_leak, "grant itself Decrypt or ReEncryptFrom (kms:CreateGrant)");
    finding(r->put_key_policy, "change the key policy");
    if (r->encrypt) {
      report.parent_root_can.push_back(absl::StrCat(
          "encrypt a key of its own choosing under this KMS key ", who,
          " and, if it may also write the secret, make the enclave load that key: clients that "
          "pin the enclave's public key (or check the attested public_key) notice"));
    }
  }
  if (report.pcr16_pin == Pcr16Pin::kPinned) {
    report.parent_root_cannot.push_back(
        "get the key into an enclave running a signing policy of its own (PCR16 is pinned): the "
        "key goes only to an enclave enforcing the sealed signing policy");
  } else {
    report.parent_root_can.push_back(
        "ask the running enclave to sign anything: the policy protects the key, not its use "
        "(control who reaches the enclave's vsock port)");
    if (!report.pinned.empty()) {
      report.parent_root_can.push_back(absl::StrCat(
          "boot the pinned image with a signing policy of its own (", Absl(kPcr16ConditionKey),
          " is not pinned): seal one with `lockout policy --signing-policy FILE`"));
    }
  }
  report.parent_root_can.push_back(
      "stop, restart or starve the enclave and the relay: availability is not protected");
  report.parent_root_can.push_back(
      "read and alter traffic between clients and the enclave on the parent: authenticate the "
      "enclave with `lockout attest` (fresh nonce, expected PCRs, bound public key)");
  report.parent_root_cannot.push_back(
      "read the key out of a running production-mode enclave's memory (Nitro isolation)");
}

}  // namespace

std::string_view Pcr16PinName(Pcr16Pin pin) {
  switch (pin) {
    case Pcr16Pin::kPinned:
      return "pinned";
    case Pcr16Pin::kWrongFormat:
      return "wrong format";
    case Pcr16Pin::kNotPinned:
      break;
  }
  return "not pinned";
}

std::string LintSubject::DecryptSummary() const {
  if (decrypt_without_attestation) return "CAN DECRYPT without any attestation";
  if (reencrypt_from) {
    return "CAN RE-ENCRYPT the ciphertext to a key of its own (kms:ReEncryptFrom) and decrypt it "
           "there, without any attestation";
  }
  if (grant_leak) {
    return "CAN GRANT ITSELF Decrypt or ReEncryptFrom (kms:CreateGrant) without any attestation";
  }
  if (decrypt_other_image && decrypt_debug_enclave) {
    return "can decrypt from ANY enclave (any image, debug mode too)";
  }
  if (decrypt_other_image) return "can decrypt from any enclave image (not in debug mode)";
  if (decrypt_debug_enclave) return "can decrypt from a DEBUG-mode enclave (all-zero PCRs)";
  if (decrypt_pinned_enclave) return "can decrypt only from the pinned enclave";
  return "cannot decrypt";
}

LintVerdict LintReport::verdict() const {
  if (!locked_to_enclave) return LintVerdict::kNotLocked;
  return policy_writers.empty() ? LintVerdict::kLocked : LintVerdict::kLockedExceptBreakGlass;
}

absl::StatusOr<LintReport> LintKeyPolicy(std::string_view policy_json, const LintOptions& options) {
  absl::StatusOr<Policy> parsed = Policy::Parse(policy_json, PolicyKind::kKeyPolicy);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a key policy KMS would accept: ", parsed.status().message()));
  }
  const Policy& policy = *parsed;
  LintReport report;
  report.statement_count = policy.statements().size();
  const std::vector<std::string> named = ReadStatements(policy, report);
  if (!options.account_id.empty()) report.account_id = options.account_id;
  if (report.account_id.empty()) report.account_id = std::string(kDefaultAccount);
  const AttestationCases cases = MakeCases(report);

  std::vector<Policy> identity;
  absl::StatusOr<Policy> all_kms =
      Policy::Parse(kAllKmsIdentityPolicy, PolicyKind::kIdentityPolicy);
  if (!all_kms.ok()) return all_kms.status();
  identity.push_back(*std::move(all_kms));
  const Probe probe{policy, identity,
                    absl::StrCat("arn:aws:kms:us-east-1:", report.account_id, ":key/policy-lint")};
  for (const Who& w : Subjects(report, named)) {
    if (!w.principal.ok()) continue;  // a name the engine cannot impersonate (e.g. odd characters)
    report.subjects.push_back(Interrogate(probe, w, *w.principal, cases));
  }
  Judge(report);
  JudgeSigningPolicy(report, options);
  JudgeParentRoot(report);
  return report;
}

std::string LintReport::Text() const {
  std::string out;
  absl::StrAppend(&out, "Key policy: ", statement_count, " statement(s), account ", account_id,
                  "\n");
  if (pinned.empty()) {
    absl::StrAppend(&out, "Pinned enclave: none\n");
  } else {
    absl::StrAppend(&out, "Pinned enclave:\n");
    for (const auto& [k, v] : pinned) absl::StrAppend(&out, "  ", k, " = ", v, "\n");
  }
  absl::StrAppend(&out, "Signing policy (", Absl(kPcr16ConditionKey),
                  "): ", Absl(Pcr16PinName(pcr16_pin)));
  if (!pcr16_value.empty()) absl::StrAppend(&out, " = ", pcr16_value);
  if (!expected_pcr16.empty()) {
    absl::StrAppend(&out,
                    pcr16_matches_expected ? " (matches the signing policy)"
                                           : " (does NOT match the signing policy's ",
                    pcr16_matches_expected ? "" : expected_pcr16 + ")");
  }
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, "\nWho can decrypt (assuming IAM allows everything, the worst case):\n");
  for (const LintSubject& s : subjects) {
    const bool ok_to_decrypt = s.decrypt_pinned_enclave && !s.decrypt_without_attestation &&
                               !s.decrypt_other_image && !s.decrypt_debug_enclave;
    const bool bad = s.decrypt_without_attestation || s.decrypt_other_image ||
                     s.decrypt_debug_enclave || s.reencrypt_from || s.grant_leak;
    absl::StrAppend(&out, "  ", bad ? "✗ " : (ok_to_decrypt ? "✓ " : "· "), s.label, ": ",
                    s.DecryptSummary(), "\n");
  }
  absl::StrAppend(&out, "\nWho can change the policy (kms:PutKeyPolicy):\n");
  bool any = false;
  for (const LintSubject& s : subjects) {
    if (!s.put_key_policy) continue;
    any = true;
    absl::StrAppend(&out, "  ", s.label,
                    s.schedule_key_deletion ? " (and can schedule the key's deletion)" : "", "\n");
  }
  if (!any) absl::StrAppend(&out, "  nobody\n");
  absl::StrAppend(&out, "\nAn attacker with root on the parent instance can:\n");
  for (const std::string& line : parent_root_can) absl::StrAppend(&out, "  - ", line, "\n");
  absl::StrAppend(&out, "and cannot:\n");
  for (const std::string& line : parent_root_cannot) absl::StrAppend(&out, "  - ", line, "\n");
  if (!warnings.empty()) {
    absl::StrAppend(&out, "\nWarnings:\n");
    for (const std::string& w : warnings) absl::StrAppend(&out, "  ! ", w, "\n");
  }
  absl::StrAppend(&out, "\nVerdict: ");
  switch (verdict()) {
    case LintVerdict::kLocked:
      absl::StrAppend(&out, "locked: the key is locked to the pinned enclave\n");
      break;
    case LintVerdict::kLockedExceptBreakGlass:
      absl::StrAppend(&out,
                      "locked except break-glass: the key is locked to the pinned enclave, but ",
                      absl::StrJoin(policy_writers, ", "),
                      " may rewrite the policy (and so give itself Decrypt)\n");
      break;
    case LintVerdict::kNotLocked:
      absl::StrAppend(&out, "NOT locked: the key is NOT locked to one enclave\n");
      break;
  }
  return out;
}

nlohmann::ordered_json LintReport::ToJson() const {
  Json out;
  out["account_id"] = account_id;
  out["statements"] = statement_count;
  out["pinned"] = Json(pinned);
  out["locked_to_enclave"] = locked_to_enclave;
  const LintVerdict v = verdict();
  out["verdict"] = v == LintVerdict::kLocked                   ? "locked"
                   : v == LintVerdict::kLockedExceptBreakGlass ? "locked except break-glass"
                                                               : "NOT locked";
  out["policy_writers"] = policy_writers;
  Json pcr16 = {{"pin", Pcr16PinName(pcr16_pin)}, {"value", pcr16_value}};
  if (!expected_pcr16.empty()) {
    pcr16["expected"] = expected_pcr16;
    pcr16["matches_expected"] = pcr16_matches_expected;
  }
  pcr16["findings"] = pcr16_findings;
  out["signing_policy_pcr16"] = std::move(pcr16);
  Json subjects_json = Json::array();
  for (const LintSubject& s : subjects) {
    subjects_json.push_back(Json{{"label", s.label},
                                 {"arn", s.arn},
                                 {"named_in_policy", s.named_in_policy},
                                 {"decrypt_without_attestation", s.decrypt_without_attestation},
                                 {"decrypt_pinned_enclave", s.decrypt_pinned_enclave},
                                 {"decrypt_other_image", s.decrypt_other_image},
                                 {"decrypt_debug_enclave", s.decrypt_debug_enclave},
                                 {"put_key_policy", s.put_key_policy},
                                 {"schedule_key_deletion", s.schedule_key_deletion},
                                 {"encrypt", s.encrypt},
                                 {"reencrypt_from", s.reencrypt_from},
                                 {"create_grant", s.create_grant},
                                 {"grant_leak", s.grant_leak},
                                 {"decrypt_other_signing_policy", s.decrypt_other_signing_policy}});
  }
  out["subjects"] = subjects_json;
  out["parent_root_can"] = parent_root_can;
  out["parent_root_cannot"] = parent_root_cannot;
  out["warnings"] = warnings;
  return out;
}

}  // namespace lockout::ops
