// `lockout create-key --in-enclave`'s client (enclave_key_generation.h) against an in-test
// enclave: the real request handler and server of src/enclave with a KeyGenerator (KMS and the
// relay faked), and an NSM that signs documents with a test CA, so the document is really
// verified. Tampered documents (another key, another user_data, an untrusted root) are refused.

#include "src/operator/enclave_key_generation.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/attest/attestation_document.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/builder.h"
#include "src/attest/cert_authority.h"
#include "src/attest/reply_binding.h"
#include "src/enclave/hd_keyring.h"
#include "src/enclave/key_generation.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/enclave/server.h"
#include "src/eth/address.h"
#include "src/hd/derivation_path.h"
#include "src/hd/extended_key.h"
#include "src/nsm/nsm_message.h"

namespace lockout::ops {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "lockout/signing-key";
constexpr char kKeyArn[] =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

// GetRandom, and Attestation signed by a test root (root -> leaf, as the local NSM service).
class TestNsm final : public nsm::NsmDevice {
 public:
  TestNsm() {
    const absl::Time now = absl::Now();
    auto root = attest::CertAuthority::CreateRoot({.subject = "CN=keygen test root",
                                                   .not_before = now - absl::Hours(1),
                                                   .not_after = now + absl::Hours(24),
                                                   .path_length = 1});
    EXPECT_TRUE(root.ok()) << root.status();
    auto leaf = root->IssueLeaf({.subject = "CN=keygen test leaf",
                                 .not_before = now - absl::Hours(1),
                                 .not_after = now + absl::Hours(3),
                                 .path_length = std::nullopt});
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    root_der = root->certificate();
    leaf_ = *std::move(leaf);
  }

  absl::StatusOr<Bytes> Call(ByteView request_cbor) override {
    absl::StatusOr<nsm::NsmRequest> request = nsm::DecodeRequest(request_cbor);
    if (!request.ok()) return request.status();
    if (std::holds_alternative<nsm::GetRandomRequest>(*request)) {
      return nsm::EncodeResponse(nsm::GetRandomResponse{.random = Bytes(256, 0x17)});
    }
    const auto* a = std::get_if<nsm::AttestationRequest>(&*request);
    if (a == nullptr) {
      return nsm::EncodeResponse(nsm::ErrorResponse{.code = nsm::ErrorCode::kInvalidOperation});
    }
    attest::AttestationDocument doc;
    doc.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
    doc.digest = "SHA384";
    doc.timestamp_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
    doc.pcrs[0] = Bytes(48, 0x5a);
    doc.certificate = leaf_.certificate;
    doc.cabundle = {root_der};
    doc.public_key = public_key.has_value() ? public_key : a->public_key;
    doc.user_data = user_data.has_value() ? user_data : a->user_data;
    doc.nonce = nonce.has_value() ? nonce : a->nonce;
    absl::StatusOr<Bytes> built = attest::BuildAttestationDocument(doc, leaf_.key.get());
    if (!built.ok()) return built.status();
    return nsm::EncodeResponse(nsm::AttestationResponse{.document = *std::move(built)});
  }

  Bytes root_der;
  std::optional<Bytes> public_key;  // tamper: attest this key instead
  std::optional<Bytes> user_data;   // tamper: this user_data instead
  std::optional<Bytes> nonce;       // tamper: this nonce instead

 private:
  attest::CertifiedKey leaf_;
};

class FakeBackend final : public enclave::KeyGenerationBackend {
 public:
  absl::StatusOr<awsclient::EncryptResult> Encrypt(std::string_view key_id, const SecretBytes&,
                                                   const awsclient::EncryptionContext&) override {
    return awsclient::EncryptResult{.ciphertext_blob = Bytes(200, 7),
                                    .key_id = std::string(key_id),
                                    .encryption_algorithm = "SYMMETRIC_DEFAULT"};
  }
  absl::StatusOr<std::string> Store(std::string_view, ByteView) override {
    return std::string("version-1");
  }
};

// An enclave with no key yet, serving generate_key.
struct Enclave {
  Enclave() {
    keys = std::make_unique<enclave::KeyManager>(
        [](enclave::LoadFailure* f) -> absl::StatusOr<std::unique_ptr<signer::Signer>> {
          absl::Status s = absl::FailedPreconditionError("no secret yet");
          if (f != nullptr) *f = {s, "secret unavailable", enclave::RetryClass::kSlow};
          return s;
        },
        enclave::KeyManagerOptions{});
    generator = std::make_unique<enclave::KeyGenerator>(kSecret, backend, nsm, *keys);
    enclave::HandlerOptions o;
    o.key_name = kSecret;
    o.key_generator = generator.get();
    handler = std::make_unique<enclave::RequestHandler>(*keys, &nsm, o);
    enclave::ServerOptions options;
    options.listen = *net::Endpoint::Parse("tcp://127.0.0.1:0");
    options.threads = 1;
    auto s = enclave::Server::Start(options, *handler);
    EXPECT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
  }

  absl::StatusOr<EnclaveKeyGenerationResult> Generate(signer::KeyType type,
                                                      bool trust_test_root = true,
                                                      bool hd = false) {
    auto client = EnclaveV2Client::Connect(server->local_endpoint());
    if (!client.ok()) return client.status();
    EnclaveKeyGenerationOptions options{.kms_key_arn = kKeyArn,
                                        .secret_name = kSecret,
                                        .key_type = type,
                                        .trusted_roots = {attest::AwsNitroRootG1Der()}};
    if (trust_test_root) options.trusted_roots.push_back(nsm.root_der);
    options.hd = hd;
    return GenerateKeyInEnclave(**client, options);
  }

  TestNsm nsm;
  FakeBackend backend;
  std::unique_ptr<enclave::KeyManager> keys;
  std::unique_ptr<enclave::KeyGenerator> generator;
  std::unique_ptr<enclave::RequestHandler> handler;
  std::unique_ptr<enclave::Server> server;
};

TEST(EnclaveKeyGenerationTest, AcceptsTheAttestedKeyAndDerivesTheAddressItself) {
  Enclave e;
  absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(signer::KeyType::kSecp256k1);
  ASSERT_TRUE(r.ok()) << r.status();
  const signer::Signer* installed = e.keys->signer();
  ASSERT_NE(installed, nullptr);
  EXPECT_EQ(r->spki_der, installed->public_key_der());
  EXPECT_EQ(r->public_key_pem, installed->public_key_pem());
  EXPECT_EQ(r->version_id, "version-1");
  ASSERT_TRUE(r->ethereum_address.has_value());
  EXPECT_EQ(*r->ethereum_address,
            eth::ChecksumAddress(*eth::EthereumAddress(installed->public_key_raw())));
  nlohmann::ordered_json j = r->ToJson();
  EXPECT_EQ(j["address"], *r->ethereum_address);
  EXPECT_EQ(j["attestation"]["verified"], true);
  EXPECT_EQ(j["kms_key"], kKeyArn);

  // The enclave now holds a key: a second request is refused with the enclave's reason.
  absl::StatusOr<EnclaveKeyGenerationResult> again = e.Generate(signer::KeyType::kSecp256k1);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("key loaded"));
}

TEST(EnclaveKeyGenerationTest, EveryKeyTypeIsBound) {
  for (signer::KeyType type : {signer::KeyType::kP256, signer::KeyType::kP384,
                               signer::KeyType::kP521, signer::KeyType::kEd25519}) {
    Enclave e;
    absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(type);
    ASSERT_TRUE(r.ok()) << signer::KeyTypeName(type) << ": " << r.status();
    EXPECT_FALSE(r->ethereum_address.has_value());
  }
}

TEST(EnclaveKeyGenerationTest, AnHdSeedIsAcceptedWithItsAttestedXpubAndPin) {
  Enclave e;
  absl::StatusOr<EnclaveKeyGenerationResult> r =
      e.Generate(signer::KeyType::kSecp256k1, true, /*hd=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  const enclave::HdKeyring* ring = e.keys->hd();
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(r->spki_der, ring->master().public_key_der());
  EXPECT_TRUE(r->hd);
  ASSERT_TRUE(r->xpub.has_value());
  ASSERT_TRUE(r->ethereum_address.has_value());
  EXPECT_EQ(r->policy_pin, absl::StrCat("{\"eth_address\":\"",
                                        absl::AsciiStrToLower(*r->ethereum_address), "\"}"));
  // The xpub's children are the keys the enclave signs with.
  const hd::DerivationPath path = *hd::DerivationPath::Parse("m/0/5");
  absl::StatusOr<hd::ExtendedPublicKey> child =
      (*hd::ExtendedPublicKey::ParseXpub(*r->xpub)).Derive(path);
  ASSERT_TRUE(child.ok());
  const Bytes raw = (*ring->SignerFor(path))->public_key_raw();
  EXPECT_EQ(Bytes(child->public_key().begin() + 1, child->public_key().end()),
            Bytes(raw.begin() + 1, raw.begin() + 33));
  nlohmann::ordered_json j = r->ToJson();
  EXPECT_EQ(j["hd"], true);
  EXPECT_EQ(j["xpub"], *r->xpub);
  EXPECT_EQ(j["policy_pin"]["eth_address"], absl::AsciiStrToLower(*r->ethereum_address));
}

TEST(EnclaveKeyGenerationTest, HdSeedsOfTheSlip10CurvesArePinnedBySpkiHash) {
  for (signer::KeyType type : {signer::KeyType::kP256, signer::KeyType::kEd25519}) {
    Enclave e;
    absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(type, true, /*hd=*/true);
    ASSERT_TRUE(r.ok()) << signer::KeyTypeName(type) << ": " << r.status();
    EXPECT_FALSE(r->xpub.has_value());
    EXPECT_FALSE(r->ethereum_address.has_value());
    EXPECT_THAT(r->policy_pin, HasSubstr("public_key_sha256"));
    ASSERT_NE(e.keys->hd(), nullptr);
  }
}

TEST(EnclaveKeyGenerationTest, AnHdDocumentMustBindTheXpub) {
  // The single key's user_data (or any other) does not pass for a seed's.
  Enclave e;
  e.nsm.user_data = Bytes(32, 0);
  absl::StatusOr<EnclaveKeyGenerationResult> r =
      e.Generate(signer::KeyType::kSecp256k1, true, /*hd=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("xpub"));
}

TEST(EnclaveKeyGenerationTest, AnHdRequestForACurveWithoutHdIsRefusedByTheEnclave) {
  Enclave e;
  absl::StatusOr<EnclaveKeyGenerationResult> r =
      e.Generate(signer::KeyType::kP521, true, /*hd=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("bad request"));
  EXPECT_FALSE(e.keys->loaded());
}

TEST(EnclaveKeyGenerationTest, ADocumentFromAnUntrustedRootIsRefused) {
  Enclave e;
  absl::StatusOr<EnclaveKeyGenerationResult> r =
      e.Generate(signer::KeyType::kP256, /*trust_test_root=*/false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("does not verify"));
}

TEST(EnclaveKeyGenerationTest, ADocumentForAnotherKeyIsRefused) {
  Enclave e;
  e.nsm.public_key = (*signer::Signer::Generate(signer::KeyType::kP256))->public_key_der();
  absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(signer::KeyType::kP256);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("public_key"));
}

TEST(EnclaveKeyGenerationTest, ADocumentWithOtherUserDataIsRefused) {
  Enclave e;
  e.nsm.user_data = Bytes(32, 0);
  absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(signer::KeyType::kP256);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("user_data"));
}

TEST(EnclaveKeyGenerationTest, AKeyStoredUnderAnotherKmsKeyThanAskedIsRefused) {
  // What root on the parent gets by rewriting kms_key in the request (and back in the reply)
  // without a signing policy: the enclave's document names the KMS key it really used.
  Enclave e;
  const crypto::Sha256Digest elsewhere =
      attest::GenerateKeyBinding(kSecret, "arn:aws:kms:us-east-1:999999999999:key/attacker");
  e.nsm.nonce = Bytes(elsewhere.begin(), elsewhere.end());
  absl::StatusOr<EnclaveKeyGenerationResult> r = e.Generate(signer::KeyType::kP256);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("altered"));
}

}  // namespace
}  // namespace lockout::ops
