#include "src/awsclient/failure_hint.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/aws_call_error.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

bool IsOneOf(std::string_view type, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (type == n) return true;
  }
  return false;
}

// The text of `message` between `start` and the next `end` (or its end); empty if absent.
std::string_view Between(std::string_view message, std::string_view start, std::string_view end) {
  const size_t from = message.find(start);
  if (from == std::string_view::npos) return {};
  std::string_view rest = message.substr(from + start.size());
  const size_t to = rest.find(end);
  return to == std::string_view::npos ? rest : rest.substr(0, to);
}

std::string_view Or(std::string_view setting, std::string_view standard) {
  return setting.empty() ? standard : setting;
}

std::string RegionWords(const AwsCallContext& c) {
  const std::string_view setting = Or(c.region_setting, "AWS_REGION");
  return c.region.empty() ? absl::StrCat("the region (", Absl(setting), ")")
                          : absl::StrCat(Absl(setting), " (now ", Absl(c.region), ")");
}

AwsFailureHint Make(AwsFailureCause cause, std::string what, std::string next_step) {
  return AwsFailureHint{cause, std::move(what), std::move(next_step)};
}

AwsFailureHint Connection(const absl::Status& status, const AwsCallContext& c) {
  return Make(
      AwsFailureCause::kConnection, absl::StrCat("could not reach AWS (", status.message(), ")"),
      absl::StrCat("check the endpoint: ",
                   Absl(Or(c.endpoint_setting, "AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL")),
                   " if set, else the service's endpoint in ", RegionWords(c),
                   "; then DNS, the proxy, the network path and the CA bundle (",
                   Absl(Or(c.ca_bundle_setting, "AWS_CA_BUNDLE")), ")"));
}

AwsFailureHint Region(const absl::Status& status, const AwsCallContext& c) {
  return Make(AwsFailureCause::kRegion,
              absl::StrCat("the endpoint serves another region than the request was signed for (",
                           status.message(), ")"),
              absl::StrCat("set ", Absl(Or(c.region_setting, "AWS_REGION")),
                           " to the region that holds the key and the secret, or point ",
                           Absl(Or(c.endpoint_setting, "AWS_ENDPOINT_URL")),
                           " at that region's endpoint; the request used ", RegionWords(c)));
}

AwsFailureHint Permission(const absl::Status& status, const AwsCallError& e,
                          const AwsCallContext& c) {
  // AWS: "User: ARN is not authorized to perform: ACTION on resource: RESOURCE [because ...]".
  std::string_view principal = Between(e.message, "User: ", " ");
  std::string_view action = Between(e.message, "perform: ", " ");
  std::string_view resource = Between(e.message, "on resource: ", " ");
  if (action.empty()) action = c.action;
  if (resource.empty()) resource = c.resource;
  const std::string who = principal.empty() ? "these credentials" : std::string(principal);
  const std::string act = action.empty() ? "this call" : std::string(action);
  const std::string on = resource.empty() ? "" : absl::StrCat(" on ", Absl(resource));
  return Make(AwsFailureCause::kPermission,
              absl::StrCat("permission denied: ", who, " may not call ", act, on, " (",
                           status.message(), ")"),
              absl::StrCat("allow ", act, " to ", who,
                           " (its IAM policy; for a KMS key also the key policy), or run as a "
                           "principal that has it"));
}

AwsFailureHint NotFound(const absl::Status& status, const AwsCallContext& c) {
  const std::string what = c.resource.empty() ? "the resource" : std::string(c.resource);
  std::string next = absl::StrCat("check the name, ", RegionWords(c),
                                  " and that these credentials belong to the account that "
                                  "holds it");
  if (!c.if_missing.empty()) absl::StrAppend(&next, "; ", Absl(c.if_missing));
  return Make(AwsFailureCause::kNotFound,
              absl::StrCat(what, " does not exist",
                           c.region.empty() ? "" : absl::StrCat(" in ", Absl(c.region)), " (",
                           status.message(), ")"),
              std::move(next));
}

AwsFailureHint Credentials(const absl::Status& status, const AwsCallError* e) {
  const std::string_view type = e == nullptr ? std::string_view() : std::string_view(e->type);
  const absl::string_view message = status.message();
  if (e == nullptr) {
    // The credential chain's own error names every source it tried and ends with what to set.
    if (absl::StrContains(message, "AWS_ACCESS_KEY_ID")) {
      return Make(AwsFailureCause::kCredentials, std::string(message), "");
    }
    return Make(AwsFailureCause::kCredentials,
                absl::StrCat("no usable AWS credentials (", message, ")"),
                std::string(kSetCredentialsStep));
  }
  if (absl::StrContains(message, "Signature expired") ||
      absl::StrContains(message, "Signature not yet current")) {
    return Make(AwsFailureCause::kCredentials,
                absl::StrCat("the request's time is too far from AWS's clock (", message, ")"),
                "set this machine's clock right (chrony or systemd-timesyncd)");
  }
  if (IsOneOf(type, {"ExpiredTokenException", "ExpiredToken"})) {
    return Make(AwsFailureCause::kCredentials,
                absl::StrCat("the AWS credentials have expired (", message, ")"),
                "get new ones: refresh the session (aws sso login, assume the role again) or "
                "unset a stale AWS_SESSION_TOKEN");
  }
  if (IsOneOf(type, {"InvalidSignatureException", "SignatureDoesNotMatch"})) {
    return Make(AwsFailureCause::kCredentials,
                absl::StrCat("AWS rejected the signature: the secret key does not belong to the "
                             "access key (",
                             message, ")"),
                "check AWS_SECRET_ACCESS_KEY (or the profile's aws_secret_access_key) against "
                "AWS_ACCESS_KEY_ID");
  }
  return Make(AwsFailureCause::kCredentials,
              absl::StrCat("AWS does not recognise these credentials (", message, ")"),
              "check AWS_ACCESS_KEY_ID / AWS_PROFILE: the key may be mistyped, deleted or from "
              "another account; temporary keys need their AWS_SESSION_TOKEN");
}

}  // namespace

std::string_view AwsFailureCauseName(AwsFailureCause cause) {
  switch (cause) {
    case AwsFailureCause::kConnection:
      return "connection";
    case AwsFailureCause::kRegion:
      return "region";
    case AwsFailureCause::kCredentials:
      return "credentials";
    case AwsFailureCause::kPermission:
      return "permission";
    case AwsFailureCause::kNotFound:
      return "not_found";
    case AwsFailureCause::kThrottled:
      return "throttled";
    case AwsFailureCause::kOther:
      break;
  }
  return "other";
}

std::string AwsFailureHint::Text() const {
  return next_step.empty() ? what : absl::StrCat(what, "; ", next_step);
}

AwsFailureHint ExplainAwsFailure(const absl::Status& status, const AwsCallContext& context) {
  const std::optional<AwsCallError> e = GetAwsCallError(status);
  if (!e.has_value()) {
    const absl::string_view message = status.message();
    if (absl::StrContains(message, "no AWS credentials") ||
        absl::StrContains(message, "no credentials")) {
      return Credentials(status, nullptr);
    }
    if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
        absl::StrContains(message, "TLS certificate")) {
      return Connection(status, context);
    }
    return Make(AwsFailureCause::kOther, std::string(message), "");
  }
  const std::string_view type = e->type;
  if (IsOneOf(type, {"InvalidSignatureException", "SignatureDoesNotMatch"}) &&
      absl::StrContains(e->message, "valid region")) {
    return Region(status, context);
  }
  if (IsOneOf(type, {"InvalidSignatureException"}) &&
      absl::StrContains(e->message, "scoped to correct service")) {
    return Connection(status, context);  // the endpoint is another service's
  }
  switch (StatusCodeForAwsError(*e)) {
    case absl::StatusCode::kPermissionDenied:
      return Permission(status, *e, context);
    case absl::StatusCode::kUnauthenticated:
      return Credentials(status, &*e);
    case absl::StatusCode::kNotFound:
      return NotFound(status, context);
    default:
      break;
  }
  if (IsRetryableAwsError(*e) && e->http_status < 500) {
    return Make(AwsFailureCause::kThrottled,
                absl::StrCat("AWS is throttling these requests (", status.message(), ")"),
                "wait and try again; lower the request rate or ask AWS for a higher quota");
  }
  if (e->http_status >= 500) {
    return Make(AwsFailureCause::kOther,
                absl::StrCat("AWS had a server error (", status.message(), ")"),
                "try again later; AWS Health Dashboard shows service events");
  }
  return Make(AwsFailureCause::kOther, std::string(status.message()), "");
}

}  // namespace lockout::awsclient
