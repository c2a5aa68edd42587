// CheckLockout against a real local-aws (in-process, on a free port): every path, for root, the
// admin and the instance role, under the seed and the recommended policy, and nothing left
// behind (grants listed after, the secret's versions unchanged, probe keys pending deletion).

#include "src/operator/check_lockout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"
#include "src/localaws/local_aws.h"
#include "src/nsm/open_nsm_device.h"
#include "src/operator/create_key.h"
#include "src/operator/key_policy.h"
#include "src/operator/measurement.h"

namespace lockout::ops {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::ordered_json;

constexpr char kSecret[] = "lockout/check-lockout-test";

// A loopback port nothing listens on (bound, then closed).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

struct Clients {
  std::unique_ptr<awsclient::KmsClient> kms;
  std::unique_ptr<awsclient::SecretsClient> secrets;
  std::string arn;
};

class CheckLockoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/check-lockout-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    localaws::LocalAwsOptions options;
    options.state_dir = dir_ + "/state";
    options.nsm_socket = dir_ + "/nsm.sock";
    options.debug_nsm_socket = dir_ + "/nsm-debug.sock";
    options.threads = 2;
    auto la = localaws::LocalAws::Start(options, clock_);
    ASSERT_TRUE(la.ok()) << la.status();
    local_aws_ = *std::move(la);
    auto ready = local_aws_->ReadyJson();
    ASSERT_TRUE(ready.ok()) << ready.status();
    ready_ = *ready;
    role_arn_ = ready_["instance_role_arn"].get<std::string>();
    for (const char* name : {"root", "admin", "instance"}) clients_[name] = Make(name);
    if (HasFatalFailure()) return;

    auto key = Admin().kms->CreateKey({});
    ASSERT_TRUE(key.ok()) << key.status();
    key_arn_ = key->arn;
    CreateKeyOptions create;
    create.kms_key_id = key_arn_;
    create.secret_name = kSecret;
    create.key_type = signer::KeyType::kP256;
    auto made = CreateSigningKey(*Instance().kms, *Instance().secrets, create);
    ASSERT_TRUE(made.ok()) << made.status();
    public_key_sha256_ = HexEncode(crypto::Sha256(made->public_key_der));

    // A key the instance role may re-encrypt to and decrypt under (an attacker's).
    Json probe_policy = Json::parse(R"({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"ROOT"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Principal":{"AWS":"ROLE"},"Action":["kms:ReEncryptTo","kms:Decrypt"],
         "Resource":"*"}]})");
    probe_policy["Statement"][0]["Principal"]["AWS"] = clients_["root"].arn;
    probe_policy["Statement"][1]["Principal"]["AWS"] = role_arn_;
    awsclient::CreateKeyRequest probe;
    probe.policy = probe_policy.dump();
    auto probe_key = Admin().kms->CreateKey(probe);
    ASSERT_TRUE(probe_key.ok()) << probe_key.status();
    probe_key_arn_ = probe_key->arn;

    auto nsm = nsm::OpenNsmDevice("unix://" + dir_ + "/nsm-debug.sock");
    ASSERT_TRUE(nsm.ok()) << nsm.status();
    debug_nsm_ = *std::move(nsm);
  }

  void TearDown() override {
    if (local_aws_) local_aws_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Clients as `name`; `region` and `endpoint` (both services) replace local-aws's when given.
  Clients Make(const std::string& name, std::string region_override = "",
               std::string endpoint_override = "") {
    const auto& p = ready_["principals"][name];
    aws::AwsCredentials c;
    c.access_key_id = p["access_key_id"].get<std::string>();
    c.secret_access_key = SecretBytes::CopyFrom(p["secret_access_key"].get<std::string>());
    if (p.contains("session_token")) {
      c.session_token = SecretBytes::CopyFrom(p["session_token"].get<std::string>());
    }
    auto provider = std::make_shared<awsclient::StaticCredentialsProvider>(std::move(c));
    const std::string region =
        region_override.empty() ? ready_["region"].get<std::string>() : region_override;
    const std::string kms_url = endpoint_override.empty()
                                    ? ready_["kms_endpoint"].get<std::string>()
                                    : endpoint_override;
    const std::string sm_url = endpoint_override.empty()
                                   ? ready_["secretsmanager_endpoint"].get<std::string>()
                                   : endpoint_override;
    awsclient::RetryPolicy once;  // the failures these make are not worth retrying
    if (!endpoint_override.empty() || !region_override.empty()) once.max_attempts = 1;
    Clients out;
    out.kms = *awsclient::KmsClient::Create(*awsclient::EndpointConfig::FromUrl(kms_url), provider,
                                            region, once);
    out.secrets = *awsclient::SecretsClient::Create(*awsclient::EndpointConfig::FromUrl(sm_url),
                                                    provider, region, once);
    out.arn = p["arn"].get<std::string>();
    return out;
  }

  Clients& Admin() { return clients_["admin"]; }
  Clients& Instance() { return clients_["instance"]; }

  void Apply(PolicyMode mode) {
    KeyPolicyOptions o;
    o.mode = mode;
    o.admin_role_arn = Admin().arn;
    o.enclave_role_arn = role_arn_;
    o.pcr0 = *ParsePcrHex(std::string(96, 'a'), "pcr0");
    auto text = BuildKeyPolicyText(o);
    ASSERT_TRUE(text.ok()) << text.status();
    ASSERT_TRUE(Admin().kms->PutKeyPolicy(key_arn_, *text, NeedsLockoutSafetyBypass(o)).ok());
  }

  CheckLockoutReport Check(const std::string& who, bool with_probe_key = true) {
    Clients& c = clients_[who];
    CheckLockoutOptions o;
    o.kms_key_id = key_arn_;
    o.secret_name = kSecret;
    if (with_probe_key) o.probe_key_id = probe_key_arn_;
    o.nsm = debug_nsm_.get();
    return CheckLockout(*c.kms, *c.secrets, o);
  }

  static PathState State(const CheckLockoutReport& r, std::string_view id) {
    const PathResult* p = r.Find(id);
    EXPECT_NE(p, nullptr) << id;
    return p != nullptr ? p->state : PathState::kNotTried;
  }

  // The secret's versions, as DescribeSecret lists them.
  std::map<std::string, std::vector<std::string>> Versions() {
    auto d = Admin().secrets->DescribeSecret(kSecret);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? d->version_ids_to_stages : std::map<std::string, std::vector<std::string>>{};
  }

  RealClock clock_;
  std::string dir_;
  std::unique_ptr<localaws::LocalAws> local_aws_;
  Json ready_;
  std::map<std::string, Clients> clients_;
  std::string role_arn_, key_arn_, probe_key_arn_, public_key_sha256_;
  std::unique_ptr<nsm::NsmDevice> debug_nsm_;
};

TEST_F(CheckLockoutTest, SeedPolicyLeaksThroughReEncryptAndTheAdminsGrantsAndPolicy) {
  Apply(PolicyMode::kSeed);
  const auto versions = Versions();
  ASSERT_EQ(versions.size(), 1u);

  CheckLockoutReport instance = Check("instance");
  EXPECT_EQ(instance.verdict(), LockoutVerdict::kNotLockedOut) << instance.Text();
  EXPECT_EQ(State(instance, "decrypt"), PathState::kClosed);
  EXPECT_EQ(State(instance, "decrypt-debug"), PathState::kClosed) << instance.Text();
  EXPECT_EQ(State(instance, "reencrypt"), PathState::kOpen);
  EXPECT_EQ(State(instance, "grant-decrypt"), PathState::kClosed) << instance.Text();
  EXPECT_EQ(State(instance, "put-key-policy"), PathState::kClosed);
  // The tutorial's instance role may PutSecretValue (create-key --overwrite): a substitution
  // path, reported and not in the verdict.
  EXPECT_EQ(State(instance, "put-secret-value"), PathState::kOpen);
  EXPECT_EQ(State(instance, "encrypt"), PathState::kOpen);
  // The recovered key is the signing key: its public key is the one create-key printed.
  EXPECT_EQ(instance.recovered_public_key_sha256, public_key_sha256_);
  EXPECT_EQ(instance.caller_arn, role_arn_);  // learned from an AccessDenied, session -> role
  EXPECT_TRUE(instance.secret_untouched);
  EXPECT_THAT(instance.Text(), HasSubstr("NOT locked out"));

  CheckLockoutReport admin = Check("admin");
  EXPECT_EQ(admin.verdict(), LockoutVerdict::kNotLockedOut) << admin.Text();
  EXPECT_EQ(State(admin, "decrypt"), PathState::kClosed);
  EXPECT_EQ(State(admin, "grant-decrypt"), PathState::kOpen) << admin.Text();
  EXPECT_EQ(State(admin, "grant-reencrypt"), PathState::kOpen) << admin.Text();
  EXPECT_EQ(State(admin, "put-key-policy"), PathState::kOpen) << admin.Text();
  EXPECT_EQ(State(admin, "put-secret-value"), PathState::kOpen) << admin.Text();
  EXPECT_EQ(admin.recovered_public_key_sha256, public_key_sha256_);
  EXPECT_TRUE(admin.cleanup_failures.empty()) << admin.Text();
  EXPECT_TRUE(admin.secret_untouched);

  CheckLockoutReport root = Check("root");
  EXPECT_EQ(root.verdict(), LockoutVerdict::kLockedOut) << root.Text();

  // Nothing left behind: no grant, the same single secret version, the same policy.
  auto grants = Admin().kms->ListGrants(key_arn_);
  ASSERT_TRUE(grants.ok()) << grants.status();
  EXPECT_TRUE(grants->empty());
  EXPECT_EQ(Versions(), versions);
  auto policy = Admin().kms->GetKeyPolicy(key_arn_);
  ASSERT_TRUE(policy.ok());
  EXPECT_THAT(*policy, HasSubstr("Enable decrypt from enclave"));
}

TEST_F(CheckLockoutTest, RecommendedPolicyClosesEveryLeakPathForRootAdminAndInstance) {
  Apply(PolicyMode::kSeed);
  Apply(PolicyMode::kRecommended);  // as the seed's admin, which holds kms:Put*
  const auto versions = Versions();
  for (const char* who : {"root", "admin", "instance"}) {
    CheckLockoutReport r = Check(who);
    EXPECT_EQ(r.verdict(), LockoutVerdict::kLockedOut) << who << "\n" << r.Text();
    for (const PathResult& p : r.paths) {
      if (p.kind == PathKind::kLeak) {
        EXPECT_EQ(p.state, PathState::kClosed) << who << p.detail;
      }
    }
    EXPECT_TRUE(r.recovered_public_key_sha256.empty());
    EXPECT_TRUE(r.cleanup_failures.empty()) << r.Text();
    EXPECT_THAT(r.Text(), HasSubstr("\nlocked out: every leak path tried is closed"));
    EXPECT_EQ(r.ToJson()["verdict"], "locked out");
  }
  EXPECT_EQ(Versions(), versions);
}

TEST_F(CheckLockoutTest, APolicyAdminHonestlySeesTheRewritePathOpen) {
  // local-aws's admin user as the break-glass principal; the key administrator another role.
  KeyPolicyOptions o;
  o.mode = PolicyMode::kRecommended;
  o.admin_role_arn = "arn:aws:iam::111122223333:role/key-admin";
  o.enclave_role_arn = role_arn_;
  o.policy_admin_role_arn = Admin().arn;
  o.pcr0 = *ParsePcrHex(std::string(96, 'a'), "pcr0");
  auto text = BuildKeyPolicyText(o);
  ASSERT_TRUE(text.ok()) << text.status();
  ASSERT_FALSE(NeedsLockoutSafetyBypass(o));
  ASSERT_TRUE(Admin().kms->PutKeyPolicy(key_arn_, *text, /*bypass=*/false).ok());

  CheckLockoutReport admin = Check("admin");
  EXPECT_EQ(admin.verdict(), LockoutVerdict::kNotLockedOut) << admin.Text();
  for (const PathResult& p : admin.paths) {
    if (p.kind != PathKind::kLeak) continue;
    EXPECT_EQ(p.state, p.id == "put-key-policy" ? PathState::kOpen : PathState::kClosed)
        << p.id << ": " << p.detail;
  }
  EXPECT_THAT(admin.Find("put-key-policy")->detail, HasSubstr("nothing changed"));
  auto policy = Admin().kms->GetKeyPolicy(key_arn_);
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(Json::parse(*policy), Json::parse(*text));

  CheckLockoutReport instance = Check("instance");
  EXPECT_EQ(instance.verdict(), LockoutVerdict::kLockedOut) << instance.Text();
}

TEST_F(CheckLockoutTest, WithoutAProbeKeyItCreatesOneAndSchedulesItsDeletion) {
  // The account's default policy: the admin (kms:* in IAM) may do anything.
  CheckLockoutReport r = Check("admin", /*with_probe_key=*/false);
  EXPECT_EQ(r.verdict(), LockoutVerdict::kNotLockedOut);
  EXPECT_EQ(State(r, "decrypt"), PathState::kOpen);
  EXPECT_EQ(State(r, "reencrypt"), PathState::kOpen) << r.Text();
  std::string probe;
  for (const std::string& line : r.cleanup) {
    if (line.starts_with("probe key ")) probe = line.substr(10, line.find(' ', 10) - 10);
  }
  ASSERT_FALSE(probe.empty()) << r.Text();
  auto described = Admin().kms->DescribeKey(probe);
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->key_state, "PendingDeletion");
  EXPECT_TRUE(r.secret_untouched);
}

TEST_F(CheckLockoutTest, WithoutTheSecretEveryPathThatNeedsItIsNotTried) {
  Clients& c = Instance();
  CheckLockoutOptions o;
  o.kms_key_id = key_arn_;
  o.secret_name = "lockout/no-such-secret";
  CheckLockoutReport r = CheckLockout(*c.kms, *c.secrets, o);
  EXPECT_EQ(r.verdict(), LockoutVerdict::kInconclusive) << r.Text();
  EXPECT_EQ(State(r, "decrypt"), PathState::kNotTried);
  EXPECT_THAT(r.Find("decrypt")->detail, HasSubstr("cannot read the secret"));
  EXPECT_THAT(r.Find("decrypt-debug")->detail, HasSubstr("no NSM given"));
  EXPECT_THAT(r.Text(), HasSubstr("inconclusive"));
  // The cause is the missing secret, and the next step says what to check; not a permission.
  EXPECT_THAT(r.Find("decrypt")->detail,
              AllOf(HasSubstr("the secret \"lockout/no-such-secret\" does not exist in "),
                    HasSubstr("check the name, AWS_REGION"), HasSubstr("--secret"),
                    Not(HasSubstr("may call")), Not(HasSubstr("permission"))));
}

// Hints (issue 15 item 5): each drives the situation against the real local-aws.
TEST_F(CheckLockoutTest, AWrongRegionSaysSetAwsRegion) {
  Clients c = Make("instance", "eu-west-3");
  CheckLockoutOptions o;
  o.kms_key_id = key_arn_;
  o.secret_name = kSecret;
  CheckLockoutReport r = CheckLockout(*c.kms, *c.secrets, o);
  EXPECT_EQ(r.verdict(), LockoutVerdict::kInconclusive) << r.Text();
  EXPECT_THAT(r.Find("decrypt")->detail,
              AllOf(HasSubstr("the endpoint serves another region"), HasSubstr("set AWS_REGION"),
                    HasSubstr("now eu-west-3"), Not(HasSubstr("may call"))));
}

TEST_F(CheckLockoutTest, NothingListeningSaysCheckTheEndpoint) {
  const int port = FreePort();
  const std::string nowhere = absl::StrCat("http://127.0.0.1:", port);
  Clients c = Make("instance", "", nowhere);
  CheckLockoutOptions o;
  o.kms_key_id = key_arn_;
  o.secret_name = kSecret;
  CheckLockoutReport r = CheckLockout(*c.kms, *c.secrets, o);
  EXPECT_EQ(r.verdict(), LockoutVerdict::kInconclusive) << r.Text();
  EXPECT_THAT(r.Find("decrypt")->detail,
              AllOf(HasSubstr("could not reach AWS"), HasSubstr(absl::StrCat("127.0.0.1:", port)),
                    HasSubstr("AWS_ENDPOINT_URL"), Not(HasSubstr("may call"))));
}

}  // namespace
}  // namespace lockout::ops
