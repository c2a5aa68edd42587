#include "src/policy/policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::policy {
namespace {

// ordered_json keeps the document's field order, so the first defect reported is the first
// one as written.
using json = nlohmann::ordered_json;

// Policies are at most a few levels deep (document > Statement[] > statement > Condition >
// operator > key > values[]); anything deeper is not a policy.
constexpr int kMaxJsonDepth = 16;
constexpr size_t kMaxEchoedChars = 64;

// A field name or value from the document, fit for an error message: short printable ASCII is
// quoted as is, anything else is replaced (policies are not secret, but error text is read by
// people and logs, so keep it bounded and free of control characters).
std::string Echo(std::string_view s) {
  if (s.size() > kMaxEchoedChars) return absl::StrCat("<", s.size(), " chars>");
  for (char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return "<unprintable>";
  }
  return absl::StrCat("\"", Absl(s), "\"");
}

absl::Status Malformed(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed policy: ", Absl(where), ": ", Absl(what)));
}

std::string StatementWhere(size_t index, std::string_view sid) {
  if (sid.empty()) return absl::StrCat("statement ", index);
  return absl::StrCat("statement ", index, " (Sid ", Echo(sid), ")");
}

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool HasWildcard(std::string_view s) { return s.find_first_of("*?") != std::string_view::npos; }

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Absl(s)); }

// Parses JSON, rejecting duplicate object keys (which nlohmann would silently collapse: a
// document saying both "Effect": "Deny" and "Effect": "Allow" must not be read either way) and
// excessive nesting. nlohmann's parser is iterative, so depth is a sanity bound, not a stack
// guard. A NUL byte would end nlohmann's input early (RejectNulBytes): refused first.
absl::StatusOr<json> ParseJsonStrict(std::string_view text) {
  if (absl::Status nul = RejectNulBytes(text); !nul.ok()) {
    return Malformed("document", std::string(nul.message()));
  }
  std::vector<std::set<std::string>> open_objects;
  bool duplicate = false;
  bool too_deep = false;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        if (depth >= kMaxJsonDepth) too_deep = true;
        break;
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) too_deep = true;
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    // e.what() quotes the input near the error; report only the offset.
    return absl::InvalidArgumentError(
        absl::StrCat("malformed policy: not valid JSON (error at byte ", e.byte, ")"));
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed policy: not valid JSON (error ", e.id, ")"));
  }
  if (duplicate) return Malformed("document", "duplicate key in a JSON object");
  if (too_deep) return Malformed("document", "nested too deeply");
  return doc;
}

// A string or a non-empty array of strings.
absl::StatusOr<std::vector<std::string>> StringList(const json& value, std::string_view where) {
  std::vector<std::string> out;
  if (value.is_string()) {
    out.push_back(value.get<std::string>());
    return out;
  }
  if (!value.is_array()) return Malformed(where, "must be a string or an array of strings");
  if (value.empty()) return Malformed(where, "must not be an empty array");
  for (const json& item : value) {
    if (!item.is_string()) return Malformed(where, "array elements must be strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool IsPartition(std::string_view p) {
  return !p.empty() &&
         std::all_of(p.begin(), p.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '-'; });
}

// IAM names (user, role, session): non-empty, printable, no ':' '/' or wildcards. A user or
// role name may carry a path ("path/name"), which we accept as the resource remainder.
bool IsIamName(std::string_view s) {
  return !s.empty() && IsPrintableAscii(s) && s.find_first_of(":/*? ") == std::string_view::npos;
}

bool IsIamPathAndName(std::string_view s) {
  if (s.empty() || s.back() == '/' || s.front() == '/') return false;
  return IsPrintableAscii(s) && s.find_first_of(":*? ") == std::string_view::npos;
}

absl::StatusOr<PrincipalPattern> ParseAwsPrincipal(std::string_view s, std::string_view where) {
  using Kind = PrincipalPattern::Kind;
  if (s == "*") return PrincipalPattern{Kind::kAnyone, ""};
  if (IsAccountId(s)) return PrincipalPattern{Kind::kAccount, std::string(s)};
  std::array<std::string_view, 6> parts;
  const absl::Status invalid = Malformed(where, absl::StrCat("invalid AWS principal ", Echo(s)));
  // Partial wildcards ("arn:aws:iam::1234:role/*") do not name principals; AWS rejects them in
  // key policies, and so do we.
  if (HasWildcard(s) || !SplitArn(s, parts)) return invalid;
  const std::string_view partition = parts[1], service = parts[2], region = parts[3],
                         account = parts[4], resource = parts[5];
  if (!IsPartition(partition) || !region.empty() || !IsAccountId(account)) return invalid;
  if (service == "iam") {
    if (resource == "root") return PrincipalPattern{Kind::kAccount, std::string(account)};
    for (std::string_view prefix : {"user/", "role/"}) {
      if (absl::StartsWith(Absl(resource), Absl(prefix)) &&
          IsIamPathAndName(resource.substr(prefix.size()))) {
        return PrincipalPattern{Kind::kArn, std::string(s)};
      }
    }
    return invalid;
  }
  if (service == "sts") {
    constexpr std::string_view kPrefix = "assumed-role/";
    if (!absl::StartsWith(Absl(resource), Absl(kPrefix))) return invalid;
    std::string_view rest = resource.substr(kPrefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || !IsIamName(rest.substr(0, slash)) ||
        !IsIamName(rest.substr(slash + 1))) {
      return invalid;
    }
    return PrincipalPattern{Kind::kArn, std::string(s)};
  }
  return invalid;
}

absl::StatusOr<std::vector<PrincipalPattern>> ParsePrincipal(const json& value,
                                                             std::string_view where) {
  std::vector<PrincipalPattern> out;
  if (value.is_string()) {
    if (value.get<std::string>() != "*") {
      return Malformed(where, "a string principal must be \"*\"; use {\"AWS\": ...}");
    }
    out.push_back(PrincipalPattern{PrincipalPattern::Kind::kAnyone, ""});
    return out;
  }
  if (!value.is_object() || value.empty()) {
    return Malformed(where, "must be \"*\" or a non-empty object");
  }
  for (const auto& [type, names] : value.items()) {
    const std::string type_where = absl::StrCat(Absl(where), ".", Absl(Echo(type)));
    ASSIGN_OR_RETURN(std::vector<std::string> list, StringList(names, type_where));
    if (type == "AWS") {
      for (const std::string& name : list) {
        ASSIGN_OR_RETURN(PrincipalPattern p, ParseAwsPrincipal(name, type_where));
        out.push_back(std::move(p));
      }
    } else if (type == "Service") {
      for (const std::string& name : list) {
        if (name.empty() || !IsPrintableAscii(name) || HasWildcard(name)) {
          return Malformed(type_where, "invalid service principal");
        }
        out.push_back(PrincipalPattern{PrincipalPattern::Kind::kService, name});
      }
    } else {
      return Malformed(where, absl::StrCat("unsupported principal type ", Echo(type)));
    }
  }
  return out;
}

// "*" or "service:name" with a plain service prefix; wildcards only in the name.
bool IsValidAction(std::string_view a) {
  if (a == "*") return true;
  size_t colon = a.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size()) return false;
  std::string_view service = a.substr(0, colon), name = a.substr(colon + 1);
  auto service_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  };
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '*' || c == '?' || c == '-';
  };
  return std::all_of(service.begin(), service.end(), service_char) &&
         std::all_of(name.begin(), name.end(), name_char);
}

bool IsValidResource(std::string_view r) {
  if (r == "*") return true;
  return absl::StartsWith(Absl(r), "arn:") && IsPrintableAscii(r) &&
         r.find(' ') == std::string_view::npos;
}

struct OperatorInfo {
  std::string_view name;
  ConditionOperator op;
  bool negated;
};

constexpr std::array<OperatorInfo, 12> kOperators = {{
    {"StringEquals", ConditionOperator::kStringEquals, false},
    {"StringNotEquals", ConditionOperator::kStringEquals, true},
    {"StringEqualsIgnoreCase", ConditionOperator::kStringEqualsIgnoreCase, false},
    {"StringNotEqualsIgnoreCase", ConditionOperator::kStringEqualsIgnoreCase, true},
    {"StringLike", ConditionOperator::kStringLike, false},
    {"StringNotLike", ConditionOperator::kStringLike, true},
    {"ArnEquals", ConditionOperator::kArnLike, false},
    {"ArnNotEquals", ConditionOperator::kArnLike, true},
    {"ArnLike", ConditionOperator::kArnLike, false},
    {"ArnNotLike", ConditionOperator::kArnLike, true},
    {"Bool", ConditionOperator::kBool, false},
    {"Null", ConditionOperator::kNull, false},
}};

// Operator names are matched exactly as AWS spells them.
absl::StatusOr<Condition> ParseOperator(std::string_view name, std::string_view where) {
  Condition c;
  c.operator_name = std::string(name);
  std::string_view rest = name;
  for (auto [prefix, set] :
       {std::pair<std::string_view, SetQualifier>{"ForAnyValue:", SetQualifier::kForAnyValue},
        {"ForAllValues:", SetQualifier::kForAllValues}}) {
    if (absl::StartsWith(Absl(rest), Absl(prefix))) {
      c.set = set;
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  constexpr std::string_view kIfExists = "IfExists";
  if (absl::EndsWith(Absl(rest), Absl(kIfExists))) {
    c.if_exists = true;
    rest.remove_suffix(kIfExists.size());
  }
  auto it = std::find_if(kOperators.begin(), kOperators.end(),
                         [&](const OperatorInfo& info) { return info.name == rest; });
  if (it == kOperators.end()) {
    for (std::string_view family : {"Numeric", "Date", "IpAddress", "NotIpAddress", "Binary"}) {
      if (absl::StartsWith(Absl(rest), Absl(family))) {
        return Malformed(where, absl::StrCat("unsupported condition operator ", Echo(name)));
      }
    }
    return Malformed(where, absl::StrCat("unknown condition operator ", Echo(name)));
  }
  c.op = it->op;
  c.negated = it->negated;
  if (c.op == ConditionOperator::kNull && (c.set != SetQualifier::kNone || c.if_exists)) {
    return Malformed(where, "Null takes no ForAnyValue/ForAllValues/IfExists qualifier");
  }
  return c;
}

// A condition value: a string, a boolean or a number (AWS accepts all three and compares them
// as text).
absl::StatusOr<std::string> ConditionScalar(const json& v, std::string_view where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  return Malformed(where, "condition values must be strings, booleans or integers");
}

absl::StatusOr<std::vector<Condition>> ParseConditionBlock(const json& block,
                                                           std::string_view where) {
  if (!block.is_object() || block.empty()) return Malformed(where, "must be a non-empty object");
  std::vector<Condition> out;
  for (const auto& [op_name, keys] : block.items()) {
    const std::string op_where = absl::StrCat(Absl(where), ".", Absl(Echo(op_name)));
    ASSIGN_OR_RETURN(Condition prototype, ParseOperator(op_name, where));
    if (!keys.is_object() || keys.empty()) {
      return Malformed(op_where, "must be a non-empty object of condition keys");
    }
    for (const auto& [key, values] : keys.items()) {
      if (key.empty() || key.size() > 256 || !IsPrintableAscii(key)) {
        return Malformed(op_where, "invalid condition key name");
      }
      const std::string key_where = absl::StrCat(Absl(op_where), ".", Absl(Echo(key)));
      Condition c = prototype;
      c.key = Lower(key);
      if (values.is_array()) {
        if (values.empty()) return Malformed(key_where, "must not be an empty array");
        for (const json& v : values) {
          ASSIGN_OR_RETURN(std::string s, ConditionScalar(v, key_where));
          c.values.push_back(std::move(s));
        }
      } else {
        ASSIGN_OR_RETURN(std::string s, ConditionScalar(values, key_where));
        c.values.push_back(std::move(s));
      }
      if (c.op == ConditionOperator::kBool || c.op == ConditionOperator::kNull) {
        for (std::string& v : c.values) {
          v = Lower(v);
          if (v != "true" && v != "false") {
            return Malformed(key_where, absl::StrCat(Absl(prototype.operator_name),
                                                     " values must be \"true\" or \"false\""));
          }
        }
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

// Reads the X / NotX pair of a statement: exactly one must be present.
struct Pair {
  const json* value = nullptr;
  bool negated = false;
};

absl::StatusOr<Pair> ExactlyOne(const json& stmt, const char* name, const char* not_name,
                                std::string_view where) {
  bool has = stmt.contains(name), has_not = stmt.contains(not_name);
  if (has && has_not) {
    return Malformed(where, absl::StrCat("has both ", name, " and ", not_name));
  }
  if (!has && !has_not) return Malformed(where, absl::StrCat("needs ", name, " or ", not_name));
  return Pair{has ? &stmt.at(name) : &stmt.at(not_name), has_not};
}

absl::StatusOr<Statement> ParseStatement(const json& stmt, size_t index, PolicyKind kind) {
  std::string where = StatementWhere(index, "");
  if (!stmt.is_object()) return Malformed(where, "must be an object");

  Statement s;
  if (stmt.contains("Sid")) {
    if (!stmt.at("Sid").is_string()) return Malformed(where, "Sid must be a string");
    s.sid = stmt.at("Sid").get<std::string>();
    where = StatementWhere(index, s.sid);
  }
  static constexpr std::array<std::string_view, 9> kFields = {
      "Sid",       "Effect",   "Principal",   "NotPrincipal", "Action",
      "NotAction", "Resource", "NotResource", "Condition"};
  for (const auto& [field, unused] : stmt.items()) {
    if (std::find(kFields.begin(), kFields.end(), field) == kFields.end()) {
      return Malformed(where, absl::StrCat("unknown field ", Echo(field)));
    }
  }

  if (!stmt.contains("Effect")) return Malformed(where, "missing Effect");
  const json& effect = stmt.at("Effect");
  if (effect == "Allow") {
    s.effect = Effect::kAllow;
  } else if (effect == "Deny") {
    s.effect = Effect::kDeny;
  } else {
    return Malformed(where, "Effect must be \"Allow\" or \"Deny\"");
  }

  bool has_principal = stmt.contains("Principal") || stmt.contains("NotPrincipal");
  if (kind == PolicyKind::kIdentityPolicy) {
    if (has_principal) return Malformed(where, "an identity policy must not name a Principal");
  } else {
    ASSIGN_OR_RETURN(Pair principal, ExactlyOne(stmt, "Principal", "NotPrincipal", where));
    s.principals_negated = principal.negated;
    if (s.principals_negated && s.effect != Effect::kDeny) {
      return Malformed(where, "NotPrincipal is only supported with Effect Deny");
    }
    ASSIGN_OR_RETURN(
        s.principals,
        ParsePrincipal(*principal.value,
                       absl::StrCat(where, principal.negated ? ".NotPrincipal" : ".Principal")));
  }

  ASSIGN_OR_RETURN(Pair action, ExactlyOne(stmt, "Action", "NotAction", where));
  const std::string action_where = absl::StrCat(where, action.negated ? ".NotAction" : ".Action");
  ASSIGN_OR_RETURN(std::vector<std::string> actions, StringList(*action.value, action_where));
  for (std::string& a : actions) {
    if (!IsValidAction(a)) return Malformed(action_where, absl::StrCat("invalid action ", Echo(a)));
    a = Lower(a);
  }
  s.actions_negated = action.negated;
  s.actions = std::move(actions);

  ASSIGN_OR_RETURN(Pair resource, ExactlyOne(stmt, "Resource", "NotResource", where));
  const std::string resource_where =
      absl::StrCat(where, resource.negated ? ".NotResource" : ".Resource");
  ASSIGN_OR_RETURN(s.resources, StringList(*resource.value, resource_where));
  for (const std::string& r : s.resources) {
    if (!IsValidResource(r)) {
      return Malformed(resource_where, absl::StrCat("invalid resource ", Echo(r)));
    }
  }
  s.resources_negated = resource.negated;

  if (stmt.contains("Condition")) {
    ASSIGN_OR_RETURN(s.conditions,
                     ParseConditionBlock(stmt.at("Condition"), absl::StrCat(where, ".Condition")));
  }
  return s;
}

}  // namespace

bool IsAccountId(std::string_view s) {
  return s.size() == 12 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool SplitArn(std::string_view arn, std::array<std::string_view, 6>& parts) {
  size_t start = 0;
  for (size_t i = 0; i < 5; ++i) {
    size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) return false;
    parts[i] = arn.substr(start, colon - start);
    start = colon + 1;
  }
  parts[5] = arn.substr(start);
  return parts[0] == "arn";
}

absl::StatusOr<Policy> Policy::Parse(std::string_view text, PolicyKind kind) {
  if (text.size() > kMaxPolicyBytes) {
    return Malformed("document",
                     absl::StrCat(text.size(), " bytes exceeds the limit of ", kMaxPolicyBytes));
  }
  ASSIGN_OR_RETURN(json doc, ParseJsonStrict(text));
  if (!doc.is_object()) return Malformed("document", "must be a JSON object");

  Policy policy;
  policy.kind_ = kind;
  for (const auto& [field, value] : doc.items()) {
    if (field == "Version") {
      if (value != "2012-10-17" && value != "2008-10-17") {
        return Malformed("Version", "must be \"2012-10-17\" or \"2008-10-17\"");
      }
      policy.version_ = value.get<std::string>();
    } else if (field == "Id") {
      if (!value.is_string()) return Malformed("Id", "must be a string");
      policy.id_ = value.get<std::string>();
    } else if (field != "Statement") {
      return Malformed("document", absl::StrCat("unknown field ", Echo(field)));
    }
  }
  if (!doc.contains("Statement")) return Malformed("document", "missing Statement");
  const json& statements = doc.at("Statement");
  if (statements.is_object()) {
    ASSIGN_OR_RETURN(Statement s, ParseStatement(statements, 0, kind));
    policy.statements_.push_back(std::move(s));
  } else if (statements.is_array()) {
    if (statements.empty()) return Malformed("Statement", "must not be empty");
    for (size_t i = 0; i < statements.size(); ++i) {
      ASSIGN_OR_RETURN(Statement s, ParseStatement(statements[i], i, kind));
      policy.statements_.push_back(std::move(s));
    }
  } else {
    return Malformed("Statement", "must be an object or an array of objects");
  }
  policy.text_ = std::string(text);
  return policy;
}

absl::StatusOr<std::string> DefaultKeyPolicy(std::string_view account_id) {
  if (!IsAccountId(account_id)) {
    return absl::InvalidArgumentError("default key policy: account id must be 12 digits");
  }
  // The policy AWS KMS attaches to a key created without one ("Id": "key-default-1").
  nlohmann::ordered_json policy = {
      {"Version", "2012-10-17"},
      {"Id", "key-default-1"},
      {"Statement",
       nlohmann::ordered_json::array(
           {{{"Sid", "Enable IAM User Permissions"},
             {"Effect", "Allow"},
             {"Principal", {{"AWS", absl::StrCat("arn:aws:iam::", Absl(account_id), ":root")}}},
             {"Action", "kms:*"},
             {"Resource", "*"}}})}};
  return policy.dump(2);
}

}  // namespace lockout::policy
