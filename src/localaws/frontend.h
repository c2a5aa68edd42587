#pragma once

// The HTTP front door of local-aws: IMDS paths go to ImdsService; a POST without X-Amz-Target
// whose Content-Type is application/x-www-form-urlencoded is a query-protocol call (STS) and goes
// to the query service its SigV4 credential scope names, answered in XML; everything else must be
// an AWS JSON 1.1 call (POST, X-Amz-Target "Prefix.Operation", a JSON object body) and goes to
// the service registered for the prefix. Every call must be signed with SigV4 by a known
// principal.
//
// Failures get the error AWS returns (__type + message); the specific reason goes to the local
// log only. Each request is logged as one JSON line: request id, target, principal, status,
// error type, latency. Bodies, signatures and tokens are never logged.
// Thread-safe once built (services must be registered before serving).

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "src/aws/sigv4_verifier.h"
#include "src/common/clock.h"
#include "src/http/http_server.h"
#include "src/localaws/identity.h"
#include "src/localaws/imds.h"
#include "src/localaws/service.h"

namespace lockout::localaws {

class Frontend {
 public:
  Frontend(IdentityStore& identity, ImdsService* imds, const Clock& clock);

  // Not owned; must outlive the frontend.
  void AddService(AwsJsonService* service);
  void AddQueryService(AwsQueryService* service);

  http::HttpResponse Handle(const aws::HttpRequest& request);

  // The reply for requests the HTTP server rejects itself (oversized, malformed).
  static http::HttpResponse ServerErrorResponse(http::HttpServerError error);

 private:
  AwsResult Dispatch(const aws::HttpRequest& request, std::string* target_out,
                     std::string* principal_out, const std::string& request_id);
  QueryResult DispatchQuery(const aws::HttpRequest& request, AwsQueryService** service_out,
                            std::string* target_out, std::string* principal_out,
                            const std::string& request_id);
  // Verifies the signature and finds the caller. Errors in JSON 1.1 terms.
  std::variant<std::pair<policy::Principal, std::string>, AwsError> Authenticate(
      const aws::HttpRequest& request, std::string_view signing_name,
      const std::string& request_id);
  void RebuildVerifier();

  IdentityStore& identity_;
  ImdsService* imds_;
  const Clock& clock_;
  std::vector<AwsJsonService*> services_;
  std::vector<AwsQueryService*> query_services_;
  std::unique_ptr<aws::SigV4Verifier> verifier_;
};

}  // namespace lockout::localaws
