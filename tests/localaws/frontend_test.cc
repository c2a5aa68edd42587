#include "src/localaws/frontend.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "src/aws/sigv4.h"
#include "src/common/json.h"
#include "src/localaws/identity.h"
#include "src/localaws/imds.h"
#include "src/localaws/local_aws.h"

namespace lockout::localaws {
namespace {

std::string TempDir() {
  std::string tmpl = std::filesystem::temp_directory_path() / "lockout-frontend-XXXXXX";
  return mkdtemp(tmpl.data());
}

// A service that echoes who called which operation.
class EchoService final : public AwsJsonService {
 public:
  std::string_view target_prefix() const override { return "TrentService"; }
  std::string_view signing_name() const override { return "kms"; }
  AwsResult Handle(std::string_view op, const Json& request, const CallContext& ctx) override {
    if (op == "Fail") return AccessDenied("no");
    return Json{{"op", std::string(op)}, {"caller", ctx.caller.arn}, {"request", request}};
  }
};

class FrontendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    auto identity = IdentityStore::Open(dir_, IdentityOptions{}, clock_);
    ASSERT_TRUE(identity.ok()) << identity.status();
    identity_ = *std::move(identity);
    imds_ = std::make_unique<ImdsService>(*identity_, clock_);
    frontend_ = std::make_unique<Frontend>(*identity_, imds_.get(), clock_);
    frontend_->AddService(&echo_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  aws::HttpRequest Signed(const IssuedCredentials& c, std::string target, std::string body,
                          std::string service = "kms") {
    aws::HttpRequest r;
    r.method = "POST";
    r.target = "/";
    r.headers = {{"Host", "localhost"},
                 {"X-Amz-Target", std::move(target)},
                 {"Content-Type", "application/x-amz-json-1.1"}};
    r.body = std::move(body);
    aws::AwsCredentials creds{c.access_key_id, SecretBytes::CopyFrom(c.secret_access_key.Reveal()),
                              SecretBytes::CopyFrom(c.session_token)};
    EXPECT_TRUE(aws::SignRequest(r, creds, "us-east-1", service, clock_.Now()).ok());
    return r;
  }

  static Json Body(const http::HttpResponse& r) { return *ParseJson(r.body); }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::string dir_;
  std::unique_ptr<IdentityStore> identity_;
  std::unique_ptr<ImdsService> imds_;
  std::unique_ptr<Frontend> frontend_;
  EchoService echo_;
};

TEST_F(FrontendTest, SignedCallReachesServiceAsThePrincipal) {
  http::HttpResponse r =
      frontend_->Handle(Signed(identity_->AdminCredentials(), "TrentService.ListKeys", "{}"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["op"], "ListKeys");
  EXPECT_EQ(Body(r)["caller"], identity_->admin().arn);
}

TEST_F(FrontendTest, InstanceRoleSessionIsTheAssumedRolePrincipal) {
  auto creds = identity_->InstanceCredentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id.substr(0, 4), "ASIA");
  http::HttpResponse r = frontend_->Handle(Signed(*creds, "TrentService.ListKeys", ""));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["caller"],
            "arn:aws:sts::111122223333:assumed-role/lockout-instance-role/i-0123456789abcdef0");
}

TEST_F(FrontendTest, AuthFailuresGetAwsErrorTypes) {
  IssuedCredentials bad = identity_->AdminCredentials();
  bad.secret_access_key = SecretBytes::CopyFrom(std::string_view("not-the-secret"));
  http::HttpResponse r = frontend_->Handle(Signed(bad, "TrentService.ListKeys", "{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["__type"], "InvalidSignatureException");

  IssuedCredentials unknown = identity_->AdminCredentials();
  unknown.access_key_id = "AKIAUNKNOWNUNKNOWN00";
  r = frontend_->Handle(Signed(unknown, "TrentService.ListKeys", "{}"));
  EXPECT_EQ(Body(r)["__type"], "UnrecognizedClientException");

  aws::HttpRequest skewed = Signed(identity_->AdminCredentials(), "TrentService.ListKeys", "{}");
  clock_.Advance(absl::Minutes(5) + absl::Seconds(1));
  r = frontend_->Handle(skewed);
  EXPECT_EQ(Body(r)["__type"], "InvalidSignatureException");
}

TEST_F(FrontendTest, MalformedRequestsGetAwsErrors) {
  auto admin = identity_->AdminCredentials();
  EXPECT_EQ(Body(frontend_->Handle(Signed(admin, "TrentService.X", "{nope")))["__type"],
            "SerializationException");
  EXPECT_EQ(Body(frontend_->Handle(Signed(admin, "TrentService.X", "[]")))["__type"],
            "SerializationException");
  EXPECT_EQ(Body(frontend_->Handle(Signed(admin, "Nope.X", "{}")))["__type"],
            "UnknownOperationException");
  aws::HttpRequest no_target = Signed(admin, "TrentService.X", "{}");
  no_target.RemoveHeader("X-Amz-Target");
  EXPECT_EQ(Body(frontend_->Handle(no_target))["__type"], "UnknownOperationException");
  http::HttpResponse denied = frontend_->Handle(Signed(admin, "TrentService.Fail", "{}"));
  EXPECT_EQ(Body(denied)["__type"], "AccessDeniedException");
  // Signed for another service than the target's.
  EXPECT_EQ(
      Body(frontend_->Handle(Signed(admin, "TrentService.X", "{}", "secretsmanager")))["__type"],
      "InvalidSignatureException");
}

TEST_F(FrontendTest, ImdsTokenFlowAndRotatingCredentials) {
  aws::HttpRequest get;
  get.method = "GET";
  get.target = "/latest/meta-data/iam/security-credentials/";
  EXPECT_EQ(frontend_->Handle(get).status, 401);

  aws::HttpRequest put;
  put.method = "PUT";
  put.target = "/latest/api/token";
  put.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "60"}};
  http::HttpResponse token = frontend_->Handle(put);
  ASSERT_EQ(token.status, 200);
  get.headers = {{"X-aws-ec2-metadata-token", token.body}};
  http::HttpResponse role = frontend_->Handle(get);
  EXPECT_EQ(role.body, "lockout-instance-role");
  get.target += role.body;
  Json first = Body(frontend_->Handle(get));
  EXPECT_EQ(first["Code"], "Success");
  EXPECT_EQ(first["AccessKeyId"].get<std::string>().substr(0, 4), "ASIA");

  // Half the lifetime later a new set is issued; the old set keeps working until it expires.
  clock_.Advance(absl::Hours(3));
  token = frontend_->Handle(put);
  get.headers = {{"X-aws-ec2-metadata-token", token.body}};
  Json second = Body(frontend_->Handle(get));
  EXPECT_NE(first["AccessKeyId"], second["AccessKeyId"]);
  EXPECT_TRUE(identity_->Lookup(first["AccessKeyId"].get<std::string>()).has_value());

  // Tokens expire; proxied token requests are refused.
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(frontend_->Handle(get).status, 401);
  put.headers.push_back({"X-Forwarded-For", "10.0.0.1"});
  EXPECT_EQ(frontend_->Handle(put).status, 403);
  put.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "0"}};
  EXPECT_EQ(frontend_->Handle(put).status, 400);
}

TEST_F(FrontendTest, IdentityPersistsAcrossRestart) {
  std::string admin_key = identity_->AdminCredentials().access_key_id;
  auto reopened = IdentityStore::Open(dir_, IdentityOptions{}, clock_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->AdminCredentials().access_key_id, admin_key);
  EXPECT_TRUE((*reopened)->AdminCredentials().secret_access_key.Equals(
      identity_->AdminCredentials().secret_access_key));
  IdentityOptions other;
  other.account = "999999999999";
  EXPECT_FALSE(IdentityStore::Open(dir_, other, clock_).ok());
}

TEST(EnvExportsTest, PrintsEndpointsAndCredentials) {
  Json ready = {
      {"region", "us-east-1"},
      {"kms_endpoint", "http://127.0.0.1:1"},
      {"secretsmanager_endpoint", "http://127.0.0.1:1"},
      {"imds_endpoint", "http://127.0.0.1:1"},
      {"nsm_socket", "/tmp/n.sock"},
      {"principals",
       {{"instance",
         {{"access_key_id", "ASIAX"}, {"secret_access_key", "s"}, {"session_token", "t"}}},
        {"admin", {{"access_key_id", "AKIAX"}, {"secret_access_key", "s"}}}}}};
  auto inst = EnvExports(ready, "instance");
  ASSERT_TRUE(inst.ok());
  EXPECT_NE(inst->find("export AWS_ENDPOINT_URL_KMS='http://127.0.0.1:1'"), std::string::npos);
  EXPECT_NE(inst->find("export AWS_SESSION_TOKEN='t'"), std::string::npos);
  auto admin = EnvExports(ready, "admin");
  ASSERT_TRUE(admin.ok());
  EXPECT_NE(admin->find("unset AWS_SESSION_TOKEN"), std::string::npos);
  EXPECT_FALSE(EnvExports(ready, "root").ok());
}

}  // namespace
}  // namespace lockout::localaws
