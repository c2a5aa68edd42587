// Keys born in the enclave (key_generation.h): NSM entropy, generation, KMS Encrypt under the
// requested key with the loader's encryption context, write-once storage through the relay, the
// key installed in the KeyManager, and the attestation document of the `attest` op; the v2 op
// through the request handler, with and without a signing policy.

#include "src/enclave/key_generation.h"

#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/reply_binding.h"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/crypto/hash.h"
#include "src/enclave/key_loader.h"
#include "src/enclave/request_handler.h"
#include "src/hd/derivation_path.h"
#include "src/hd/extended_key.h"
#include "src/hd/seed_secret.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "lockout/signing-key";
constexpr char kKeyArn[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

// KMS Encrypt and the relay's put_secret, scripted. "Encrypts" by prefixing a marker, and keeps
// what it was given so the test can check it.
class FakeBackend final : public KeyGenerationBackend {
 public:
  absl::StatusOr<awsclient::EncryptResult> Encrypt(
      std::string_view key_id, const SecretBytes& plaintext,
      const awsclient::EncryptionContext& context) override {
    ++encrypt_calls;
    if (!encrypt_status.ok()) return encrypt_status;
    plaintext_seen = SecretBytes::CopyFrom(plaintext.Reveal());
    context_seen = context;
    key_id_seen = std::string(key_id);
    return awsclient::EncryptResult{.ciphertext_blob = ToBytes("CIPHERTEXT"),
                                    .key_id = reply_key_id.value_or(std::string(key_id)),
                                    .encryption_algorithm = "SYMMETRIC_DEFAULT"};
  }
  absl::StatusOr<std::string> Store(std::string_view secret_name, ByteView ciphertext) override {
    ++store_calls;
    if (stored.has_value()) return absl::AlreadyExistsError("ResourceExistsException");
    stored_name = std::string(secret_name);
    stored = Bytes(ciphertext.begin(), ciphertext.end());
    return std::string("version-1");
  }

  int encrypt_calls = 0;
  int store_calls = 0;
  absl::Status encrypt_status;
  std::optional<std::string> reply_key_id;
  std::optional<SecretBytes> plaintext_seen;
  awsclient::EncryptionContext context_seen;
  std::string key_id_seen;
  std::string stored_name;
  std::optional<Bytes> stored;
};

// A KeyManager still looking for a secret that does not exist yet (the state an enclave started
// with --secret NAME is in before create-key --in-enclave).
std::unique_ptr<KeyManager> LoadingManager() {
  auto keys = std::make_unique<KeyManager>(
      [](LoadFailure* f) -> absl::StatusOr<std::unique_ptr<signer::Signer>> {
        absl::Status s = absl::FailedPreconditionError("relay: secret unavailable");
        if (f != nullptr) *f = LoadFailure{s, "secret unavailable", RetryClass::kSlow};
        return s;
      },
      KeyManagerOptions{.mode = LoadMode::kBoot, .slow_retry = absl::Milliseconds(20)});
  keys->Start();
  return keys;
}

GenerateKeyRequest Request(signer::KeyType type = signer::KeyType::kSecp256k1) {
  return GenerateKeyRequest{.key_type = type, .secret_name = kSecret, .kms_key_arn = kKeyArn};
}

class KeyGenerationTest : public ::testing::Test {
 protected:
  void SetUp() override { Logger::Default().SetStream(&logs_); }
  void TearDown() override {
    Logger::Default().SetStream(nullptr);
    // The plaintext key never reaches the log.
    if (backend_.plaintext_seen.has_value()) {
      EXPECT_THAT(logs_.str(), Not(HasSubstr(Base64Encode(backend_.plaintext_seen->Reveal()))));
      EXPECT_THAT(logs_.str(), Not(HasSubstr(HexEncode(backend_.plaintext_seen->Reveal()))));
    }
  }

  std::ostringstream logs_;
  testing::FakeNsmDevice nsm_;
  FakeBackend backend_;
};

TEST_F(KeyGenerationTest, GeneratesEncryptsStoresInstallsAndAttests) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  absl::StatusOr<GeneratedKey> key = generator.Generate(Request());
  ASSERT_TRUE(key.ok()) << key.status();

  // NSM entropy first: at least 256 bytes (64 per call from the fake).
  EXPECT_GE(nsm_.random_calls.load(), 4);
  // Encrypted under the requested key, bound to the secret's name as the loader decrypts it.
  EXPECT_EQ(backend_.key_id_seen, kKeyArn);
  EXPECT_EQ(backend_.context_seen,
            (awsclient::EncryptionContext{{std::string(kEncryptionContextSecretKey), kSecret}}));
  ASSERT_TRUE(backend_.plaintext_seen.has_value());
  absl::StatusOr<std::unique_ptr<signer::Signer>> reloaded =
      signer::Signer::FromPkcs8(*backend_.plaintext_seen, signer::KeyType::kSecp256k1);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ((*reloaded)->public_key_der(), key->signer->public_key_der());
  // Stored: the ciphertext, never the plaintext.
  EXPECT_EQ(backend_.stored_name, kSecret);
  EXPECT_EQ(backend_.stored, ToBytes("CIPHERTEXT"));
  EXPECT_EQ(key->version_id, "version-1");
  // Installed: the manager serves it, and its loader gave up looking.
  EXPECT_EQ(keys->signer(), key->signer);
  EXPECT_EQ(keys->Health().state, "ok");
  // The attest op's document: public_key = SPKI, user_data = SHA-256(SPKI); the nonce names the
  // secret and the KMS key the key was stored under.
  std::optional<nsm::AttestationRequest> a = nsm_.LastAttestation();
  ASSERT_TRUE(a.has_value());
  const crypto::Sha256Digest h = crypto::Sha256(key->signer->public_key_der());
  EXPECT_EQ(a->public_key, std::optional<Bytes>(key->signer->public_key_der()));
  EXPECT_EQ(a->user_data, std::optional<Bytes>(Bytes(h.begin(), h.end())));
  const crypto::Sha256Digest binding = attest::GenerateKeyBinding(kSecret, kKeyArn);
  EXPECT_EQ(a->nonce, std::optional<Bytes>(Bytes(binding.begin(), binding.end())));
  EXPECT_FALSE(key->document.empty());
}

TEST_F(KeyGenerationTest, ASecondGenerationIsRefusedOnceAKeyIsLoaded) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  ASSERT_TRUE(generator.Generate(Request()).ok());
  absl::StatusOr<GeneratedKey> again = generator.Generate(Request());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend_.encrypt_calls, 1);

  std::unique_ptr<KeyManager> loaded =
      KeyManager::WithSigner(*signer::Signer::Generate(signer::KeyType::kP256));
  FakeBackend other;
  KeyGenerator g2(kSecret, other, nsm_, *loaded);
  EXPECT_EQ(g2.Generate(Request()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(other.encrypt_calls, 0);
  EXPECT_EQ(nsm_.random_calls.load(), 4);  // only the first generation asked the NSM
}

TEST_F(KeyGenerationTest, OnlyTheEnclavesOwnSecretName) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  GenerateKeyRequest request = Request();
  request.secret_name = "lockout/other-key";
  EXPECT_EQ(generator.Generate(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_.encrypt_calls, 0);
  EXPECT_EQ(keys->signer(), nullptr);
}

TEST_F(KeyGenerationTest, AKeyIdOtherThanTheRequestedOneStoresNothing) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  backend_.reply_key_id =
      "arn:aws:kms:us-east-1:444455556666:key/ffffffff-12ab-34cd-56ef-1234567890ab";
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  absl::StatusOr<GeneratedKey> key = generator.Generate(Request());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend_.store_calls, 0);
  EXPECT_EQ(keys->signer(), nullptr);
}

TEST_F(KeyGenerationTest, AnExistingSecretIsNotReplacedAndNothingIsInstalled) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  backend_.stored = ToBytes("someone else's ciphertext");
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  absl::StatusOr<GeneratedKey> key = generator.Generate(Request());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(backend_.stored, ToBytes("someone else's ciphertext"));
  EXPECT_EQ(keys->signer(), nullptr);
}

TEST_F(KeyGenerationTest, KmsAndNsmFailuresStopBeforeAnythingIsStored) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  backend_.encrypt_status = absl::PermissionDeniedError("AccessDeniedException");
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  EXPECT_EQ(generator.Generate(Request()).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(backend_.store_calls, 0);
  backend_.encrypt_status = absl::OkStatus();
  nsm_.down = true;
  EXPECT_EQ(generator.Generate(Request()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(backend_.store_calls, 0);
  EXPECT_EQ(keys->signer(), nullptr);
}

TEST_F(KeyGenerationTest, PerRequestModeAndAFailedLoaderRefuse) {
  KeyManager per_request(
      [](LoadFailure*) -> absl::StatusOr<std::unique_ptr<signer::Signer>> {
        return absl::UnavailableError("x");
      },
      KeyManagerOptions{.mode = LoadMode::kPerRequest});
  KeyGenerator generator(kSecret, backend_, nsm_, per_request);
  EXPECT_EQ(generator.Generate(Request()).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(per_request.Install(*signer::Signer::Generate(signer::KeyType::kP256)).code(),
            absl::StatusCode::kFailedPrecondition);
}

// "hd": true: a 64-byte seed, stored as the seed secret format the loader reads, installed as a
// keyring; the document binds m's SPKI and xpub.
TEST_F(KeyGenerationTest, GeneratesAnHdSeedStoresItAsASeedSecretAndAttestsTheXpub) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  GenerateKeyRequest request = Request(signer::KeyType::kSecp256k1);
  request.hd = true;
  absl::StatusOr<GeneratedKey> key = generator.Generate(request);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_GE(nsm_.random_calls.load(), 4);
  EXPECT_TRUE(key->hd);

  // The plaintext KMS saw is a seed secret: secp256k1, 64 bytes of seed.
  ASSERT_TRUE(backend_.plaintext_seen.has_value());
  absl::StatusOr<hd::SeedSecret> seed = hd::ParseSeedSecret(*backend_.plaintext_seen);
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_EQ(seed->curve, hd::Curve::kSecp256k1);
  EXPECT_EQ(seed->seed.size(), 64u);
  EXPECT_EQ(backend_.context_seen,
            (awsclient::EncryptionContext{{std::string(kEncryptionContextSecretKey), kSecret}}));
  EXPECT_EQ(backend_.stored, ToBytes("CIPHERTEXT"));

  // Installed as a keyring whose master is the seed's m; the xpub is m's.
  ASSERT_NE(keys->hd(), nullptr);
  EXPECT_EQ(keys->signer(), nullptr);
  EXPECT_EQ(key->signer, &keys->hd()->master());
  absl::StatusOr<hd::ExtendedPrivateKey> m =
      hd::ExtendedPrivateKey::FromSeed(hd::Curve::kSecp256k1, seed->seed);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(key->xpub.has_value());
  EXPECT_EQ(*key->xpub, *m->Public().ToXpub());
  // A child the keyring derives is the seed's child (what a restarted enclave would sign with).
  const hd::DerivationPath path = *hd::DerivationPath::Parse("m/44'/60'/0'/0/7");
  absl::StatusOr<std::shared_ptr<const signer::Signer>> child = keys->hd()->SignerFor(path);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ((*child)->public_key_der(),
            (*DeriveSigner(hd::Curve::kSecp256k1, seed->seed, path))->public_key_der());

  // The document: public_key = m's SPKI, user_data = GenerateHdBinding(SPKI, xpub), the nonce
  // as for a key.
  std::optional<nsm::AttestationRequest> a = nsm_.LastAttestation();
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->public_key, std::optional<Bytes>(key->signer->public_key_der()));
  const crypto::Sha256Digest u =
      attest::GenerateHdBinding(key->signer->public_key_der(), *key->xpub);
  EXPECT_EQ(a->user_data, std::optional<Bytes>(Bytes(u.begin(), u.end())));
  const crypto::Sha256Digest single = crypto::Sha256(key->signer->public_key_der());
  EXPECT_NE(a->user_data, std::optional<Bytes>(Bytes(single.begin(), single.end())));
  const crypto::Sha256Digest binding = attest::GenerateKeyBinding(kSecret, kKeyArn);
  EXPECT_EQ(a->nonce, std::optional<Bytes>(Bytes(binding.begin(), binding.end())));

  // The seed never reaches the log (TearDown checks the whole plaintext too).
  EXPECT_THAT(logs_.str(), Not(HasSubstr(HexEncode(seed->seed.Reveal()))));
  EXPECT_THAT(logs_.str(), HasSubstr("key_generated"));
}

TEST_F(KeyGenerationTest, HdSeedsForTheSlip10CurvesHaveNoXpub) {
  for (signer::KeyType type : {signer::KeyType::kP256, signer::KeyType::kEd25519}) {
    FakeBackend backend;
    std::unique_ptr<KeyManager> keys = LoadingManager();
    KeyGenerator generator(kSecret, backend, nsm_, *keys);
    GenerateKeyRequest request = Request(type);
    request.hd = true;
    absl::StatusOr<GeneratedKey> key = generator.Generate(request);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_FALSE(key->xpub.has_value());
    ASSERT_NE(keys->hd(), nullptr);
    EXPECT_EQ(keys->hd()->key_type(), type);
    absl::StatusOr<hd::SeedSecret> seed = hd::ParseSeedSecret(*backend.plaintext_seen);
    ASSERT_TRUE(seed.ok());
    EXPECT_EQ(hd::KeyTypeNameOfCurve(seed->curve), signer::KeyTypeName(type));
    const crypto::Sha256Digest u = attest::GenerateHdBinding(key->signer->public_key_der(), "");
    EXPECT_EQ(nsm_.LastAttestation()->user_data, std::optional<Bytes>(Bytes(u.begin(), u.end())));
  }
}

TEST_F(KeyGenerationTest, AnHdSeedIsNotInstalledWhenTheSecretExists) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  backend_.stored = ToBytes("exists");
  GenerateKeyRequest request = Request();
  request.hd = true;
  EXPECT_EQ(generator.Generate(request).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(keys->loaded());
  backend_.reply_key_id = "arn:aws:kms:us-east-1:111122223333:key/other";
  backend_.stored.reset();
  EXPECT_EQ(generator.Generate(request).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(backend_.stored.has_value());
  EXPECT_FALSE(keys->loaded());
}

TEST(GenerateKeyRequestTest, ParsesTheMembersStrictly) {
  const nlohmann::json good = {{"op", "generate_key"},
                               {"key_type", "secp256k1"},
                               {"secret_name", kSecret},
                               {"kms_key", kKeyArn}};
  absl::StatusOr<GenerateKeyRequest> r = ParseGenerateKeyRequest(good);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->key_type, signer::KeyType::kSecp256k1);
  EXPECT_EQ(r->kms_key_arn, kKeyArn);
  for (const auto& [member, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"key_type", "rsa2048"},
           {"key_type", 7},
           {"secret_name", ""},
           {"secret_name", "x y"},
           {"secret_name", nullptr},
           {"kms_key", "alias/lockout"},
           {"kms_key", "1234abcd-12ab-34cd-56ef-1234567890ab"},
           {"kms_key", "arn:aws:kms:us-east-1:1111:key/x"},
           {"kms_key", "arn:aws:s3:us-east-1:111122223333:key/x"},
           {"kms_key", "arn:aws:kms:us-east-1:111122223333:alias/x"},
           {"kms_key", "arn:aws:kms:us-east-1:111122223333:key/"},
           {"kms_key", "arn:aws:kms:us-east-1:111122223333:key/a b"},
           {"kms_key", 5}}) {
    nlohmann::json bad = good;
    bad[member] = value;
    absl::StatusOr<GenerateKeyRequest> parsed = ParseGenerateKeyRequest(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad.dump();
    if (value.is_string() && !value.get<std::string>().empty()) {
      EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr(value.get<std::string>())));
    }
  }
  for (const char* member : {"key_type", "secret_name", "kms_key"}) {
    nlohmann::json bad = good;
    bad.erase(member);
    EXPECT_FALSE(ParseGenerateKeyRequest(bad).ok()) << member;
  }
  EXPECT_TRUE(IsKmsKeyArn("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234"));
  EXPECT_FALSE(r->hd);
}

TEST(GenerateKeyRequestTest, HdIsAnOptionalBooleanForTheHdCurves) {
  nlohmann::json good = {{"op", "generate_key"},
                         {"key_type", "secp256k1"},
                         {"secret_name", kSecret},
                         {"kms_key", kKeyArn},
                         {"hd", true}};
  for (const char* type : {"secp256k1", "p256", "ed25519"}) {
    good["key_type"] = type;
    absl::StatusOr<GenerateKeyRequest> r = ParseGenerateKeyRequest(good);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->hd);
  }
  good["hd"] = false;
  good["key_type"] = "p521";
  ASSERT_TRUE(ParseGenerateKeyRequest(good).ok());
  EXPECT_FALSE(ParseGenerateKeyRequest(good)->hd);
  // No HD scheme for p384 / p521; "hd" must be a JSON boolean.
  for (const char* type : {"p384", "p521"}) {
    nlohmann::json bad = good;
    bad["hd"] = true;
    bad["key_type"] = type;
    absl::StatusOr<GenerateKeyRequest> r = ParseGenerateKeyRequest(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("key_type"));
  }
  for (const nlohmann::json& value :
       {nlohmann::json("true"), nlohmann::json(1), nlohmann::json(nullptr),
        nlohmann::json::array({true}), nlohmann::json::object()}) {
    nlohmann::json bad = good;
    bad["key_type"] = "secp256k1";
    bad["hd"] = value;
    absl::StatusOr<GenerateKeyRequest> r = ParseGenerateKeyRequest(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad.dump();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"hd\""));
  }
}

// ---- the v2 op through the request handler ----

class GenerateKeyOpTest : public KeyGenerationTest {
 protected:
  nlohmann::json Call(RequestHandler& handler, const nlohmann::json& request) {
    WorkerState state;
    std::string out;
    // generate_key blocks (NSM, KMS, relay): never on the non-blocking path.
    if (request["op"] == "generate_key") {
      EXPECT_EQ(handler.HandleWithoutBlocking(
                    net::Frame{.kind = net::FrameKind::kV2, .payload = request.dump()}, state, out),
                RequestHandler::Outcome::kWouldBlock);
      EXPECT_TRUE(out.empty());
    }
    EXPECT_FALSE(handler.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = request.dump()},
                                state, out));
    return nlohmann::json::parse(out.substr(4));
  }
  static nlohmann::json Op() {
    return {{"id", 9},
            {"op", "generate_key"},
            {"key_type", "p256"},
            {"secret_name", kSecret},
            {"kms_key", kKeyArn}};
  }
};

TEST_F(GenerateKeyOpTest, RepliesWithThePublicKeyAndItsDocumentThenSignsWithIt) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  HandlerOptions o;
  o.key_name = kSecret;
  o.key_generator = &generator;
  RequestHandler handler(*keys, &nsm_, o);

  nlohmann::json reply = Call(handler, Op());
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["id"], 9);
  EXPECT_EQ(reply["key_type"], "p256");
  EXPECT_EQ(reply["secret_name"], kSecret);
  EXPECT_EQ(reply["kms_key"], kKeyArn);
  EXPECT_EQ(reply["version_id"], "version-1");
  const Bytes spki = *Base64Decode(reply["spki_der"].get<std::string>());
  EXPECT_EQ(spki, keys->signer()->public_key_der());
  const crypto::Sha256Digest h = crypto::Sha256(spki);
  EXPECT_EQ(reply["spki_sha256"], HexEncode(ByteView(h.data(), h.size())));
  EXPECT_TRUE(Base64Decode(reply["document"].get<std::string>()).ok());

  nlohmann::json signed_reply =
      Call(handler, {{"id", 10}, {"op", "sign"}, {"message", Base64Encode(AsBytes("hello"))}});
  EXPECT_EQ(signed_reply["ok"], true);
  // Write-once, and never while a key is loaded.
  nlohmann::json again = Call(handler, Op());
  EXPECT_EQ(again["ok"], false);
  EXPECT_EQ(again["error"], "key loaded");
}

TEST_F(GenerateKeyOpTest, AnHdSeedRepliesWithTheMasterKeyAndXpubThenSignsWithAPath) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  HandlerOptions o;
  o.key_name = kSecret;
  o.key_generator = &generator;
  RequestHandler handler(*keys, &nsm_, o);

  nlohmann::json op = Op();
  op["key_type"] = "secp256k1";
  op["hd"] = true;
  nlohmann::json reply = Call(handler, op);
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["hd"], true);
  EXPECT_EQ(reply["key_type"], "secp256k1");
  ASSERT_NE(keys->hd(), nullptr);
  EXPECT_EQ(*Base64Decode(reply["spki_der"].get<std::string>()),
            keys->hd()->master().public_key_der());
  absl::StatusOr<hd::ExtendedPublicKey> xpub =
      hd::ExtendedPublicKey::ParseXpub(reply["xpub"].get<std::string>());
  ASSERT_TRUE(xpub.ok()) << xpub.status();
  EXPECT_EQ(xpub->depth(), 0);

  // Signing needs a path now; the key at the path is the xpub's child (public derivation).
  nlohmann::json no_path =
      Call(handler, {{"id", 10}, {"op", "sign"}, {"message", Base64Encode(AsBytes("hello"))}});
  EXPECT_EQ(no_path["ok"], false);
  nlohmann::json pk = Call(handler, {{"id", 11}, {"op", "public_key"}, {"path", "m/0/1"}});
  ASSERT_EQ(pk["ok"], true) << pk.dump();
  absl::StatusOr<hd::ExtendedPublicKey> child = xpub->Derive(*hd::DerivationPath::Parse("m/0/1"));
  ASSERT_TRUE(child.ok()) << child.status();
  const Bytes raw = *HexDecode(pk["public_key_raw"].get<std::string>());
  ASSERT_EQ(raw.size(), 65u);
  Bytes compressed = {static_cast<uint8_t>(0x02 | (raw[64] & 1))};
  compressed.insert(compressed.end(), raw.begin() + 1, raw.begin() + 33);
  EXPECT_EQ(compressed, child->public_key());
  nlohmann::json signed_reply = Call(
      handler,
      {{"id", 12}, {"op", "sign"}, {"path", "m/0/1"}, {"message", Base64Encode(AsBytes("hello"))}});
  EXPECT_EQ(signed_reply["ok"], true) << signed_reply.dump();
  EXPECT_EQ(Call(handler, op)["error"], "key loaded");

  // An HD request for a curve without an HD scheme, or a non-boolean hd: bad request.
  std::unique_ptr<KeyManager> other = LoadingManager();
  KeyGenerator other_generator(kSecret, backend_, nsm_, *other);
  o.key_generator = &other_generator;
  RequestHandler other_handler(*other, &nsm_, o);
  op["key_type"] = "p521";
  EXPECT_EQ(Call(other_handler, op)["error"], "bad request");
  op["key_type"] = "secp256k1";
  op["hd"] = "yes";
  EXPECT_EQ(Call(other_handler, op)["error"], "bad request");
  EXPECT_FALSE(other->loaded());
}

TEST_F(GenerateKeyOpTest, BadMembersAndNoGeneratorAreRefused) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  HandlerOptions o;
  o.key_name = kSecret;
  RequestHandler without(*keys, &nsm_, o);
  EXPECT_EQ(Call(without, Op())["error"], "unknown op");

  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  o.key_generator = &generator;
  RequestHandler handler(*keys, &nsm_, o);
  nlohmann::json bad = Op();
  bad["kms_key"] = "alias/lockout";
  EXPECT_EQ(Call(handler, bad)["error"], "bad request");
  bad = Op();
  bad["secret_name"] = "lockout/another";
  EXPECT_EQ(Call(handler, bad)["error"], "bad request");
  backend_.stored = ToBytes("exists");
  EXPECT_EQ(Call(handler, Op())["error"], "secret exists");
  EXPECT_EQ(backend_.encrypt_calls, 1);
  EXPECT_EQ(keys->signer(), nullptr);
}

TEST_F(GenerateKeyOpTest, UnderASigningPolicyOnlyAClientAllowedTheOpGenerates) {
  std::unique_ptr<KeyManager> keys = LoadingManager();
  KeyGenerator generator(kSecret, backend_, nsm_, *keys);
  std::unique_ptr<auth::ClientKey> admin =
      *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "admin");
  std::unique_ptr<auth::ClientKey> signer_client =
      *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "gateway");
  auto policy = std::make_shared<signpolicy::SigningPolicy>();
  policy->clients.push_back({.name = "admin",
                             .algorithm = admin->algorithm(),
                             .public_key = ToString(admin->public_key()),
                             .ops = {"generate_key", "health"},
                             .keys = {"*"}});
  policy->clients.push_back({.name = "gateway",
                             .algorithm = signer_client->algorithm(),
                             .public_key = ToString(signer_client->public_key()),
                             .ops = {"sign"},
                             .keys = {"*"}});
  HandlerOptions o;
  o.key_name = kSecret;
  o.key_generator = &generator;
  o.signing_policy = policy;
  RequestHandler handler(*keys, &nsm_, o);

  // Unauthenticated, and a client not allowed the op: refused before anything is generated.
  WorkerState state;
  std::string out;
  handler.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = Op().dump()}, state, out);
  EXPECT_EQ(nlohmann::json::parse(out.substr(4))["error"], "unauthorized");
  nlohmann::json by_gateway = Op();
  ASSERT_TRUE(auth::SignRequest(*signer_client, absl::Now(), by_gateway).ok());
  out.clear();
  handler.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = by_gateway.dump()}, state, out);
  EXPECT_EQ(nlohmann::json::parse(out.substr(4))["error"], "unauthorized");
  EXPECT_EQ(backend_.encrypt_calls, 0);
  EXPECT_EQ(nsm_.random_calls.load(), 0);

  nlohmann::json by_admin = Op();
  ASSERT_TRUE(auth::SignRequest(*admin, absl::Now(), by_admin).ok());
  out.clear();
  handler.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = by_admin.dump()}, state, out);
  nlohmann::json reply = nlohmann::json::parse(out.substr(4));
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_NE(keys->signer(), nullptr);
}

}  // namespace
}  // namespace lockout::enclave
