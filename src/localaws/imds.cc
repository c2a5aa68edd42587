#include "src/localaws/imds.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/strings.h"

namespace lockout::localaws {
namespace {

std::string IsoSeconds(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

ImdsService::ImdsService(IdentityStore& identity, const Clock& clock)
    : identity_(identity), clock_(clock), tokens_(clock) {}

bool ImdsService::Handles(const aws::HttpRequest& request) {
  return absl::StartsWith(Absl(request.Path()), "/latest/");
}

http::HttpResponse ImdsService::IssueToken(const aws::HttpRequest& request) {
  if (request.FindHeader("X-Forwarded-For")) return http::HttpResponse::Text(403, "Forbidden\n");
  auto ttl_text = request.FindHeader("X-aws-ec2-metadata-token-ttl-seconds");
  int64_t ttl = 0;
  if (!ttl_text || !absl::SimpleAtoi(Absl(*ttl_text), &ttl)) {
    return http::HttpResponse::Text(400, "Bad Request\n");
  }
  absl::StatusOr<std::string> token = tokens_.Issue(ttl);
  if (!token.ok()) return http::HttpResponse::Text(400, "Bad Request\n");
  http::HttpResponse r = http::HttpResponse::Text(200, *std::move(token));
  r.headers.push_back({"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(ttl)});
  return r;
}

bool ImdsService::TokenValid(const aws::HttpRequest& request) {
  auto token = request.FindHeader("X-aws-ec2-metadata-token");
  return token && tokens_.Valid(*token);
}

http::HttpResponse ImdsService::Handle(const aws::HttpRequest& request) {
  std::string_view path = request.Path();
  if (path == "/latest/api/token") {
    if (request.method != "PUT") return http::HttpResponse::Text(405, "Method Not Allowed\n");
    return IssueToken(request);
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return http::HttpResponse::Text(405, "Method Not Allowed\n");
  }
  if (!TokenValid(request)) return http::HttpResponse::Text(401, "Unauthorized\n");
  const IdentityOptions& o = identity_.options();
  const std::string creds_prefix = "/latest/meta-data/iam/security-credentials/";
  if (path == creds_prefix) return http::HttpResponse::Text(200, o.instance_role_name);
  if (path == creds_prefix + o.instance_role_name) {
    absl::StatusOr<IssuedCredentials> c = identity_.InstanceCredentials();
    if (!c.ok()) return http::HttpResponse::Text(500, "Internal Error\n");
    nlohmann::ordered_json j = {
        {"Code", "Success"},
        {"LastUpdated", IsoSeconds(clock_.Now())},
        {"Type", "AWS-HMAC"},
        {"AccessKeyId", c->access_key_id},
        {"SecretAccessKey", std::string(c->secret_access_key.RevealAsString())},
        {"Token", c->session_token},
        {"Expiration", IsoSeconds(c->expiration.value_or(clock_.Now()))}};
    std::string body = j.dump(2);
    http::HttpResponse r = http::HttpResponse::Json(200, body, "text/plain");
    WipeString(body);
    return r;
  }
  if (path == "/latest/meta-data/instance-id") return http::HttpResponse::Text(200, o.instance_id);
  if (path == "/latest/meta-data/placement/region") {
    return http::HttpResponse::Text(200, o.region);
  }
  if (path == "/latest/dynamic/instance-identity/document") {
    nlohmann::ordered_json j = {{"accountId", o.account},
                                {"architecture", "x86_64"},
                                {"availabilityZone", o.region + "a"},
                                {"instanceId", o.instance_id},
                                {"instanceType", "m5.xlarge"},
                                {"region", o.region}};
    return http::HttpResponse::Json(200, j.dump(2), "text/plain");
  }
  return http::HttpResponse::Text(404, "Not Found\n");
}

}  // namespace lockout::localaws
