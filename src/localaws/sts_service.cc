#include "src/localaws/sts_service.h"

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/clock.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {
namespace {

AwsError StsValidation(std::string message) {
  return AwsError{"ValidationError", std::move(message), 400};
}

std::optional<std::string_view> Param(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

bool IsSessionNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("+=,.@_-").find(c) != std::string_view::npos;
}

std::string Envelope(std::string_view action, std::string_view result,
                     std::string_view request_id) {
  return absl::StrCat("<", Absl(action), "Response xmlns=\"", Absl(kStsXmlNamespace), "\">\n  <",
                      Absl(action), "Result>\n", Absl(result), "  </", Absl(action),
                      "Result>\n  <ResponseMetadata>\n    <RequestId>", XmlEscape(request_id),
                      "</RequestId>\n  </ResponseMetadata>\n</", Absl(action), "Response>\n");
}

}  // namespace

StsService::StsService(IdentityStore& identity, const Clock& clock)
    : identity_(identity), clock_(clock) {}

QueryResult StsService::Handle(std::string_view action, const QueryParams& params,
                               const CallContext& context) {
  if (action == "AssumeRole") return AssumeRole(params, context);
  if (action == "GetCallerIdentity") return GetCallerIdentity(context);
  return AwsError{"InvalidAction",
                  absl::StrCat("Could not find operation ", Absl(action).substr(0, 64),
                               " for version 2011-06-15"),
                  400};
}

QueryResult StsService::GetCallerIdentity(const CallContext& context) {
  const policy::Principal& p = context.caller;
  std::string result = absl::StrCat("    <Arn>", XmlEscape(p.arn), "</Arn>\n    <UserId>",
                                    XmlEscape(identity_.UserId(p)), "</UserId>\n    <Account>",
                                    XmlEscape(p.account), "</Account>\n");
  return Envelope("GetCallerIdentity", result, context.request_id);
}

QueryResult StsService::AssumeRole(const QueryParams& params, const CallContext& context) {
  for (std::string_view unsupported :
       {"Policy", "PolicyArns.member.1.arn", "Tags.member.1.Key", "TransitiveTagKeys.member.1",
        "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts.member.1.ProviderArn"}) {
    if (Param(params, unsupported).has_value()) {
      return StsValidation(absl::StrCat("local-aws does not implement AssumeRole's ",
                                        Absl(unsupported).substr(0, Absl(unsupported).find('.')),
                                        " parameter"));
    }
  }
  std::optional<std::string_view> role_arn = Param(params, "RoleArn");
  if (!role_arn.has_value()) {
    return StsValidation(
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null");
  }
  if (role_arn->size() < 20 || role_arn->size() > 2048) {
    return StsValidation(
        "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member "
        "must have length between 20 and 2048");
  }
  std::optional<std::string_view> session = Param(params, "RoleSessionName");
  if (!session.has_value()) {
    return StsValidation(
        "1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
        "constraint: Member must not be null");
  }
  bool session_ok = session->size() >= 2 && session->size() <= 64;
  for (char c : *session) session_ok = session_ok && IsSessionNameChar(c);
  if (!session_ok) {
    return StsValidation(
        "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 "
        "and 64");
  }
  int duration_seconds = 3600;
  if (std::optional<std::string_view> d = Param(params, "DurationSeconds")) {
    if (!absl::SimpleAtoi(Absl(*d), &duration_seconds) || duration_seconds < 900 ||
        duration_seconds > 43200) {
      return StsValidation(
          "1 validation error detected: Value at 'durationSeconds' failed to satisfy "
          "constraint: Member must have value between 900 and 43200");
    }
  }
  std::optional<std::string_view> external_id = Param(params, "ExternalId");
  if (external_id.has_value() && (external_id->size() < 2 || external_id->size() > 1224)) {
    return StsValidation(
        "1 validation error detected: Value at 'externalId' failed to satisfy constraint: "
        "Member must have length between 2 and 1224");
  }

  const policy::Principal& caller = context.caller;
  const AwsError denied{
      "AccessDenied",
      absl::StrCat("User: ", caller.arn,
                   " is not authorized to perform: sts:AssumeRole on resource: ", Absl(*role_arn)),
      403};
  const RoleInfo* role = identity_.FindRole(*role_arn);
  policy::Decision decision;
  if (role != nullptr) {
    policy::RequestContext rc;
    rc.principal = caller;
    rc.action = "sts:AssumeRole";
    rc.resource = role->arn;
    rc.identity_policies = identity_.IdentityPolicies(caller);
    if (external_id.has_value()) rc.keys.Add("sts:ExternalId", *external_id);
    decision = policy::Evaluate(*role->trust_policy, rc);
  }
  LogInfo("sts_authorization",
          {{"request_id", context.request_id},
           {"principal", caller.arn},
           {"role", std::string(role_arn->substr(0, 256))},
           {"allowed", decision.allowed()},
           {"reason", role == nullptr ? std::string("no such role") : decision.reason}});
  if (role == nullptr || !decision.allowed()) return denied;

  const absl::Duration max_session = caller.type == policy::PrincipalType::kAssumedRole
                                         ? absl::Hours(1)
                                         : identity_.options().role_max_session;
  if (absl::Seconds(duration_seconds) > max_session) {
    if (caller.type == policy::PrincipalType::kAssumedRole) {
      return StsValidation(
          "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
          "role chaining.");
    }
    return StsValidation(
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
  }
  policy::Principal session_principal;
  absl::StatusOr<IssuedCredentials> issued = identity_.IssueRoleSession(
      *role, *session, absl::Seconds(duration_seconds), &session_principal);
  if (!issued.ok()) {
    LogError("sts_issue_failed", {{"request_id", context.request_id},
                                  {"detail", std::string(issued.status().message())}});
    return AwsError{"InternalFailure", "An internal error occurred.", 500};
  }
  std::string result = absl::StrCat(
      "    <AssumedRoleUser>\n      <AssumedRoleId>",
      XmlEscape(identity_.UserId(session_principal)), "</AssumedRoleId>\n      <Arn>",
      XmlEscape(session_principal.arn),
      "</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>",
      XmlEscape(issued->access_key_id), "</AccessKeyId>\n      <SecretAccessKey>",
      // Base64: nothing to escape, and no unwiped escaped copy of the secret.
      Absl(issued->secret_access_key.RevealAsString()), "</SecretAccessKey>\n      <SessionToken>",
      XmlEscape(issued->session_token), "</SessionToken>\n      <Expiration>",
      FormatRfc3339(*issued->expiration), "</Expiration>\n    </Credentials>\n");
  std::string reply = Envelope("AssumeRole", result, context.request_id);
  WipeString(result);
  return reply;
}

}  // namespace lockout::localaws
