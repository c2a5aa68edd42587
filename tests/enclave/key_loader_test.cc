#include "src/enclave/key_loader.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/kms_client.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/crypto/hash.h"
#include "src/enclave/enclave_app.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/hd/seed_secret.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

using testing::Client;
using testing::FakeKms;
using testing::FakeNsmDevice;
using testing::FakeRelay;

constexpr char kSecretName[] = "lockout/signing-key";
constexpr char kCanaryAccessKey[] = "CANARY-SAK-7f3e9c1d2b";
constexpr char kCanaryToken[] = "CANARY-TOKEN-a81b2c3d4e";

// Captures the default logger for the test's lifetime.
class LogCapture {
 public:
  LogCapture() {
    Logger::Default().SetStream(&out_);
    Logger::Default().SetLevel(LogLevel::kDebug);
  }
  ~LogCapture() {
    Logger::Default().SetStream(nullptr);
    Logger::Default().SetLevel(LogLevel::kInfo);
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

class KeyLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = signer::Signer::Generate(signer::KeyType::kP521);
    ASSERT_TRUE(signer.ok());
    expected_spki_ = (*signer)->public_key_der();
    auto pkcs8 = (*signer)->ExportPkcs8();
    ASSERT_TRUE(pkcs8.ok());
    plaintext_ = Bytes(pkcs8->Reveal().begin(), pkcs8->Reveal().end());
    dir_ = testing::MakeTempDir("enclave_loader");
  }
  void TearDown() override {
    relay_.reset();
    unlink((dir_ + "/relay.sock").c_str());
    rmdir(dir_.c_str());
  }

  void StartKms(std::map<std::string, std::string> context = {{"lockout:secret", kSecretName}}) {
    kms_ = std::make_unique<FakeKms>(FakeKms::Config{.ciphertext_blob = blob_,
                                                     .plaintext = plaintext_,
                                                     .encryption_context = std::move(context),
                                                     .session_token = kCanaryToken});
    ASSERT_TRUE(kms_->Start().ok());
  }
  void MakeRelay(std::optional<std::string> error = std::nullopt, bool start = true) {
    relay_ = std::make_unique<FakeRelay>(dir_ + "/relay.sock",
                                         FakeRelay::Config{.secret = blob_,
                                                           .secret_access_key = kCanaryAccessKey,
                                                           .session_token = kCanaryToken,
                                                           .error = error});
    if (start) {
      ASSERT_TRUE(relay_->Start().ok());
    }
  }
  std::unique_ptr<KeyLoader> MakeLoader(KeyLoaderOptions options = {}) {
    if (options.secret_name.empty()) options.secret_name = kSecretName;
    relay_client_ = std::make_unique<relay::RelayClient>(
        relay::RelayClientOptions{.endpoint = *net::Endpoint::Unix(dir_ + "/relay.sock"),
                                  .connect_timeout = absl::Seconds(2),
                                  .timeout = absl::Seconds(10)});
    credentials_ = std::make_shared<awsclient::StaticCredentialsProvider>(aws::AwsCredentials{});
    awsclient::RetryPolicy retry;
    retry.initial_backoff = absl::Milliseconds(1);
    retry.max_backoff = absl::Milliseconds(5);
    auto endpoint = awsclient::EndpointConfig::FromUrl(kms_->url());
    EXPECT_TRUE(endpoint.ok());
    auto kms = awsclient::KmsClient::Create(*endpoint, credentials_, "us-east-1", retry);
    EXPECT_TRUE(kms.ok()) << kms.status();
    kms_client_ = *std::move(kms);
    return std::make_unique<KeyLoader>(*relay_client_, nsm_, *kms_client_, credentials_, options);
  }

  Bytes blob_ = ToBytes("kms-ciphertext-blob-for-the-signing-key");
  Bytes plaintext_;
  Bytes expected_spki_;
  std::string dir_;
  FakeNsmDevice nsm_;
  std::unique_ptr<FakeKms> kms_;
  std::unique_ptr<FakeRelay> relay_;
  std::unique_ptr<relay::RelayClient> relay_client_;
  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials_;
  std::unique_ptr<awsclient::KmsClient> kms_client_;
};

TEST_F(KeyLoaderTest, LoadsTheKeyThroughRelayAttestationAndKms) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  LoadFailure failure;
  auto signer = loader->Load(&failure);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->public_key_der(), expected_spki_);
  EXPECT_EQ(relay_->last_secret_name(), kSecretName);
  EXPECT_EQ(kms_->decrypts(), 1);
  // The document carried an RSA-2048 recipient key and nothing else.
  auto attestation = nsm_.LastAttestation();
  ASSERT_TRUE(attestation.has_value());
  ASSERT_TRUE(attestation->public_key.has_value());
  EXPECT_TRUE(crypto::RsaPublicKeyFromSpkiDer(*attestation->public_key).ok());
  EXPECT_FALSE(attestation->nonce.has_value());
}

TEST_F(KeyLoaderTest, TheRecipientKeyIsMadeOnceAndReused) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  ASSERT_TRUE(loader->Load(nullptr).ok());
  const Bytes first = *nsm_.LastAttestation()->public_key;
  ASSERT_TRUE(loader->Load(nullptr).ok());
  EXPECT_EQ(*nsm_.LastAttestation()->public_key, first);
}

TEST_F(KeyLoaderTest, TheSeedsPemPlaintextWithoutEncryptionContextLoads) {
  auto signer = signer::Signer::Generate(signer::KeyType::kP521);
  ASSERT_TRUE(signer.ok());
  auto der = (*signer)->ExportPkcs8();
  ASSERT_TRUE(der.ok());
  const std::string pem = "-----BEGIN PRIVATE KEY-----\n" + Base64Encode(der->Reveal()) +
                          "\n-----END PRIVATE KEY-----\n";
  plaintext_ = ToBytes(pem);
  StartKms(/*context=*/{});
  MakeRelay();
  auto loader = MakeLoader({.use_encryption_context = false});
  auto loaded = loader->Load(nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->public_key_der(), (*signer)->public_key_der());
}

TEST_F(KeyLoaderTest, KmsUnreachableSaysWhichFlagsToCheck) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  kms_.reset();  // nothing listens on its port now
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "kms unavailable");
  const std::string detail(failure.status.message());
  EXPECT_THAT(detail, ::testing::StartsWith("kms: "));
  // The enclave's own flags, not the variables the CLI's words name.
  EXPECT_THAT(detail,
              ::testing::HasSubstr("check the endpoint: --kms-endpoint (or AWS_ENDPOINT_URL_KMS)"));
  EXPECT_THAT(detail, ::testing::HasSubstr("--ca-bundle"));
  EXPECT_THAT(detail, ::testing::Not(::testing::HasSubstr("AWS_ENDPOINT_URL_<SERVICE>")));
  EXPECT_THAT(detail, ::testing::Not(::testing::HasSubstr("AWS_CA_BUNDLE")));
}

TEST_F(KeyLoaderTest, AWrongEncryptionContextIsRefusedByKms) {
  StartKms(/*context=*/{});
  MakeRelay();
  auto loader = MakeLoader();
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "kms refused the request");
  EXPECT_EQ(failure.retry, RetryClass::kSlow);
}

TEST_F(KeyLoaderTest, AccessDeniedIsReportedOnceWithThePcr0AndNoSecrets) {
  LogCapture log;
  StartKms();
  kms_->deny = true;
  MakeRelay();
  auto loader = MakeLoader();
  for (int i = 0; i < 3; ++i) {
    LoadFailure failure;
    EXPECT_FALSE(loader->Load(&failure).ok());
    EXPECT_EQ(failure.reason, "kms access denied");
    EXPECT_EQ(failure.retry, RetryClass::kSlow);
    EXPECT_EQ(failure.status.code(), absl::StatusCode::kPermissionDenied);
  }
  const std::string text = log.text();
  const std::string pcr0 = HexEncode(nsm_.pcr0);
  size_t count = 0;
  for (size_t at = text.find("kms_access_denied"); at != std::string::npos;
       at = text.find("kms_access_denied", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << text;
  EXPECT_NE(text.find(pcr0), std::string::npos) << text;
  EXPECT_EQ(text.find(kCanaryAccessKey), std::string::npos);
  EXPECT_EQ(text.find(kCanaryToken), std::string::npos);
}

TEST_F(KeyLoaderTest, ThrottlingIsRetriedByTheKmsClient) {
  StartKms();
  kms_->throttle_next = 2;
  MakeRelay();
  auto loader = MakeLoader();
  auto loaded = loader->Load(nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(kms_->decrypts(), 3);
}

TEST_F(KeyLoaderTest, RelayDownIsTransient) {
  StartKms();
  MakeRelay(std::nullopt, /*start=*/false);
  auto loader = MakeLoader();
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "relay unavailable");
  EXPECT_EQ(failure.retry, RetryClass::kTransient);
  EXPECT_EQ(kms_->decrypts(), 0);
}

TEST_F(KeyLoaderTest, ANameTheRelayDoesNotAllowNeedsAnOperator) {
  StartKms();
  MakeRelay(std::string(relay::kErrorNotAllowed));
  auto loader = MakeLoader();
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "relay refused the secret name");
  EXPECT_EQ(failure.retry, RetryClass::kSlow);
}

TEST_F(KeyLoaderTest, NsmDownIsTransient) {
  StartKms();
  MakeRelay();
  nsm_.down = true;
  auto loader = MakeLoader();
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "nsm unavailable");
  EXPECT_EQ(failure.retry, RetryClass::kTransient);
}

TEST_F(KeyLoaderTest, AKeyOfTheWrongTypeIsFatal) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader({.key_type = signer::KeyType::kSecp256k1});
  LoadFailure failure;
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "invalid signing key");
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
}

TEST_F(KeyLoaderTest, AKeyMatchingThePoliciesPinLoads) {
  StartKms();
  MakeRelay();
  auto policy = signpolicy::ParseSigningPolicy(absl::StrCat(
      R"({"version": 1, "clients": [{"name": "gw", "algorithm": "ed25519", "public_key": ")",
      std::string(64, '1'),
      R"(", "ops": ["sign"], "keys": ["*"]}], "key": {"public_key_sha256": ")",
      HexEncode(crypto::Sha256(expected_spki_)), R"("}})"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto loader = MakeLoader({.key_pin = policy->key});
  LoadFailure failure;
  auto signer = loader->Load(&failure);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ((*signer)->public_key_der(), expected_spki_);
}

// What a swapped ciphertext looks like from inside: the same secret name and KMS key decrypt to
// another key (KMS sees nothing wrong: both were encrypted under the key with the same context).
TEST_F(KeyLoaderTest, ASwappedKeyIsRefusedByThePinFatallyAndNeverSigns) {
  auto pinned = signer::Signer::Generate(signer::KeyType::kP521);
  ASSERT_TRUE(pinned.ok());
  auto pin = signpolicy::PinOfKey(**pinned, signpolicy::KeyPinKind::kPublicKeySha256);
  ASSERT_TRUE(pin.ok());
  auto actual =
      signpolicy::PinOfKey(**signer::Signer::FromPkcs8(SecretBytes::CopyFrom(ByteView(plaintext_))),
                           signpolicy::KeyPinKind::kPublicKeySha256);
  ASSERT_TRUE(actual.ok());
  LogCapture log;
  StartKms();  // serves plaintext_, a key other than `pinned`
  MakeRelay();
  auto loader = MakeLoader({.key_pin = *pin});
  LoadFailure failure;
  auto r = loader->Load(&failure);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(failure.reason, kKeyPinMismatchReason);
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
  const std::string message(r.status().message());
  EXPECT_NE(message.find(signpolicy::DescribeKeyPin(*pin)), std::string::npos) << message;
  EXPECT_NE(message.find(signpolicy::DescribeKeyPin(*actual)), std::string::npos) << message;
  EXPECT_NE(log.text().find("key_pin_mismatch"), std::string::npos);

  // Through the key manager: health says why, and no request gets a signer.
  KeyManager keys([&](LoadFailure* f) { return loader->Load(f); }, {.mode = LoadMode::kBoot});
  keys.Start();
  EXPECT_FALSE(keys.WaitUntilLoaded(absl::Seconds(10)));
  const KeyHealth health = keys.Health();
  EXPECT_EQ(health.state, "failed");
  EXPECT_EQ(health.reason, kKeyPinMismatchReason);
  EXPECT_NE(health.detail.find(signpolicy::DescribeKeyPin(*pin)), std::string::npos);
  EXPECT_EQ(keys.signer(), nullptr);
  auto acquired = keys.AcquireSigner();
  ASSERT_FALSE(acquired.ok());
  EXPECT_NE(std::string(acquired.status().message()).find(kKeyPinMismatchReason),
            std::string::npos);
}

TEST_F(KeyLoaderTest, APlaintextThatIsNotAKeyIsFatalAndNotLogged) {
  LogCapture log;
  plaintext_ = ToBytes("CANARY-PLAINTEXT-not-a-key");
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  LoadFailure failure;
  auto r = loader->Load(&failure);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
  EXPECT_EQ(std::string(r.status().message()).find("CANARY"), std::string::npos);
  EXPECT_EQ(log.text().find("CANARY"), std::string::npos);
}

TEST_F(KeyLoaderTest, BootModeKeepsRetryingWhileTheRelayIsDownAndLoadsOnceItIsUp) {
  LogCapture log;
  StartKms();
  MakeRelay(std::nullopt, /*start=*/false);
  auto loader = MakeLoader();
  KeyManagerOptions options{.mode = LoadMode::kBoot,
                            .initial_backoff = absl::Milliseconds(5),
                            .max_backoff = absl::Milliseconds(20)};
  KeyManager keys([&](LoadFailure* f) { return loader->Load(f); }, options);
  keys.Start();
  // Wait until at least two attempts have failed.
  for (int i = 0; i < 1000 && keys.Health().attempts < 2; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  KeyHealth health = keys.Health();
  EXPECT_EQ(health.state, "loading");
  EXPECT_EQ(health.reason, "relay unavailable");
  EXPECT_EQ(keys.AcquireSigner().status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(relay_->Start().ok());
  ASSERT_TRUE(keys.WaitUntilLoaded(absl::Seconds(20)));
  EXPECT_EQ(keys.Health().state, "ok");
  auto signer = keys.AcquireSigner();
  ASSERT_TRUE(signer.ok());
  EXPECT_EQ((*signer)->public_key_der(), expected_spki_);
  keys.Stop();
  // The reason was logged at warn once, repeats only at debug.
  const std::string text = log.text();
  EXPECT_NE(text.find("\"key_loaded\""), std::string::npos);
  EXPECT_EQ(text.find(kCanaryAccessKey), std::string::npos);
  EXPECT_EQ(text.find(kCanaryToken), std::string::npos);
}

TEST_F(KeyLoaderTest, FirstRequestModeLoadsOnDemand) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  KeyManager keys([&](LoadFailure* f) { return loader->Load(f); },
                  {.mode = LoadMode::kFirstRequest});
  keys.Start();  // does nothing in this mode
  EXPECT_EQ(keys.Health().state, "idle");
  EXPECT_EQ(kms_->decrypts(), 0);
  auto signer = keys.AcquireSigner();
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(kms_->decrypts(), 1);
  EXPECT_EQ(*keys.AcquireSigner(), *signer);
  EXPECT_EQ(kms_->decrypts(), 1);
}

TEST_F(KeyLoaderTest, PerRequestModeDecryptsForEveryRequestLikeTheSeed) {
  StartKms();
  MakeRelay();
  auto loader = MakeLoader();
  KeyManager keys([&](LoadFailure* f) { return loader->Load(f); }, {.mode = LoadMode::kPerRequest});
  RequestHandler handler(keys, nullptr);
  WorkerState state;
  for (int i = 1; i <= 3; ++i) {
    std::string out;
    net::Frame frame{.kind = net::FrameKind::kV1, .payload = "{\"bytes\": \"QQ==\"}"};
    EXPECT_TRUE(handler.Handle(frame, state, out));
    EXPECT_EQ(out.rfind("{\"success\": \"True\"", 0), 0u) << out;
    EXPECT_EQ(kms_->decrypts(), i);
  }
}

TEST(EnclaveAppTest, AnEphemeralKeyServesAndTheReadyFileNamesTheBoundEndpoint) {
  const std::string dir = testing::MakeTempDir("enclave_app");
  EnclaveConfig config;
  config.listen = "tcp://127.0.0.1:0";
  config.ephemeral_key = signer::KeyType::kEd25519;
  config.nsm = "";
  config.threads = 1;
  config.ready_file = dir + "/ready.json";
  auto app = EnclaveApp::Start(config);
  ASSERT_TRUE(app.ok()) << app.status();
  auto text = ReadFileString(config.ready_file);
  ASSERT_TRUE(text.ok());
  nlohmann::json ready = nlohmann::json::parse(*text);
  EXPECT_EQ(ready["listen"], (*app)->local_endpoint().ToString());
  EXPECT_EQ(ready["status"], "ok");
  EXPECT_EQ(ready["key_type"], "ed25519");

  Client c = Client::Connect(*net::Endpoint::Parse(ready["listen"].get<std::string>()));
  c.SendV2({{"id", 1}, {"op", "public_key"}});
  nlohmann::json pk = c.ReadJson();
  EXPECT_EQ(pk["public_key_pem"], ready["public_key_pem"]);
  (*app)->Stop();
  unlink(config.ready_file.c_str());
  rmdir(dir.c_str());
}

TEST(EnclaveAppTest, LoadingWithoutASecretNameOrNsmIsAUsageError) {
  EnclaveConfig config;
  config.listen = "tcp://127.0.0.1:0";
  config.nsm = "";
  EXPECT_EQ(EnclaveApp::Start(config).status().code(), absl::StatusCode::kInvalidArgument);
  config.secret_name = "x";
  EXPECT_EQ(EnclaveApp::Start(config).status().code(), absl::StatusCode::kInvalidArgument);
}

// HD keys: a "lockout-hd-seed" plaintext loads as a keyring (LoadKey), its pin names the master
// m, Load() (single key only) refuses it, and a malformed one is fatal.
class SeedKeyLoaderTest : public KeyLoaderTest {
 protected:
  void UseSeed(hd::Curve curve, size_t size = 16) {
    SecretBytes seed(size);
    for (size_t i = 0; i < size; ++i) seed.RevealMutable()[i] = static_cast<uint8_t>(i);
    const SecretBytes encoded = *hd::EncodeSeedSecret(curve, seed);
    plaintext_ = Bytes(encoded.Reveal().begin(), encoded.Reveal().end());
  }
};

TEST_F(SeedKeyLoaderTest, ASeedSecretLoadsAsAKeyringPinnedByItsMaster) {
  UseSeed(hd::Curve::kSecp256k1);  // BIP-32 test vector 1
  StartKms();
  MakeRelay();
  // The pin of m: vector 1's master public key, as an address pin would name it.
  const std::unique_ptr<signer::Signer> m =
      *DeriveSigner(hd::Curve::kSecp256k1,
                    SecretBytes::CopyFrom(ByteView(plaintext_).subspan(hd::kSeedSecretHeaderSize)),
                    hd::DerivationPath());
  auto loader =
      MakeLoader({.key_type = signer::KeyType::kSecp256k1,
                  .key_pin = *signpolicy::PinOfKey(*m, signpolicy::KeyPinKind::kEthAddress)});
  LoadFailure failure;
  absl::StatusOr<LoadedKey> loaded = loader->LoadKey(&failure);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_NE(loaded->hd, nullptr);
  EXPECT_EQ(loaded->signer, nullptr);
  EXPECT_EQ(loaded->hd->master().public_key_der(), m->public_key_der());
  // Load() is for a single key.
  EXPECT_FALSE(loader->Load(&failure).ok());
  EXPECT_EQ(failure.reason, "invalid signing key");
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
}

TEST_F(SeedKeyLoaderTest, ASeedOfAnotherCurveThanExpectedOrAMalformedOneIsFatal) {
  UseSeed(hd::Curve::kEd25519);
  StartKms();
  MakeRelay();
  LoadFailure failure;
  EXPECT_FALSE(MakeLoader({.key_type = signer::KeyType::kSecp256k1})->LoadKey(&failure).ok());
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
  EXPECT_NE(std::string(failure.status.message()).find("HD seed"), std::string::npos)
      << failure.status;
  kms_.reset();
  plaintext_[15] = 9;  // version 9
  StartKms();
  EXPECT_FALSE(MakeLoader()->LoadKey(&failure).ok());
  EXPECT_EQ(failure.reason, "invalid signing key");
  EXPECT_EQ(failure.retry, RetryClass::kFatal);
}

TEST_F(SeedKeyLoaderTest, APinOfAnotherKeyRefusesTheSeed) {
  UseSeed(hd::Curve::kNist256p1, 64);
  StartKms();
  MakeRelay();
  auto other = *signer::Signer::Generate(signer::KeyType::kP256);
  LoadFailure failure;
  auto loader = MakeLoader(
      {.key_pin = *signpolicy::PinOfKey(*other, signpolicy::KeyPinKind::kPublicKeySha256)});
  EXPECT_FALSE(loader->LoadKey(&failure).ok());
  EXPECT_EQ(failure.reason, kKeyPinMismatchReason);
}

}  // namespace
}  // namespace lockout::enclave
