#pragma once

// IMDSv2 as EC2 serves it, for the instance role of an IdentityStore:
//   PUT /latest/api/token            (X-aws-ec2-metadata-token-ttl-seconds: 1..21600) -> token
//   GET /latest/meta-data/iam/security-credentials/        -> role name
//   GET /latest/meta-data/iam/security-credentials/ROLE    -> {"Code":"Success", ... credentials}
//   GET /latest/meta-data/instance-id, /latest/meta-data/placement/region,
//       /latest/dynamic/instance-identity/document
// Every GET needs a live token in X-aws-ec2-metadata-token (401 otherwise: missing, expired,
// forged or from an earlier run, as EC2 answers); a PUT carrying X-Forwarded-For is refused
// (403), as IMDSv2 refuses proxied token requests. Tokens are stateless (imds_token.h), so no
// number of token requests can stop a later client from getting one.
// Thread-safe.

#include <string>

#include "src/aws/http_request.h"
#include "src/common/clock.h"
#include "src/http/http_server.h"
#include "src/localaws/identity.h"
#include "src/localaws/imds_token.h"

namespace lockout::localaws {

class ImdsService {
 public:
  ImdsService(IdentityStore& identity, const Clock& clock);

  // True for paths IMDS serves ("/latest/...").
  static bool Handles(const aws::HttpRequest& request);
  http::HttpResponse Handle(const aws::HttpRequest& request);

 private:
  http::HttpResponse IssueToken(const aws::HttpRequest& request);
  bool TokenValid(const aws::HttpRequest& request);

  IdentityStore& identity_;
  const Clock& clock_;
  ImdsTokenIssuer tokens_;
};

}  // namespace lockout::localaws
