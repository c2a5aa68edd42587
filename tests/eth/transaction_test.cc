#include "src/eth/transaction.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/eth/rlp.h"
#include "tests/eth/eth_test_keys.h"

namespace lockout::eth {
namespace {

using ::testing::HasSubstr;

Bytes Hex(std::string_view hex) {
  auto b = HexDecodeAllowPrefix(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes{};
}

Uint256 U(std::string_view decimal_or_hex) {
  auto v = ParseQuantity(nlohmann::json(std::string(decimal_or_hex)), "test");
  EXPECT_TRUE(v.ok()) << decimal_or_hex;
  return v.ok() ? *v : Uint256{};
}

std::string HexOf(const crypto::Keccak256Digest& d) { return "0x" + HexEncode(d); }

// EIP-155 "Example": nonce 9, gas price 20 gwei, gas 21000, to 0x3535..., 1 ether, chain 1.
constexpr char kEip155Json[] = R"({
  "nonce": "0x9", "gasPrice": "20000000000", "gas": 21000,
  "to": "0x3535353535353535353535353535353535353535",
  "value": "0xde0b6b3a7640000", "chainId": "0x1"})";
constexpr char kEip155SigningData[] =
    "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";
constexpr char kEip155SigningHash[] =
    "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";
constexpr char kEip155Signed[] =
    "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000"
    "8025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761a"
    "ecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";

TEST(TransactionTest, Eip155ExampleSigningDataHashAndSignedEncoding) {
  auto tx = ParseTransactionJson(kEip155Json);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->type, TransactionType::kLegacy);
  EXPECT_EQ(HexEncode(SigningPayload(*tx)), kEip155SigningData);
  EXPECT_EQ(HexOf(SigningHash(*tx)), kEip155SigningHash);
  // The EIP's (v, r, s) = (37, 18515...846, 46948...531).
  const RecoverableSignature sig{
      U("18515461264373351373200002665853028612451056578545711640558177340181847433846"),
      U("46948507304638947509940763649030358759909902576025900602547168820602576006531"), 0};
  auto raw = EncodeSignedTransaction(*tx, sig);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(HexEncode(*raw), kEip155Signed);
}

TEST(TransactionTest, Eip155ExampleRecoversTheSenderOfKey4646) {
  EXPECT_EQ(testing::AddressOfPrivateKey(
                "4646464646464646464646464646464646464646464646464646464646464646"),
            "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
  auto sender = RecoverSender(Hex(kEip155Signed));
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(ChecksumAddress(*sender), "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
  auto decoded = DecodeSignedTransaction(Hex(kEip155Signed));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->tx, *ParseTransactionJson(kEip155Json));
  EXPECT_EQ(HexOf(TransactionHash(Hex(kEip155Signed))),
            "0x" + HexEncode(crypto::Keccak256(Hex(kEip155Signed))));
}

// ethereumjs-monorepo packages/tx/test/json/eip1559.json, first two vectors (chain 7822 =
// 0x1e8e, to 0x...aaaa, private key 0x8f2a...be63). Their signedTransactionRLP wraps the typed
// transaction in an RLP string header (b873/b872), stripped here.
constexpr char kEip1559Key[] = "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63";
struct Eip1559Vector {
  const char* json;
  const char* raw;
};
constexpr Eip1559Vector kEip1559Vectors[] = {
    {R"({"type": "0x2", "chainId": 7822, "nonce": 819, "value": 43203529, "gasLimit": 35552,
         "maxPriorityFeePerGas": 75853, "maxFeePerGas": 121212,
         "to": "0x000000000000000000000000000000000000aaaa"})",
     "02f870821e8e8203338301284d8301d97c828ae094000000000000000000000000000000000000aaaa8402933b"
     "c980c080a0d067f2167008c59219652f91cbf8788dbca5f771f6e91e2b7657e85b78b472e0a01d305af9fe81fd"
     "ba43f0dfcd400ed24dcace0a7e30d4e85701dcaaf484cd079e"},
    {R"({"chainId": "0x1e8e", "nonce": "353", "value": "61901619", "gas": "0x7f51",
         "maxPriorityFeePerGas": "0x97c2", "maxFeePerGas": "136295",
         "to": "0x000000000000000000000000000000000000AAAA"})",
     "02f86f821e8e8201618297c283021467827f5194000000000000000000000000000000000000aaaa8403b08b33"
     "80c001a004205678f13fc1d7b10feea6513dfa76e24418b6e08097d95c6f93a3b64e536da01d45ad61bfece438"
     "62de2cce7d2575a8c1d08c26c87f3cb5f26d7b0be54a91b2"},
};

TEST(TransactionTest, Eip1559VectorsEncodeAndRecover) {
  const std::string signer = testing::AddressOfPrivateKey(kEip1559Key);
  for (const Eip1559Vector& v : kEip1559Vectors) {
    auto tx = ParseTransactionJson(v.json);
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_EQ(tx->type, TransactionType::kDynamicFee);
    auto decoded = DecodeSignedTransaction(Hex(v.raw));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->tx, *tx);
    auto raw = EncodeSignedTransaction(*tx, decoded->signature);
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_EQ(HexEncode(*raw), v.raw);
    auto sender = RecoverSender(Hex(v.raw));
    ASSERT_TRUE(sender.ok()) << sender.status();
    EXPECT_EQ(ChecksumAddress(*sender), signer);
  }
}

// ethereumjs-monorepo packages/tx/examples/accessListTx.ts: an EIP-2930 transaction with its
// (yParity, r, s) and published hash 0x9150cdeb...5b1d.
constexpr char kEip2930Json[] = R"({
  "type": "0x1", "chainId": "0x1", "nonce": "0x0", "gasPrice": "0x1", "gasLimit": "0x2625a00",
  "to": "0xcccccccccccccccccccccccccccccccccccccccc", "value": "0x186a0",
  "data": "0x1a8451e600000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  "accessList": [{"address": "0x0000000000000000000000000000000000000101",
                  "storageKeys": ["0x0000000000000000000000000000000000000000000000000000000000000000",
                                  "0x00000000000000000000000000000000000000000000000000000000000060a7"]}]})";

TEST(TransactionTest, Eip2930VectorHashAndRecovery) {
  auto tx = ParseTransactionJson(kEip2930Json);
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->type, TransactionType::kAccessList);
  ASSERT_EQ(tx->access_list.size(), 1u);
  EXPECT_EQ(tx->access_list[0].storage_keys.size(), 2u);
  const RecoverableSignature sig{
      U("0xafb6e247b1c490e284053c87ab5f6b59e219d51f743f7a4d83e400782bc7e4b9"),
      U("0x479a268e0e0acd4de3f1e28e4fac2a6b32a4195e8dfa9d19147abe8807aa6f64"), 1};
  auto raw = EncodeSignedTransaction(*tx, sig);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->at(0), 0x01);
  EXPECT_EQ(HexOf(TransactionHash(*raw)),
            "0x9150cdebad74e88b038e6c6b964d99af705f9c0883d7f0bbc0f3e072358f5b1d");
  auto decoded = DecodeSignedTransaction(*raw);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->tx, *tx);
  EXPECT_EQ(decoded->signature, sig);
  auto sender = RecoverSender(*raw);
  ASSERT_TRUE(sender.ok()) << sender.status();
  EXPECT_EQ(ChecksumAddress(*sender), "0xa94f5374Fce5edBC8E2a8697C15331677e6EbF0B");
}

TEST(TransactionTest, ContractCreationHasAnEmptyTo) {
  auto tx = ParseTransactionJson(
      R"({"nonce": "0x0", "gasPrice": "0x1", "gas": "0x5208", "chainId": "0x1", "to": null,
          "input": "0x6000", "from": "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f"})");
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_FALSE(tx->to.has_value());
  ASSERT_TRUE(tx->from.has_value());
  EXPECT_EQ(HexEncode(tx->data), "6000");
  EXPECT_EQ(HexEncode(SigningPayload(*tx)),
            "cd8001825208808082600001"
            "8080");
}

TEST(TransactionTest, InfersTheTypeFromTheFeeFields) {
  auto t2 = ParseTransactionJson(
      R"({"nonce": 0, "gas": 21000, "chainId": 5, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1})");
  ASSERT_TRUE(t2.ok()) << t2.status();
  EXPECT_EQ(t2->type, TransactionType::kDynamicFee);
  auto t1 = ParseTransactionJson(
      R"({"nonce": 0, "gas": 21000, "chainId": 5, "gasPrice": 2, "accessList": []})");
  ASSERT_TRUE(t1.ok()) << t1.status();
  EXPECT_EQ(t1->type, TransactionType::kAccessList);
}

TEST(TransactionTest, RefusesBadJsonMissingFieldsWrongTypesAndOverflow) {
  const std::string base = R"("nonce": "0x1", "gas": "0x5208", "chainId": "0x1")";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "json"},
      {"[]", "not a JSON object"},
      {R"({"nonce": 1, "nonce": 2, "gas": 1, "chainId": 1, "gasPrice": 1})", "duplicate"},
      {"{" + base + "}", "gasPrice"},
      {R"({"gas": "0x5208", "chainId": "0x1", "gasPrice": "0x1"})", "nonce"},
      {R"({"nonce": "0x1", "chainId": "0x1", "gasPrice": "0x1"})", "gas"},
      {R"({"nonce": "0x1", "gas": "0x1", "gasPrice": "0x1"})", "chainId"},
      {R"({"nonce": "0x1", "gas": "0x1", "gasPrice": "0x1", "chainId": "0x0"})", "chainId"},
      {"{" + base + R"(, "gasPrice": true})", "gasPrice"},
      {"{" + base + R"(, "gasPrice": "0x01"})", "leading zero"},
      {"{" + base + R"(, "gasPrice": 1.5})", "gasPrice"},
      {"{" + base + R"(, "gasPrice": "0x1", "value": "0x1)" + std::string(64, '0') + R"("})",
       "value"},
      {R"({"nonce": "0x10000000000000000", "gas": "0x1", "gasPrice": "0x1", "chainId": 1})",
       "nonce"},
      {"{" + base + R"(, "gasPrice": "0x1", "to": "0x1234"})", "'to'"},
      {"{" + base + R"(, "gasPrice": "0x1", "to": 5})", "'to'"},
      {"{" + base + R"(, "gasPrice": "0x1", "data": "0x123"})", "'data'"},
      {"{" + base + R"(, "gasPrice": "0x1", "data": "1234"})", "'data'"},
      {"{" + base + R"(, "gasPrice": "0x1", "data": "0x12", "input": "0x34"})", "differ"},
      {R"({"nonce": 1, "gas": 1, "gasLimit": 2, "chainId": 1, "gasPrice": 1})", "differ"},
      {"{" + base + R"(, "gasPrice": "0x1", "hash": "0x00"})", "unknown member"},
      {"{" + base + R"(, "gasPrice": "0x1", "type": "0x3"})", "'type'"},
      {"{" + base + R"(, "gasPrice": "0x1", "maxFeePerGas": "0x1"})", "type 2"},
      {"{" + base + R"(, "type": "0x2", "gasPrice": "0x1", "maxFeePerGas": "0x2",
            "maxPriorityFeePerGas": "0x1"})",
       "gasPrice"},
      {"{" + base + R"(, "maxFeePerGas": "0x2"})", "maxPriorityFeePerGas"},
      {"{" + base + R"(, "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x2"})",
       "larger than maxFeePerGas"},
      {"{" + base + R"(, "type": "0x0", "gasPrice": "0x1",
            "accessList": [{"address": "0x0000000000000000000000000000000000000101",
                            "storageKeys": []}]})",
       "legacy"},
  };
  for (const auto& [json, expected] : cases) {
    auto tx = ParseTransactionJson(json);
    ASSERT_FALSE(tx.ok()) << json;
    EXPECT_EQ(tx.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(tx.status().message()), HasSubstr(expected)) << json;
  }
}

TEST(TransactionTest, RefusesMalformedAccessLists) {
  const std::string prefix =
      R"({"nonce": 1, "gas": 1, "chainId": 1, "gasPrice": 1, "type": "0x1", "accessList": )";
  const std::string addr = R"("0x0000000000000000000000000000000000000101")";
  const std::string key = "\"0x" + std::string(64, '0') + "\"";
  const std::vector<std::string> lists = {
      std::string(R"({})"),
      std::string(R"([5])"),
      "[{\"address\": " + addr + "}]",
      std::string("[{\"storageKeys\": []}]"),
      "[{\"address\": " + addr + ", \"storageKeys\": [], \"extra\": 1}]",
      std::string("[{\"address\": \"0x01\", \"storageKeys\": []}]"),
      "[{\"address\": " + addr + ", \"storageKeys\": {}}]",
      "[{\"address\": " + addr + ", \"storageKeys\": [\"0x01\"]}]",
      "[{\"address\": " + addr + ", \"storageKeys\": [\"0x" + std::string(66, '0') + "\"]}]",
      "[{\"address\": " + addr + ", \"storageKeys\": [5]}]",
  };
  for (const std::string& list : lists) {
    EXPECT_FALSE(ParseTransactionJson(prefix + list + "}").ok()) << list;
  }
  EXPECT_TRUE(ParseTransactionJson(prefix + "[{\"address\": " + addr + ", \"storageKeys\": [" +
                                   key + "]}]}")
                  .ok());
  TransactionLimits small;
  small.max_storage_keys = 1;
  EXPECT_FALSE(ParseTransactionJson(prefix + "[{\"address\": " + addr + ", \"storageKeys\": [" +
                                        key + "," + key + "]}]}",
                                    small)
                   .ok());
}

TEST(TransactionTest, EncodeRefusesMalformedSignatures) {
  auto tx = ParseTransactionJson(kEip155Json);
  ASSERT_TRUE(tx.ok());
  const Uint256 one = Uint256FromUint64(1);
  EXPECT_FALSE(EncodeSignedTransaction(*tx, {one, one, 2}).ok());
  EXPECT_FALSE(EncodeSignedTransaction(*tx, {Uint256{}, one, 0}).ok());
  EXPECT_FALSE(EncodeSignedTransaction(*tx, {one, Uint256{}, 0}).ok());
  // s = n - 1 is a valid signature value but a high s (EIP-2).
  const Uint256 n_minus_1 = U("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140");
  EXPECT_FALSE(EncodeSignedTransaction(*tx, {one, n_minus_1, 0}).ok());
  EXPECT_TRUE(EncodeSignedTransaction(*tx, {one, one, 1}).ok());
}

TEST(TransactionTest, DecodeRefusesMalformedRawTransactions) {
  Bytes good = Hex(kEip155Signed);
  EXPECT_TRUE(DecodeSignedTransaction(good).ok());
  EXPECT_FALSE(DecodeSignedTransaction({}).ok());
  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_FALSE(DecodeSignedTransaction(truncated).ok());
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeSignedTransaction(trailing).ok());
  Bytes typed3 = Hex(kEip1559Vectors[0].raw);
  typed3[0] = 0x03;
  EXPECT_FALSE(DecodeSignedTransaction(typed3).ok());
  // v = 25 (neither 27/28 nor an EIP-155 value), v = 35 (chain id 0).
  Bytes v25 = good;
  v25[good.size() - 67] = 0x19;
  EXPECT_FALSE(DecodeSignedTransaction(v25).ok());
  Bytes v35 = good;
  v35[good.size() - 67] = 0x23;
  EXPECT_FALSE(DecodeSignedTransaction(v35).ok());
  // yParity 2 on a typed transaction.
  Bytes y2 = Hex(kEip1559Vectors[0].raw);
  y2[y2.size() - 67] = 0x02;
  EXPECT_FALSE(DecodeSignedTransaction(y2).ok());
  // A field count that is not 9: an empty list.
  EXPECT_FALSE(DecodeSignedTransaction(Hex("c0")).ok());
  EXPECT_FALSE(DecodeSignedTransaction(Hex("02c0")).ok());
}

// Error messages name fields, never the values or unknown member names a client sent.
TEST(TransactionTest, ErrorsNeverQuoteTheInput) {
  const std::string canary = "CANARY7f3a";
  const std::vector<std::string> inputs = {
      R"({"nonce": 1, "gas": 1, "chainId": 1, "gasPrice": 1, ")" + canary + R"(": 1})",
      R"({"nonce": ")" + canary + R"(", "gas": 1, "chainId": 1, "gasPrice": 1})",
      R"({"nonce": 1, "gas": 1, "chainId": 1, "gasPrice": 1, "to": "0x)" + canary + R"("})",
      R"({"nonce": 1, "gas": 1, "chainId": 1, "gasPrice": 1, "data": "0x)" + canary + R"("})",
  };
  for (const std::string& input : inputs) {
    auto tx = ParseTransactionJson(input);
    ASSERT_FALSE(tx.ok()) << input;
    EXPECT_THAT(std::string(tx.status().message()), ::testing::Not(HasSubstr(canary)));
  }
}

TEST(TransactionTest, DecodeRefusesNonCanonicalIntegersAndOversizedFields) {
  auto decoded = DecodeSignedTransaction(Hex(kEip155Signed));
  ASSERT_TRUE(decoded.ok());
  const RlpItem item = *RlpDecode(Hex(kEip155Signed));
  // nonce 9 written as 00 09.
  RlpItem padded = item;
  padded.list[0] = RlpItem::String(Bytes{0x00, 0x09});
  auto r = DecodeSignedTransaction(RlpEncode(padded));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("leading zero"));
  // A 19-byte `to`.
  RlpItem short_to = item;
  short_to.list[3] = RlpItem::String(Bytes(19, 0x35));
  EXPECT_FALSE(DecodeSignedTransaction(RlpEncode(short_to)).ok());
  // A 33-byte value.
  RlpItem big_value = item;
  big_value.list[4] = RlpItem::String(Bytes(33, 0x01));
  EXPECT_FALSE(DecodeSignedTransaction(RlpEncode(big_value)).ok());
  // Pre-EIP-155 v = 27 decodes without a chain id and re-encodes to the same bytes.
  RlpItem pre155 = item;
  pre155.list[6] = RlpItem::String(Bytes{27});
  auto old = DecodeSignedTransaction(RlpEncode(pre155));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->tx.chain_id.has_value());
  EXPECT_EQ(*EncodeSignedTransaction(old->tx, old->signature), RlpEncode(pre155));
}

TEST(TransactionTest, DataSizeIsBounded) {
  const std::string json = R"({"nonce": 1, "gas": 1, "chainId": 1, "gasPrice": 1, "data": "0x)" +
                           std::string(2 * 200, 'a') + R"("})";
  EXPECT_TRUE(ParseTransactionJson(json).ok());
  TransactionLimits small;
  small.max_data_bytes = 100;
  EXPECT_FALSE(ParseTransactionJson(json, small).ok());
  small.max_json_bytes = 64;
  EXPECT_FALSE(ParseTransactionJson(json, small).ok());
}

}  // namespace
}  // namespace lockout::eth
