// sign / verify / attest clients against an in-test lockout-enclave: the real request handler
// and server of src/enclave on tcp://127.0.0.1:0, with a key made by the real Signer and an NSM
// that signs documents with a test CA (so VerifyAttestation really checks them).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/attest/builder.h"
#include "src/attest/cert_authority.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/enclave/server.h"
#include "src/eth/address.h"
#include "src/eth/personal_message.h"
#include "src/eth/recover.h"
#include "src/eth/transaction.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/nsm_message.h"
#include "src/operator/attest_client.h"
#include "src/operator/create_key.h"
#include "src/operator/enclave_client.h"
#include "src/operator/signature_verify.h"
#include "src/signer/signer.h"

namespace lockout::ops {
namespace {

using ::testing::HasSubstr;

// An NSM whose documents chain to a test root: root -> leaf (P-384), like the local NSM service.
class SigningNsm final : public nsm::NsmDevice {
 public:
  SigningNsm() {
    const absl::Time now = absl::Now();
    auto root = attest::CertAuthority::CreateRoot({.subject = "CN=operator test root",
                                                   .not_before = now - absl::Hours(1),
                                                   .not_after = now + absl::Hours(24),
                                                   .path_length = 1});
    EXPECT_TRUE(root.ok()) << root.status();
    auto leaf = root->IssueLeaf({.subject = "CN=operator test leaf",
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
    const auto* a = std::get_if<nsm::AttestationRequest>(&*request);
    if (a == nullptr) {
      return nsm::EncodeResponse(nsm::ErrorResponse{.code = nsm::ErrorCode::kInvalidOperation});
    }
    attest::AttestationDocument doc;
    doc.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
    doc.digest = "SHA384";
    doc.timestamp_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
    doc.pcrs[0] = pcr0;
    doc.pcrs[1] = pcr0;
    doc.pcrs[2] = pcr0;
    doc.certificate = leaf_.certificate;
    doc.cabundle = {root_der};
    doc.public_key = a->public_key;
    doc.user_data = a->user_data;
    doc.nonce = replay_nonce ? replay_nonce : a->nonce;
    absl::StatusOr<Bytes> built = attest::BuildAttestationDocument(doc, leaf_.key.get());
    if (!built.ok()) return built.status();
    return nsm::EncodeResponse(nsm::AttestationResponse{.document = *std::move(built)});
  }

  Bytes root_der;
  Bytes pcr0 = Bytes(48, 0x5a);
  std::optional<Bytes> replay_nonce;  // answer with this nonce instead of the client's

 private:
  attest::CertifiedKey leaf_;
};

struct Enclave {
  explicit Enclave(signer::KeyType type) {
    auto signer = signer::Signer::Generate(type);
    EXPECT_TRUE(signer.ok()) << signer.status();
    pem = (*signer)->public_key_pem();
    keys = enclave::KeyManager::WithSigner(*std::move(signer));
    handler = std::make_unique<enclave::RequestHandler>(*keys, &nsm);
    enclave::ServerOptions options;
    options.listen = *net::Endpoint::Parse("tcp://127.0.0.1:0");
    options.threads = 2;
    auto s = enclave::Server::Start(options, *handler);
    EXPECT_TRUE(s.ok()) << s.status();
    server = *std::move(s);
  }
  net::Endpoint endpoint() const { return server->local_endpoint(); }

  SigningNsm nsm;
  std::string pem;
  std::unique_ptr<enclave::KeyManager> keys;
  std::unique_ptr<enclave::RequestHandler> handler;
  std::unique_ptr<enclave::Server> server;
};

class ClientForEveryKeyType : public ::testing::TestWithParam<signer::KeyType> {};

TEST_P(ClientForEveryKeyType, V1SignaturesVerifyWithThePublicKeyAndNotForAnotherMessage) {
  Enclave e(GetParam());
  const std::string message = "Hello, sign this message!";
  auto reply = SignV1(e.endpoint(), AsBytes(message));
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto json = nlohmann::json::parse(*reply);
  EXPECT_EQ(json["success"], "True");  // the seed's reply, verbatim
  auto sig = ParseV1SignReply(*reply);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_TRUE(VerifySignature(e.pem, AsBytes(message), *sig).ok());
  EXPECT_EQ(VerifySignature(e.pem, AsBytes("Hello, sign this message?"), *sig).code(),
            absl::StatusCode::kUnauthenticated);
  Bytes flipped = *sig;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(VerifySignature(e.pem, AsBytes(message), flipped).ok());
  EXPECT_EQ(*PublicKeyType(e.pem), std::string(signer::KeyTypeName(GetParam())));
}

TEST_P(ClientForEveryKeyType, V2SignAndPublicKeyOnOneConnection) {
  Enclave e(GetParam());
  auto client = EnclaveV2Client::Connect(e.endpoint());
  ASSERT_TRUE(client.ok()) << client.status();
  auto key = (*client)->PublicKey();
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->public_key_pem, e.pem);
  EXPECT_EQ(key->key_type, signer::KeyTypeName(GetParam()));
  for (const char* m : {"", "a", "tx 1", "tx 2"}) {
    auto sig = (*client)->Sign(AsBytes(m));
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE(VerifySignature(key->public_key_pem, AsBytes(m), *sig).ok()) << m;
  }
  auto health = (*client)->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ((*health)["status"], "ok");
}

TEST_P(ClientForEveryKeyType, V2SignWithEveryHashAndFormatVerifiesWithTheSameOptions) {
  const signer::KeyType type = GetParam();
  Enclave e(type);
  auto client = EnclaveV2Client::Connect(e.endpoint());
  ASSERT_TRUE(client.ok()) << client.status();
  int served = 0;
  for (signer::HashAlgorithm hash :
       {signer::HashAlgorithm::kSha256, signer::HashAlgorithm::kSha384,
        signer::HashAlgorithm::kSha512, signer::HashAlgorithm::kKeccak256,
        signer::HashAlgorithm::kNone}) {
    for (signer::SignatureFormat format :
         {signer::SignatureFormat::kDer, signer::SignatureFormat::kRaw,
          signer::SignatureFormat::kRecoverable}) {
      const signer::SignOptions options{.hash = hash, .format = format};
      SCOPED_TRACE(absl::StrCat(Absl(signer::HashAlgorithmName(hash)), " ",
                                Absl(signer::SignatureFormatName(format))));
      const Bytes message =
          hash == signer::HashAlgorithm::kNone && type != signer::KeyType::kEd25519
              ? Bytes(signer::PrehashedDigestSize(type), 0x42)
              : ToBytes("tx 9");
      auto sig = (*client)->Sign(message, options);
      if (!signer::ResolveSignOptions(type, options).ok()) {
        ASSERT_FALSE(sig.ok());
        EXPECT_THAT(std::string(sig.status().message()), HasSubstr("bad request"));
        EXPECT_EQ(VerifySignature(e.pem, message, Bytes(64, 1), options).code(),
                  absl::StatusCode::kInvalidArgument);
        continue;
      }
      ASSERT_TRUE(sig.ok()) << sig.status();
      ++served;
      EXPECT_TRUE(VerifySignature(e.pem, message, *sig, options).ok());
      Bytes other = message;
      other[0] ^= 1;
      EXPECT_EQ(VerifySignature(e.pem, other, *sig, options).code(),
                absl::StatusCode::kUnauthenticated);
      if (type == signer::KeyType::kEd25519) continue;
      // The same bytes read with another format or hash do not verify.
      const signer::SignOptions other_format{.hash = hash,
                                             .format = format == signer::SignatureFormat::kDer
                                                           ? signer::SignatureFormat::kRaw
                                                           : signer::SignatureFormat::kDer};
      EXPECT_FALSE(VerifySignature(e.pem, message, *sig, other_format).ok());
      if (hash != signer::HashAlgorithm::kNone) {
        const signer::SignOptions other_hash{.hash = hash == signer::HashAlgorithm::kSha256
                                                         ? signer::HashAlgorithm::kKeccak256
                                                         : signer::HashAlgorithm::kSha256,
                                             .format = format};
        EXPECT_FALSE(VerifySignature(e.pem, message, *sig, other_hash).ok());
      }
    }
  }
  EXPECT_EQ(served, type == signer::KeyType::kEd25519     ? 1
                    : type == signer::KeyType::kSecp256k1 ? 15
                                                          : 10);
}

TEST(VerifyTest, ARecoverableSignatureMustRecoverToThePublicKey) {
  auto mine = signer::Signer::Generate(signer::KeyType::kSecp256k1);
  auto theirs = signer::Signer::Generate(signer::KeyType::kSecp256k1);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  const signer::SignOptions rec{.format = signer::SignatureFormat::kRecoverable};
  auto sig = (*theirs)->Sign(AsBytes("m"), rec);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifySignature((*theirs)->public_key_pem(), AsBytes("m"), *sig, rec).ok());
  absl::Status wrong = VerifySignature((*mine)->public_key_pem(), AsBytes("m"), *sig, rec);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  Bytes bad_v = *sig;
  bad_v[64] = 27;
  EXPECT_EQ(VerifySignature((*theirs)->public_key_pem(), AsBytes("m"), bad_v, rec).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature((*theirs)->public_key_pem(), AsBytes("m"), Bytes(64, 1), rec).code(),
            absl::StatusCode::kUnauthenticated);
  // hash none needs a digest of the key's size.
  EXPECT_EQ(VerifySignature((*theirs)->public_key_pem(), Bytes(31, 1), *sig,
                            {.hash = signer::HashAlgorithm::kNone})
                .code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ClientForEveryKeyType,
                         ::testing::Values(signer::KeyType::kP256, signer::KeyType::kP384,
                                           signer::KeyType::kP521, signer::KeyType::kSecp256k1,
                                           signer::KeyType::kEd25519),
                         [](const ::testing::TestParamInfo<signer::KeyType>& param_info) {
                           return std::string(signer::KeyTypeName(param_info.param));
                         });

TEST(AttestClientTest, AcceptsAFreshDocumentFromATrustedRootWithTheExpectedPcrs) {
  Enclave e(signer::KeyType::kP256);
  auto client = EnclaveV2Client::Connect(e.endpoint());
  ASSERT_TRUE(client.ok());
  AttestClientOptions options;
  options.extra_roots = {e.nsm.root_der};
  options.expect = {*ParsePcrExpectation("0=" + HexEncode(e.nsm.pcr0))};
  auto r = AttestEnclave(**client, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok()) << r->failure;
  EXPECT_TRUE(r->verification.ok());
  EXPECT_TRUE(r->nonce_matches);
  EXPECT_TRUE(r->key_bound);
  EXPECT_EQ(r->root_der, e.nsm.root_der);
  EXPECT_EQ(r->ToJson()["ok"], true);
}

TEST(AttestClientTest, RefusesAnUntrustedRootAWrongPcrAndAReplayedNonce) {
  Enclave e(signer::KeyType::kEd25519);
  auto client = EnclaveV2Client::Connect(e.endpoint());
  ASSERT_TRUE(client.ok());
  {
    auto r = AttestEnclave(**client, AttestClientOptions{});  // AWS root only
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok());
    EXPECT_FALSE(r->verification.ok());
    EXPECT_THAT(r->failure, HasSubstr("does not verify"));
  }
  {
    AttestClientOptions options;
    options.extra_roots = {e.nsm.root_der};
    options.expect = {PcrExpectation{0, Bytes(48, 0x11)}};
    auto r = AttestEnclave(**client, options);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->ok());
    EXPECT_TRUE(r->verification.ok());
    EXPECT_THAT(r->failure, HasSubstr("PCR0 is 5a5a"));
  }
  {
    e.nsm.replay_nonce = Bytes(32, 0x42);
    AttestClientOptions options;
    options.extra_roots = {e.nsm.root_der};
    auto r = AttestEnclave(**client, options);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->nonce_matches);
    EXPECT_THAT(r->failure, HasSubstr("nonce"));
  }
}

TEST(AttestClientTest, ParsesPcrExpectationsStrictly) {
  auto ok = ParsePcrExpectation("8=0x" + std::string(96, 'A'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->index, 8u);
  for (const std::string& bad : std::vector<std::string>{
           "", "=", "0", "0=", "32=" + std::string(96, 'a'), "-1=" + std::string(96, 'a'),
           "x=" + std::string(96, 'a'), "0=" + std::string(94, 'a'), "0=" + std::string(96, 'g'),
           "100=" + std::string(96, 'a')}) {
    EXPECT_FALSE(ParsePcrExpectation(bad).ok()) << bad;
  }
}

// The Ethereum calls against a real server with a secp256k1 key: the address is the key's, the
// signed transaction's sender (recovered by the client) is that address, message signatures
// recover to it; a p256 enclave refuses them all.
TEST(EnclaveClientTest, EthCallsAgainstASecp256k1Enclave) {
  Enclave e(signer::KeyType::kSecp256k1);
  auto client = EnclaveV2Client::Connect(e.endpoint());
  ASSERT_TRUE(client.ok()) << client.status();
  auto address = (*client)->EthAddress();
  ASSERT_TRUE(address.ok()) << address.status();
  auto key = (*client)->PublicKey();
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*address, *eth::EthereumAddress(key->public_key_raw));
  const nlohmann::json tx = {{"type", "0x2"},         {"chainId", "0x1"},
                             {"nonce", "0x7"},        {"gas", "0x5208"},
                             {"maxFeePerGas", "0x2"}, {"maxPriorityFeePerGas", "0x1"},
                             {"to", nullptr},         {"data", "0x6000"}};
  auto signed_tx = (*client)->EthSignTransaction(tx);
  ASSERT_TRUE(signed_tx.ok()) << signed_tx.status();
  EXPECT_EQ(signed_tx->from, *address);
  EXPECT_EQ(*eth::RecoverSender(signed_tx->raw), *address);
  auto sig = (*client)->EthPersonalSign(AsBytes("hello"));
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(*eth::RecoverAddress(eth::PersonalMessageHash(AsBytes("hello")), *sig), *address);
  nlohmann::json other = tx;
  other["from"] = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
  EXPECT_THAT(std::string((*client)->EthSignTransaction(other).status().message()),
              HasSubstr("bad request"));

  Enclave p256(signer::KeyType::kP256);
  auto p256_client = EnclaveV2Client::Connect(p256.endpoint());
  ASSERT_TRUE(p256_client.ok());
  EXPECT_EQ((*p256_client)->EthAddress().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*p256_client)->EthPersonalSign(AsBytes("x")).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EnclaveClientTest, WalletSignaturesAreParsedStrictly) {
  const std::string r(64, '1'), s(64, '2');
  auto ok = ParseWalletSignature("0x" + r + s + "1b", "signature");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->recovery_id, 0);
  EXPECT_EQ(ParseWalletSignature("0x" + r + s + "1c", "signature")->recovery_id, 1);
  for (const std::string& bad :
       {r + s + "1b", "0x" + r + s + "00", "0x" + r + s + "01", "0x" + r + s + "1d", "0x" + r + s,
        "0x" + r + s + "1b00", "0x" + std::string(64, '0') + s + "1b", "0x" + r + s + "zz"}) {
    EXPECT_FALSE(ParseWalletSignature(bad, "signature").ok()) << bad;
  }
}

TEST(EnclaveClientTest, V1ReplyParserRejectsErrorsAndMalformedReplies) {
  auto err = ParseV1SignReply(R"({"success": "False", "error": "Error: key not loaded"})");
  EXPECT_EQ(err.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(err.status().message()), HasSubstr("key not loaded"));
  for (const char* bad :
       {"", "[]", "{}", R"({"success": true})", R"({"success": "True"})",
        R"({"success": "True", "data": "3045"})", R"({"success": "True", "data": "0x"})",
        R"({"success": "True", "data": "0xzz"})", R"({"success": "True", "data": 5})"}) {
    EXPECT_FALSE(ParseV1SignReply(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseV1SignReply(R"({"success": "True", "data": "0x3045"})").ok());
}

TEST(EnclaveClientTest, ConnectingToAClosedPortFails) {
  std::optional<net::Endpoint> gone;
  {
    auto listener = net::Listen(*net::Endpoint::Parse("tcp://127.0.0.1:0"));
    ASSERT_TRUE(listener.ok());
    gone = listener->local_endpoint();
  }
  EXPECT_FALSE(SignV1(*gone, AsBytes("x"), absl::Seconds(2)).ok());
  EXPECT_FALSE(EnclaveV2Client::Connect(*gone, absl::Seconds(2)).ok());
}

TEST(VerifyTest, RejectsKeysThatAreNotPemPublicKeys) {
  EXPECT_EQ(VerifySignature("not a key", AsBytes("m"), Bytes{1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifySignature("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                            AsBytes("m"), Bytes{1})
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CreateKeyTest, Secp256k1AddressComesFromTheSignersRawPublicKey) {
  auto signer = signer::Signer::Generate(signer::KeyType::kSecp256k1);
  ASSERT_TRUE(signer.ok());
  auto address = AddressOfSecp256k1Key((*signer)->public_key_raw());
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(address->size(), 42u);
  EXPECT_EQ(address->substr(0, 2), "0x");
  auto p256 = signer::Signer::Generate(signer::KeyType::kEd25519);
  ASSERT_TRUE(p256.ok());
  EXPECT_FALSE(AddressOfSecp256k1Key((*p256)->public_key_raw()).ok());
  EXPECT_EQ(SecretEncryptionContext("lockout/k").at("lockout:secret"), "lockout/k");
}

}  // namespace
}  // namespace lockout::ops
