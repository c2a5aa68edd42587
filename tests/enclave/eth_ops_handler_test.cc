// The enclave's Ethereum ops (src/enclave/eth_ops.h) through RequestHandler: published vectors
// (EIP-155's example transaction, EIP-712's Mail example), senders recovered from what the
// enclave returned, the signing policy's permissions, the audit op names, and refusals.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/audit/audit_chain.h"
#include "src/audit/audit_sink.h"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/auth/request_verifier.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/secret_bytes.h"
#include "src/enclave/eth_ops.h"
#include "src/enclave/key_manager.h"
#include "src/enclave/request_handler.h"
#include "src/eth/address.h"
#include "src/eth/personal_message.h"
#include "src/eth/recover.h"
#include "src/eth/transaction.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"
#include "tests/testing/eip712_mail.h"

namespace lockout::enclave {
namespace {

using nlohmann::json;

// EIP-155's example key and the private key keccak256("cow") of EIP-712's example.
constexpr std::string_view kKey4646 =
    "4646464646464646464646464646464646464646464646464646464646464646";
constexpr std::string_view kAddress4646 = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F";
constexpr std::string_view kKeyCow =
    "c85ef7d79691fe79573b1a7064c19c1a9819ebdbd1faaab1a8ec92344438aaf4";
constexpr std::string_view kAddressCow = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";

// An unencrypted PKCS#8 PrivateKeyInfo for a secp256k1 scalar (RFC 5915 ECPrivateKey without the
// optional public key).
std::unique_ptr<signer::Signer> Secp256k1Key(std::string_view scalar_hex) {
  Bytes der = *HexDecode("303e020100301006072a8648ce3d020106052b8104000a042730250201010420");
  const Bytes scalar = *HexDecode(scalar_hex);
  der.insert(der.end(), scalar.begin(), scalar.end());
  absl::StatusOr<std::unique_ptr<signer::Signer>> s =
      signer::Signer::FromPkcs8(SecretBytes::CopyFrom(der), signer::KeyType::kSecp256k1);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

class EthOpsTest : public ::testing::Test {
 protected:
  void Use(std::unique_ptr<signer::Signer> s, HandlerOptions options = {}) {
    ASSERT_NE(s, nullptr);
    handler_.reset();
    keys_ = KeyManager::WithSigner(std::move(s));
    options.key_name = "ephemeral";
    handler_ = std::make_unique<RequestHandler>(*keys_, nullptr, options);
  }

  json Call(const json& request) {
    WorkerState state;
    std::string out;
    const std::string payload = request.dump();
    EXPECT_FALSE(
        handler_->Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = payload}, state, out));
    EXPECT_GE(out.size(), 4u);
    return json::parse(out.substr(4));
  }

  static json Eip155Transaction() {
    return json{{"nonce", "0x9"},
                {"gasPrice", "0x4a817c800"},
                {"gas", "0x5208"},
                {"to", "0x3535353535353535353535353535353535353535"},
                {"value", "0xde0b6b3a7640000"},
                {"data", "0x"},
                {"chainId", "0x1"}};
  }

  static json DynamicFeeTransaction() {
    return json{{"type", "0x2"},
                {"chainId", "0xaa36a7"},
                {"nonce", "0x0"},
                {"maxPriorityFeePerGas", "0x3b9aca00"},
                {"maxFeePerGas", "0x77359400"},
                {"gas", "0x5208"},
                {"to", "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                {"value", "0x2386f26fc10000"}};
  }

  static json MailExample() { return json::parse(testing::kEip712Mail); }

  static const json kBad;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<RequestHandler> handler_;
};

const json EthOpsTest::kBad = json{{"id", 1}, {"ok", false}, {"error", "bad request"}};

TEST_F(EthOpsTest, AddressIsTheKeysEip55Address) {
  Use(Secp256k1Key(kKey4646));
  EXPECT_EQ(Call({{"id", 1}, {"op", "eth_address"}}),
            (json{{"id", 1}, {"ok", true}, {"address", kAddress4646}}));
  Use(Secp256k1Key(kKeyCow));
  EXPECT_EQ(Call({{"id", "a"}, {"op", "eth_address"}, {"key", "ephemeral"}})["address"],
            kAddressCow);
}

TEST_F(EthOpsTest, Eip155ExampleIsSignedByteForByte) {
  Use(Secp256k1Key(kKey4646));
  const std::string raw =
      "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
      "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761a"
      "ecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
  const json reply =
      Call({{"id", 7}, {"op", "eth_sign_transaction"}, {"transaction", Eip155Transaction()}});
  ASSERT_EQ(reply["ok"], true) << reply;
  EXPECT_EQ(reply["raw"], raw);
  EXPECT_EQ(reply["from"], kAddress4646);
  const Bytes raw_bytes = *HexDecodeAllowPrefix(raw);
  const crypto::Keccak256Digest hash = eth::TransactionHash(raw_bytes);
  EXPECT_EQ(reply["hash"], absl::StrCat("0x", HexEncode(ByteView(hash.data(), hash.size()))));
  // "from" naming the key, in any accepted spelling, is fine.
  json tx = Eip155Transaction();
  tx["from"] = "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f";
  EXPECT_EQ(Call({{"id", 7}, {"op", "eth_sign_transaction"}, {"transaction", tx}})["raw"], raw);
}

TEST_F(EthOpsTest, Eip1559TransactionRecoversToTheKey) {
  Use(Secp256k1Key(kKeyCow));
  const json reply =
      Call({{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", DynamicFeeTransaction()}});
  ASSERT_EQ(reply["ok"], true) << reply;
  const Bytes raw = *HexDecodeAllowPrefix(reply["raw"].get<std::string>());
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(raw[0], 0x02);
  absl::StatusOr<eth::SignedTransaction> decoded = eth::DecodeSignedTransaction(raw);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->tx.type, eth::TransactionType::kDynamicFee);
  absl::StatusOr<eth::Address> sender = eth::RecoverSender(raw);
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(eth::ChecksumAddress(*sender), kAddressCow);
}

TEST_F(EthOpsTest, MailExampleSignatureIsTheSpecifications) {
  Use(Secp256k1Key(kKeyCow));
  // EIP-712's Example.js: v 28, r and s as published.
  EXPECT_EQ(Call({{"id", 1}, {"op", "eth_sign_typed_data"}, {"typed_data", MailExample()}}),
            (json{{"id", 1},
                  {"ok", true},
                  {"signature",
                   "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
                   "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
                   "1c"}}));
}

TEST_F(EthOpsTest, PersonalSignRecoversToTheKeyWithWalletV) {
  Use(Secp256k1Key(kKey4646));
  for (const std::string& message : std::vector<std::string>{"", "hello", std::string(1000, 'x')}) {
    const json reply =
        Call({{"id", 1}, {"op", "eth_personal_sign"}, {"message", Base64Encode(AsBytes(message))}});
    ASSERT_EQ(reply["ok"], true) << reply;
    const Bytes sig = *HexDecodeAllowPrefix(reply["signature"].get<std::string>());
    ASSERT_EQ(sig.size(), 65u);
    ASSERT_TRUE(sig[64] == 27 || sig[64] == 28);
    eth::RecoverableSignature rs;
    std::copy(sig.begin(), sig.begin() + 32, rs.r.begin());
    std::copy(sig.begin() + 32, sig.begin() + 64, rs.s.begin());
    rs.recovery_id = static_cast<uint8_t>(sig[64] - 27);
    EXPECT_TRUE(eth::CheckSignature(rs, /*require_low_s=*/true).ok());
    absl::StatusOr<eth::Address> who =
        eth::RecoverAddress(eth::PersonalMessageHash(AsBytes(message)), rs);
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(eth::ChecksumAddress(*who), kAddress4646);
  }
}

TEST_F(EthOpsTest, MalformedRequestsAreBadRequests) {
  Use(Secp256k1Key(kKey4646));
  json other_from = Eip155Transaction();
  other_from["from"] = kAddressCow;
  json unknown_member = Eip155Transaction();
  unknown_member["colour"] = "red";
  json no_nonce = Eip155Transaction();
  no_nonce.erase("nonce");
  json mail_missing_field = MailExample();
  mail_missing_field["message"].erase("contents");
  const std::vector<json> requests = {
      {{"id", 1}, {"op", "eth_sign_transaction"}},
      {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", "0xf86c"}},
      {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", Eip155Transaction().dump()}},
      {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", other_from}},
      {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", unknown_member}},
      {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", no_nonce}},
      {{"id", 1}, {"op", "eth_personal_sign"}},
      {{"id", 1}, {"op", "eth_personal_sign"}, {"message", 5}},
      {{"id", 1}, {"op", "eth_personal_sign"}, {"message", "not base64!"}},
      {{"id", 1}, {"op", "eth_sign_typed_data"}},
      {{"id", 1}, {"op", "eth_sign_typed_data"}, {"typed_data", MailExample().dump()}},
      {{"id", 1}, {"op", "eth_sign_typed_data"}, {"typed_data", mail_missing_field}},
      {{"id", 1}, {"op", "eth_sign_typed_data"}, {"typed_data", json::object()}},
  };
  for (const json& r : requests) EXPECT_EQ(Call(r), kBad) << r;
  EXPECT_EQ(Call({{"id", 1}, {"op", "eth_address"}, {"key", "other"}}),
            (json{{"id", 1}, {"ok", false}, {"error", "unknown key"}}));
  EXPECT_EQ(Call({{"id", 1}, {"op", "eth_addresses"}}),
            (json{{"id", 1}, {"ok", false}, {"error", "unknown op"}}));
}

TEST_F(EthOpsTest, OtherKeyTypesAreRefused) {
  for (signer::KeyType type : {signer::KeyType::kP256, signer::KeyType::kEd25519}) {
    absl::StatusOr<std::unique_ptr<signer::Signer>> s = signer::Signer::Generate(type);
    ASSERT_TRUE(s.ok());
    Use(*std::move(s));
    EXPECT_EQ(Call({{"id", 1}, {"op", "eth_address"}}), kBad);
    EXPECT_EQ(Call({{"id", 1}, {"op", "eth_personal_sign"}, {"message", "aGk="}}), kBad);
    EXPECT_EQ(Call({{"id", 1}, {"op", "eth_sign_typed_data"}, {"typed_data", MailExample()}}),
              kBad);
    EXPECT_EQ(
        Call({{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", Eip155Transaction()}}),
        kBad);
  }
}

// Under a signing policy the eth ops are verified like sign (every member but id and auth is
// signed) and need the core permissions: "sign" for the signing ops, "public_key" for
// eth_address; the client's "keys" apply.
TEST_F(EthOpsTest, UnderAPolicyEthOpsNeedSignOrPublicKeyAndTheKey) {
  FakeClock clock(absl::FromUnixMillis(1765000000000));
  auto signer_client = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "signer");
  auto reader = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "reader");
  auto elsewhere = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "elsewhere");
  auto policy = std::make_shared<signpolicy::SigningPolicy>();
  auto entry = [](const auth::ClientKey& key, std::vector<std::string> ops,
                  std::vector<std::string> keys) {
    return signpolicy::AuthorizedClient{.name = key.name(),
                                        .algorithm = key.algorithm(),
                                        .public_key = ToString(key.public_key()),
                                        .ops = std::move(ops),
                                        .keys = std::move(keys)};
  };
  policy->clients.push_back(entry(*signer_client, {"sign"}, {"*"}));
  policy->clients.push_back(entry(*reader, {"public_key"}, {"*"}));
  policy->clients.push_back(entry(*elsewhere, {"public_key", "sign"}, {"another-key"}));
  policy->max_request_bytes = 65536;
  HandlerOptions options;
  options.signing_policy = policy;
  options.clock = &clock;
  Use(Secp256k1Key(kKey4646), options);
  auto signed_by = [&](const auth::ClientKey& key, json request) {
    EXPECT_TRUE(auth::SignRequest(key, clock.Now(), request).ok());
    return request;
  };
  const json unauthorized = {{"id", 1}, {"ok", false}, {"error", "unauthorized"}};
  const json personal = {{"id", 1}, {"op", "eth_personal_sign"}, {"message", "aGk="}};
  const json address = {{"id", 1}, {"op", "eth_address"}};

  EXPECT_EQ(Call(signed_by(*signer_client, personal))["ok"], true);
  EXPECT_EQ(Call(signed_by(*signer_client, {{"id", 1},
                                            {"op", "eth_sign_transaction"},
                                            {"transaction", Eip155Transaction()}}))["ok"],
            true);
  EXPECT_EQ(Call(signed_by(*signer_client, address)), unauthorized);
  EXPECT_EQ(Call(signed_by(*reader, address))["address"], kAddress4646);
  EXPECT_EQ(Call(signed_by(*reader, personal)), unauthorized);
  EXPECT_EQ(Call(signed_by(*elsewhere, personal)), unauthorized);
  EXPECT_EQ(Call(signed_by(*elsewhere, address)), unauthorized);
  EXPECT_EQ(Call(personal), unauthorized);  // unauthenticated
  // Every member is covered: a transaction changed after signing is refused.
  json tampered =
      signed_by(*signer_client,
                {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", Eip155Transaction()}});
  tampered["transaction"]["value"] = "0x1";
  EXPECT_EQ(Call(tampered), unauthorized);
}

// Wallet rules (the policy's "wallet"): each rule allows what it names and refuses the rest with
// "refused by wallet rules" naming the rule; checked before anything is signed.
signpolicy::WalletRules Wallet(const std::string& wallet_json) {
  const std::string text = absl::StrCat(
      R"({"version": 1, "clients": [{"name": "gw", "algorithm": "ed25519", "public_key": )"
      R"("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "ops": ["sign"], )"
      R"("keys": ["*"]}], "wallet": )",
      wallet_json, "}");
  absl::StatusOr<signpolicy::SigningPolicy> policy = signpolicy::ParseSigningPolicy(text);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy->wallet : signpolicy::WalletRules{};
}

class WalletRulesTest : public EthOpsTest {
 protected:
  void SetUp() override { key_ = Secp256k1Key(kKey4646); }
  // "" if signed, else the refusing rule (any other failure fails the test).
  std::string Rule(const std::string& wallet_json, std::string_view op, const json& request) {
    const signpolicy::WalletRules wallet = Wallet(wallet_json);
    EthOpResult result = RunEthOp(op, request, *key_, &wallet);
    if (result.reason.empty()) {
      EXPECT_TRUE(result.rule.empty());
      return "";
    }
    EXPECT_EQ(result.reason, kErrWalletRefused) << result.detail;
    EXPECT_FALSE(result.rule.empty());
    return std::string(result.rule);
  }
  std::string TxRule(const std::string& wallet_json, const json& tx) {
    return Rule(wallet_json, "eth_sign_transaction", {{"transaction", tx}});
  }
  std::unique_ptr<signer::Signer> key_;
};

TEST_F(WalletRulesTest, ChainIds) {
  EXPECT_EQ(TxRule(R"({"chain_ids": [1, 137]})", Eip155Transaction()), "");
  EXPECT_EQ(TxRule(R"({"chain_ids": [11155111]})", DynamicFeeTransaction()), "");
  EXPECT_EQ(TxRule(R"({"chain_ids": [5]})", Eip155Transaction()), "wallet_chain_id");
  EXPECT_EQ(TxRule(R"({"chain_ids": [1]})", DynamicFeeTransaction()), "wallet_chain_id");
}

TEST_F(WalletRulesTest, RecipientsAndContractCreation) {
  const std::string allow35 = R"({"recipients": ["0x3535353535353535353535353535353535353535"]})";
  EXPECT_EQ(TxRule(allow35, Eip155Transaction()), "");
  EXPECT_EQ(TxRule(allow35, DynamicFeeTransaction()), "wallet_recipient");
  json creation = Eip155Transaction();
  creation.erase("to");
  creation["data"] = "0x6000";
  EXPECT_EQ(TxRule(allow35, creation), "wallet_recipient");
  EXPECT_EQ(TxRule(R"({"chain_ids": [1]})", creation), "");  // no recipients: no restriction
}

TEST_F(WalletRulesTest, MaxValue) {
  // The EIP-155 example sends exactly 1 ether.
  EXPECT_EQ(TxRule(R"({"max_value_wei": "1000000000000000000"})", Eip155Transaction()), "");
  EXPECT_EQ(TxRule(R"({"max_value_wei": "999999999999999999"})", Eip155Transaction()),
            "wallet_max_value");
  EXPECT_EQ(TxRule(R"({"max_value_wei": "0"})", Eip155Transaction()), "wallet_max_value");
  json zero = Eip155Transaction();
  zero["value"] = "0x0";
  EXPECT_EQ(TxRule(R"({"max_value_wei": "0"})", zero), "");
}

TEST_F(WalletRulesTest, Methods) {
  const std::string transfers = R"({"methods": ["0xa9059cbb"]})";
  json tx = Eip155Transaction();
  EXPECT_EQ(TxRule(transfers, tx), "");  // empty data: a plain transfer
  tx["data"] = "0xa9059cbb" + std::string(128, '0');
  EXPECT_EQ(TxRule(transfers, tx), "");
  tx["data"] = "0x095ea7b3" + std::string(128, '0');
  EXPECT_EQ(TxRule(transfers, tx), "wallet_method");
  tx["data"] = "0xa905";
  EXPECT_EQ(TxRule(transfers, tx), "wallet_method");
}

TEST_F(WalletRulesTest, Eip712Domains) {
  const json request = {{"typed_data", MailExample()}};
  auto rule = [&](const std::string& domains) {
    return Rule(absl::StrCat(R"({"eip712_domains": )", domains, "}"), "eth_sign_typed_data",
                request);
  };
  EXPECT_EQ(rule(R"([{"name": "Ether Mail"}])"), "");
  EXPECT_EQ(rule(R"([{"name": "Permit2"}, {"chainId": 1, "verifyingContract": )"
                 R"("0xcccccccccccccccccccccccccccccccccccccccc", "version": "1"}])"),
            "");
  EXPECT_EQ(rule(R"([{"name": "Permit2"}])"), "wallet_eip712_domain");
  EXPECT_EQ(rule(R"([{"name": "Ether Mail", "version": "2"}])"), "wallet_eip712_domain");
  EXPECT_EQ(rule(R"([{"chainId": 5}])"), "wallet_eip712_domain");
  EXPECT_EQ(rule(R"([{"verifyingContract": "0x3535353535353535353535353535353535353535"}])"),
            "wallet_eip712_domain");
  // Transaction rules do not apply to typed data.
  EXPECT_EQ(Rule(R"({"chain_ids": [5]})", "eth_sign_typed_data", request), "");
}

TEST_F(WalletRulesTest, PersonalSign) {
  const json request = {{"message", "aGk="}};
  EXPECT_EQ(Rule(R"({"chain_ids": [1]})", "eth_personal_sign", request), "");
  EXPECT_EQ(
      Rule(R"({"chain_ids": [1], "allow_personal_sign": true})", "eth_personal_sign", request), "");
  EXPECT_EQ(Rule(R"({"allow_personal_sign": false})", "eth_personal_sign", request),
            "wallet_personal_sign");
}

// Through the handler: the reply is the generic refusal, and the audit trail records the refusal
// with the rule's name (and a signature it allowed as signed).
TEST_F(EthOpsTest, AWalletRefusalIsAnsweredGenericallyAndAuditedWithTheRule) {
  std::mutex mu;
  std::vector<std::string> lines;
  audit::AuditSinkOptions sink_options;
  sink_options.flush_interval = absl::Milliseconds(5);
  std::unique_ptr<audit::AuditSink> sink =
      audit::AuditSink::Start(sink_options, *audit::AuditChain::Create(nullptr, Clock::Real()),
                              [&](const std::vector<std::string>& batch) {
                                std::lock_guard<std::mutex> lock(mu);
                                lines.insert(lines.end(), batch.begin(), batch.end());
                                return absl::OkStatus();
                              });
  FakeClock clock(absl::FromUnixMillis(1765000000000));
  auto client = *auth::ClientKey::Generate(auth::ClientKeyAlgorithm::kEd25519, "gw");
  auto policy = std::make_shared<signpolicy::SigningPolicy>();
  policy->clients.push_back(
      signpolicy::AuthorizedClient{.name = client->name(),
                                   .algorithm = client->algorithm(),
                                   .public_key = ToString(client->public_key()),
                                   .ops = {"sign"},
                                   .keys = {"*"}});
  policy->wallet = Wallet(R"({"chain_ids": [1], "max_value_wei": "1"})");
  HandlerOptions options;
  options.signing_policy = policy;
  options.clock = &clock;
  options.audit = sink.get();
  Use(Secp256k1Key(kKey4646), options);
  auto signed_request = [&](const json& tx) {
    json request = {{"id", 1}, {"op", "eth_sign_transaction"}, {"transaction", tx}};
    EXPECT_TRUE(auth::SignRequest(*client, clock.Now(), request).ok());
    return request;
  };
  EXPECT_EQ(Call(signed_request(Eip155Transaction())),
            (json{{"id", 1}, {"ok", false}, {"error", "refused by wallet rules"}}));
  json small = Eip155Transaction();
  small["value"] = "0x1";
  EXPECT_EQ(Call(signed_request(small))["ok"], true);
  sink->Stop();
  std::lock_guard<std::mutex> lock(mu);
  int refused = 0, signed_count = 0;
  for (const std::string& line : lines) {
    if (line.find("eth_sign_transaction") == std::string::npos) continue;
    if (line.find("refused") != std::string::npos) {
      ++refused;
      EXPECT_NE(line.find("wallet_max_value"), std::string::npos) << line;
    } else if (line.find("signed") != std::string::npos) {
      ++signed_count;
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(signed_count, 1);
}

TEST(EthOpsPolicyTest, EthOpsNeedTheCorePermissions) {
  EXPECT_EQ(auth::PermissionForOp("eth_address"), "public_key");
  EXPECT_EQ(auth::PermissionForOp("eth_sign_transaction"), "sign");
  EXPECT_EQ(auth::PermissionForOp("eth_personal_sign"), "sign");
  EXPECT_EQ(auth::PermissionForOp("eth_sign_typed_data"), "sign");
  EXPECT_EQ(auth::PermissionForOp("sign"), "sign");
  EXPECT_EQ(auth::PermissionForOp("health"), "health");
  EXPECT_EQ(auth::PermissionForOp("eth_other"), "eth_other");
  EXPECT_TRUE(IsEthOp("eth_address"));
  EXPECT_FALSE(IsEthSigningOp("eth_address"));
  EXPECT_TRUE(IsEthSigningOp("eth_sign_typed_data"));
  EXPECT_FALSE(IsEthOp("sign"));
}

}  // namespace
}  // namespace lockout::enclave
