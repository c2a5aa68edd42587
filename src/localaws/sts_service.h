#pragma once

// Local AWS STS (query protocol, API version 2011-06-15; aws_query.h): AssumeRole and
// GetCallerIdentity, with local-aws's principals and roles (identity.h).
//
//   GetCallerIdentity  always allowed (as on AWS): Account, Arn, UserId of the caller.
//   AssumeRole         RoleArn (20..2048), RoleSessionName (2..64 of [A-Za-z0-9+=,.@_-]),
//                      DurationSeconds (900..43200, default 3600, at most the role's maximum
//                      session of 1 hour; at most 1 hour for a role session calling it: role
//                      chaining), ExternalId (2..1224; passed to the trust policy as
//                      sts:ExternalId). Allowed when the role's trust policy allows the caller
//                      sts:AssumeRole, evaluated like a resource policy: a trust policy naming
//                      the account needs the caller's identity policy to allow sts:AssumeRole on
//                      the role ARN (policy_evaluator.h). An unknown role is denied in the same
//                      words as a refused one: "User: ARN is not authorized to perform:
//                      sts:AssumeRole on resource: ROLEARN" (AccessDenied, 403), as on AWS.
//                      Session policies (Policy, PolicyArns), tags, MFA and source identity are
//                      refused with ValidationError: local-aws does not implement them.
//                      The reply's credentials (ASIA..., expiring) are accepted by every local-aws
//                      service as arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, with the role's
//                      identity policy; key policies naming the role ARN match them.
// Anything else: InvalidAction (400). Each decision is logged locally as "sts_authorization".
// Thread-safety: thread-safe.

#include <string_view>

#include "src/common/clock.h"
#include "src/localaws/identity.h"
#include "src/localaws/service.h"

namespace lockout::localaws {

inline constexpr std::string_view kStsXmlNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

class StsService final : public AwsQueryService {
 public:
  StsService(IdentityStore& identity, const Clock& clock);

  std::string_view signing_name() const override { return "sts"; }
  std::string_view xml_namespace() const override { return kStsXmlNamespace; }
  QueryResult Handle(std::string_view action, const QueryParams& params,
                     const CallContext& context) override;

 private:
  QueryResult AssumeRole(const QueryParams& params, const CallContext& context);
  QueryResult GetCallerIdentity(const CallContext& context);

  IdentityStore& identity_;
  const Clock& clock_;
};

}  // namespace lockout::localaws
