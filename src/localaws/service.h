#pragma once

// The interface each local-aws JSON 1.1 service (KMS, Secrets Manager) implements.

#include <string>
#include <string_view>

#include "src/localaws/aws_json.h"
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

}  // namespace lockout::localaws
