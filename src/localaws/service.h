#pragma once

// The interfaces local-aws services implement: AWS JSON 1.1 (KMS, Secrets Manager) and the query
// protocol (STS).

#include <string>
#include <string_view>

#include "src/localaws/aws_json.h"
#include "src/localaws/aws_query.h"
#include "src/policy/policy_evaluator.h"

namespace lockout::localaws {

// Who is calling, after SigV4 verification.
struct CallContext {
  policy::Principal caller;
  std::string access_key_id;
  std::string request_id;
};

class AwsJsonService {
 public:
  virtual ~AwsJsonService() = default;
  // The X-Amz-Target prefix ("TrentService", "secretsmanager") and the SigV4 service name
  // ("kms", "secretsmanager") this service answers.
  virtual std::string_view target_prefix() const = 0;
  virtual std::string_view signing_name() const = 0;
  // Runs one operation. `request` is a JSON object. Unknown operations must return
  // UnknownOperationException. Must be thread-safe.
  virtual AwsResult Handle(std::string_view operation, const Json& request,
                           const CallContext& context) = 0;
};

// A query-protocol service (form-encoded POST, XML replies). The frontend routes a request
// without X-Amz-Target and with a form body to the service whose signing name the request's
// SigV4 credential scope names (one port serves every service; AWS tells them apart by host).
class AwsQueryService {
 public:
  virtual ~AwsQueryService() = default;
  virtual std::string_view signing_name() const = 0;   // "sts"
  virtual std::string_view xml_namespace() const = 0;  // "https://sts.amazonaws.com/doc/..."
  // Runs `action` (the form's Action). Unknown actions must return InvalidAction. Must be
  // thread-safe.
  virtual QueryResult Handle(std::string_view action, const QueryParams& params,
                             const CallContext& context) = 0;
};

}  // namespace lockout::localaws
