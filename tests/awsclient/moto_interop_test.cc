// Interoperability: the KMS and Secrets Manager clients against moto (an independent Python
// implementation of the AWS APIs that boto3 is tested with), started here as a real server
// process. Skipped when python3 with moto's server is not installed.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"
#include "src/net/socket.h"

namespace lockout::awsclient {
namespace {

class MotoServer {
 public:
  MotoServer() {
    if (::system("python3 -c 'import moto.server' >/dev/null 2>&1") != 0) return;
    {
      absl::StatusOr<net::Listener> l = net::Listen(*net::Endpoint::Tcp("127.0.0.1", 0));
      if (!l.ok()) return;
      port_ = static_cast<uint16_t>(l->local_endpoint().port());
    }
    const std::string script = absl::StrCat(
        "import time\nfrom moto.server import ThreadedMotoServer\n"
        "s = ThreadedMotoServer(ip_address='127.0.0.1', port=",
        port_, ", verbose=False)\ns.start()\nwhile True: time.sleep(1)\n");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("python3", "python3", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      if (net::Connect(*net::Endpoint::Tcp("127.0.0.1", port_), absl::Seconds(1)).ok()) {
        ready_ = true;
        return;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  ~MotoServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  bool ready() const { return ready_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool ready_ = false;
};

std::shared_ptr<CredentialsProvider> MotoCredentials() {
  aws::AwsCredentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = SecretBytes::CopyFrom(std::string_view("moto-does-not-check-this"));
  c.session_token = SecretBytes::CopyFrom(std::string_view("moto-session-token"));
  return std::make_shared<StaticCredentialsProvider>(std::move(c));
}

TEST(MotoInteropTest, KmsAndSecretsManagerRoundTripAgainstMoto) {
  MotoServer moto;
  if (!moto.ready()) GTEST_SKIP() << "python3 with moto's server is not available";
  auto kms =
      KmsClient::Create(*EndpointConfig::FromUrl(moto.url()), MotoCredentials(), "us-east-1");
  ASSERT_TRUE(kms.ok()) << kms.status();

  CreateKeyRequest create;
  create.description = "lockout interop";
  create.tags = {{"app", "lockout"}};
  absl::StatusOr<KeyMetadata> key = (*kms)->CreateKey(create);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_FALSE(key->key_id.empty());
  EXPECT_NE(key->arn.find(":key/"), std::string::npos);
  EXPECT_TRUE(key->creation_date.has_value());

  absl::Status alias = (*kms)->CreateAlias("alias/lockout-interop", key->key_id);
  ASSERT_TRUE(alias.ok()) << alias;
  absl::StatusOr<KeyMetadata> described = (*kms)->DescribeKey("alias/lockout-interop");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->arn, key->arn);

  const SecretBytes plaintext = SecretBytes::CopyFrom(std::string_view("pkcs8 key bytes"));
  absl::StatusOr<EncryptResult> encrypted =
      (*kms)->Encrypt(key->key_id, plaintext, {{"secret", "lockout/key"}});
  ASSERT_TRUE(encrypted.ok()) << encrypted.status();
  DecryptRequest decrypt;
  decrypt.ciphertext_blob = encrypted->ciphertext_blob;
  decrypt.encryption_context = {{"secret", "lockout/key"}};
  absl::StatusOr<DecryptResult> decrypted = (*kms)->Decrypt(decrypt);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_TRUE(decrypted->plaintext.Equals(plaintext));

  GenerateDataKeyRequest gdk;
  gdk.key_id = key->key_id;
  absl::StatusOr<GenerateDataKeyResult> data_key = (*kms)->GenerateDataKey(gdk);
  ASSERT_TRUE(data_key.ok()) << data_key.status();
  EXPECT_EQ(data_key->plaintext.size(), 32u);

  absl::StatusOr<std::string> policy = (*kms)->GetKeyPolicy(key->key_id);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_NE(policy->find("Statement"), std::string::npos);
  ASSERT_TRUE((*kms)
                  ->PutKeyPolicy(key->key_id, *policy, /*bypass_policy_lockout_safety_check=*/
                                 true)
                  .ok());

  EXPECT_EQ((*kms)->DescribeKey("alias/does-not-exist").status().code(),
            absl::StatusCode::kNotFound);

  auto sm =
      SecretsClient::Create(*EndpointConfig::FromUrl(moto.url()), MotoCredentials(), "us-east-1");
  ASSERT_TRUE(sm.ok()) << sm.status();
  absl::StatusOr<SecretVersionRef> created =
      (*sm)->CreateSecret("lockout/interop", SecretBytes::CopyFrom(encrypted->ciphertext_blob));
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<SecretValue> value = (*sm)->GetSecretValue("lockout/interop");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->kind, SecretKind::kBinary);
  EXPECT_EQ(ToString(value->value.Reveal()), ToString(encrypted->ciphertext_blob));
  ASSERT_TRUE((*sm)
                  ->PutSecretValue("lockout/interop",
                                   SecretBytes::CopyFrom(std::string_view("{\"v\":2}")),
                                   SecretKind::kString)
                  .ok());
  absl::StatusOr<SecretValue> text = (*sm)->GetSecretValue("lockout/interop");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->kind, SecretKind::kString);
  EXPECT_EQ(text->value.RevealAsString(), "{\"v\":2}");
  absl::StatusOr<SecretDescription> description = (*sm)->DescribeSecret("lockout/interop");
  ASSERT_TRUE(description.ok()) << description.status();
  EXPECT_EQ(description->name, "lockout/interop");
  EXPECT_EQ(description->version_ids_to_stages.size(), 2u);
  absl::StatusOr<SecretValue> missing = (*sm)->GetSecretValue("lockout/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
}

}  // namespace
}  // namespace lockout::awsclient
