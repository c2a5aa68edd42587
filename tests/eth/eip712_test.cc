#include "src/eth/eip712.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/eth/recover.h"
#include "tests/eth/eth_test_keys.h"

namespace lockout::eth {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string HexOf(const crypto::Keccak256Digest& d) { return "0x" + HexEncode(d); }

Uint256 U(std::string_view hex) {
  auto v = ParseQuantity(json(std::string(hex)), "test");
  EXPECT_TRUE(v.ok()) << hex;
  return v.ok() ? *v : Uint256{};
}

const json kDomainType = json::parse(R"([
  {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
  {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}])");
const json kDomain = json::parse(R"({"name": "Ether Mail", "version": "1", "chainId": 1,
  "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"})");

// The EIP-712 specification's example (assets/eip-712/Example.js).
json MailExample() {
  return json{{"types",
               {{"EIP712Domain", kDomainType},
                {"Person", json::parse(R"([{"name": "name", "type": "string"},
                                   {"name": "wallet", "type": "address"}])")},
                {"Mail", json::parse(R"([{"name": "from", "type": "Person"},
                                 {"name": "to", "type": "Person"},
                                 {"name": "contents", "type": "string"}])")}}},
              {"primaryType", "Mail"},
              {"domain", kDomain},
              {"message", json::parse(R"({
         "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
         "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
         "contents": "Hello, Bob!"})")}};
}

TEST(Eip712Test, MailExampleHashes) {
  auto data = TypedData::Create(MailExample());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data->EncodeType("Mail"),
            "Mail(Person from,Person to,string contents)Person(string name,address wallet)");
  EXPECT_EQ(HexOf(*data->TypeHash("Mail")),
            "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2");
  EXPECT_EQ(HexOf(data->domain_separator()),
            "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
  EXPECT_EQ(HexOf(data->message_hash()),
            "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
  EXPECT_EQ(HexOf(data->digest()),
            "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
}

TEST(Eip712Test, MailExampleSignatureRecoversToTheKeyOfCow) {
  auto data = TypedData::Parse(MailExample().dump());
  ASSERT_TRUE(data.ok()) << data.status();
  // The EIP's signature: v = 28 (recovery id 1), r, s; the key is keccak256("cow").
  const RecoverableSignature sig{
      U("0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"),
      U("0x7299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"), 1};
  auto signer = RecoverAddress(data->digest(), sig);
  ASSERT_TRUE(signer.ok()) << signer.status();
  const std::string cow =
      testing::AddressOfPrivateKey(HexEncode(crypto::Keccak256(AsBytes("cow"))));
  EXPECT_EQ(cow, "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
  EXPECT_EQ(ChecksumAddress(*signer), cow);
}

// The nested-array variant (MetaMask eth-sig-util's V4 tests, reproduced by other libraries):
// Person has address[] wallets, Mail has Person[] to, and an unused Group type.
json ArrayExample() {
  return json{{"types",
               {{"EIP712Domain", kDomainType},
                {"Person", json::parse(R"([{"name": "name", "type": "string"},
                                   {"name": "wallets", "type": "address[]"}])")},
                {"Mail", json::parse(R"([{"name": "from", "type": "Person"},
                                 {"name": "to", "type": "Person[]"},
                                 {"name": "contents", "type": "string"}])")},
                {"Group", json::parse(R"([{"name": "name", "type": "string"},
                                  {"name": "members", "type": "Person[]"}])")}}},
              {"primaryType", "Mail"},
              {"domain", kDomain},
              {"message", json::parse(R"({
         "from": {"name": "Cow", "wallets": ["0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826",
                                             "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF"]},
         "to": [{"name": "Bob", "wallets": ["0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
                                            "0xB0BdaBea57B0BDABeA57b0bdABEA57b0BDabEa57",
                                            "0xB0B0b0b0b0b0B000000000000000000000000000"]}],
         "contents": "Hello, Bob!"})")}};
}

TEST(Eip712Test, NestedArrayExampleHashes) {
  const json example = ArrayExample();
  auto data = TypedData::Create(example);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(HexOf(*data->TypeHash("Person")),
            "0xfabfe1ed996349fc6027709802be19d047da1aa5d6894ff5f6486d92db2e6860");
  EXPECT_EQ(HexOf(*data->TypeHash("Mail")),
            "0x4bd8a9a2b93427bb184aca81e24beb30ffa3c747e2a33d4225ec08bf12e2e753");
  EXPECT_EQ(HexOf(*data->HashStruct("Person", example["message"]["from"])),
            "0x9b4846dd48b866f0ac54d61b9b21a9e746f921cefa4ee94c4c0a1c49c774f67f");
  EXPECT_EQ(HexOf(*data->HashStruct("Person", example["message"]["to"][0])),
            "0xefa62530c7ae3a290f8a13a5fc20450bdb3a6af19d9d9d2542b5a94e631a9168");
  EXPECT_EQ(HexOf(data->message_hash()),
            "0xeb4221181ff3f1a83ea7313993ca9218496e424604ba9492bb4052c03d5c3df8");
  EXPECT_EQ(HexOf(data->domain_separator()),
            "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
  EXPECT_EQ(HexOf(data->digest()),
            "0xa85c2e2b118698e88db68a8105b794a8cc7cec074e89ef991cb4f5f533819cc2");
  EXPECT_EQ(*data->EncodeType("Group"),
            "Group(string name,Person[] members)Person(string name,address[] wallets)");
}

// A recursive type (its encodeType names itself once); published type hash 0x7c5c8e90...
TEST(Eip712Test, RecursiveTypeEncodesOnce) {
  json example = MailExample();
  example["types"]["Person"] = json::parse(R"([{"name": "name", "type": "string"},
      {"name": "mother", "type": "Person"}, {"name": "father", "type": "Person"}])");
  example["types"]["Mail"] = json::parse(R"([{"name": "people", "type": "Person[]"}])");
  example["message"] = json::parse(R"({"people": []})");
  auto data = TypedData::Create(example);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data->EncodeType("Person"), "Person(string name,Person mother,Person father)");
  EXPECT_EQ(HexOf(*data->TypeHash("Person")),
            "0x7c5c8e90cb92c8da53b893b24962513be98afcf1b57b00327ae4cc14e3a64116");
}

// A one-struct document "T" with the given fields and message.
json Single(const json& fields, const json& message) {
  return json{{"types", {{"EIP712Domain", kDomainType}, {"T", fields}}},
              {"primaryType", "T"},
              {"domain", kDomain},
              {"message", message}};
}

crypto::Keccak256Digest ExpectedHash(std::string_view encoded_type, std::string_view words_hex) {
  Bytes preimage;
  const auto type_hash = crypto::Keccak256(AsBytes(encoded_type));
  preimage.insert(preimage.end(), type_hash.begin(), type_hash.end());
  auto words = HexDecode(words_hex);
  EXPECT_TRUE(words.ok());
  preimage.insert(preimage.end(), words->begin(), words->end());
  return crypto::Keccak256(preimage);
}

TEST(Eip712Test, AtomicEncodings) {
  const json fields =
      json::parse(R"([{"name": "a", "type": "int8"}, {"name": "b", "type": "uint16"},
      {"name": "c", "type": "bytes4"}, {"name": "d", "type": "bool"},
      {"name": "e", "type": "int256"}])");
  auto data = TypedData::Create(
      Single(fields, json::parse(R"({"a": -1, "b": "0x100", "c": "0xdeadbeef", "d": true,
                              "e": "-57896044618658097711785492504343953926634992332820282019728792003956564819968"})")));
  ASSERT_TRUE(data.ok()) << data.status();
  const std::string words = std::string(64, 'f') + std::string(60, '0') + "0100" + "deadbeef" +
                            std::string(56, '0') + std::string(63, '0') + "1" + "8" +
                            std::string(63, '0');
  EXPECT_EQ(data->message_hash(),
            ExpectedHash("T(int8 a,uint16 b,bytes4 c,bool d,int256 e)", words));
}

TEST(Eip712Test, FixedAndDynamicArraysOfAtomicDynamicAndStructTypes) {
  const json fields = json::parse(R"([{"name": "a", "type": "uint8[2]"},
      {"name": "b", "type": "string[]"}, {"name": "c", "type": "bytes[1][]"}])");
  auto data = TypedData::Create(
      Single(fields, json::parse(R"({"a": [1, 2], "b": ["x"], "c": [["0x01"], ["0x"]]})")));
  ASSERT_TRUE(data.ok()) << data.status();
  Bytes a(64, 0);
  a[31] = 1;
  a[63] = 2;
  const auto a_hash = crypto::Keccak256(a);
  const auto b_hash = crypto::Keccak256(crypto::Keccak256(AsBytes("x")));
  const auto c0 = crypto::Keccak256(crypto::Keccak256(Bytes{0x01}));
  const auto c1 = crypto::Keccak256(crypto::Keccak256(Bytes{}));
  Bytes c(c0.begin(), c0.end());
  c.insert(c.end(), c1.begin(), c1.end());
  const auto c_hash = crypto::Keccak256(c);
  EXPECT_EQ(data->message_hash(),
            ExpectedHash("T(uint8[2] a,string[] b,bytes[1][] c)",
                         HexEncode(a_hash) + HexEncode(b_hash) + HexEncode(c_hash)));
}

TEST(Eip712Test, IntegerRanges) {
  auto hash = [](std::string_view type, const json& v) {
    return TypedData::Create(
        Single(json::array({{{"name", "v"}, {"type", std::string(type)}}}), {{"v", v}}));
  };
  EXPECT_TRUE(hash("uint8", 255).ok());
  EXPECT_FALSE(hash("uint8", 256).ok());
  EXPECT_FALSE(hash("uint8", -1).ok());
  EXPECT_TRUE(hash("int8", 127).ok());
  EXPECT_TRUE(hash("int8", -128).ok());
  EXPECT_FALSE(hash("int8", 128).ok());
  EXPECT_FALSE(hash("int8", -129).ok());
  EXPECT_TRUE(hash("uint256", "0x" + std::string(64, 'f')).ok());
  EXPECT_FALSE(hash("int256", "0x8" + std::string(63, '0')).ok());
  EXPECT_TRUE(hash("int256", "-0x8" + std::string(63, '0')).ok());
  EXPECT_FALSE(hash("int256", "-0x8" + std::string(62, '0') + "1").ok());
  EXPECT_FALSE(hash("uint8", 1.5).ok());
  EXPECT_FALSE(hash("uint8", "1.5").ok());
}

TEST(Eip712Test, RefusesMalformedTypesAndValues) {
  const json ok_fields = json::parse(R"([{"name": "v", "type": "uint8"}])");
  struct Case {
    json doc;
    std::string expected;
  };
  auto with_type = [&](const std::string& type, const json& v) {
    return Single(json::array({{{"name", "v"}, {"type", type}}}), {{"v", v}});
  };
  std::vector<Case> cases = {
      {json::array(), "not a JSON object"},
      {json{{"types", json::object()}, {"primaryType", "T"}, {"domain", kDomain}}, "'message'"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["extra"] = 1;
         return d;
       }(),
       "unknown"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["types"].erase("EIP712Domain");
         return d;
       }(),
       "EIP712Domain is not defined"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["primaryType"] = "X";
         return d;
       }(),
       "primaryType"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["primaryType"] = "EIP712Domain";
         return d;
       }(),
       "may not be EIP712Domain"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["types"]["uint256"] = ok_fields;
         return d;
       }(),
       "atomic"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["types"]["a b"] = ok_fields;
         return d;
       }(),
       "identifier"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["types"]["U"] = json::array();
         return d;
       }(),
       "non-empty"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["types"]["EIP712Domain"].push_back({{"name", "extra"}, {"type", "string"}});
         return d;
       }(),
       "EIP712Domain field"},
      {Single(json::parse(R"([{"name": "v", "type": "uint8"}, {"name": "v", "type": "uint8"}])"),
              {{"v", 1}}),
       "twice"},
      {Single(json::parse(R"([{"name": "v w", "type": "uint8"}])"), {{"v w", 1}}), "identifier"},
      {Single(json::parse(R"([{"name": "v", "type": "uint8", "x": 1}])"), {{"v", 1}}),
       "{name, type}"},
      {with_type("Unknown", json::object()), "unknown type"},
      {with_type("uint", 1), "unknown type"},
      {with_type("uint7", 1), "unknown type"},
      {with_type("bytes33", "0x00"), "unknown type"},
      {with_type("uint8[0]", json::array()), "array type"},
      {with_type("uint8[01]", json::array({1})), "array type"},
      {with_type("uint8[", json::array()), "unknown type"},
      {with_type("[]", json::array()), "array type"},
      {with_type("uint8[][][][][]", json::array()), "array type"},
      {Single(ok_fields, json::object()), "lacks field 'v'"},
      {Single(ok_fields, {{"v", 1}, {"w", 2}}), "does not declare"},
      {Single(ok_fields, nullptr), "not a JSON object"},
      {with_type("string", 5), "not a string"},
      {with_type("bytes", "abcd"), "0x hex"},
      {with_type("bytes", "0xabc"), "hex digits"},
      {with_type("bytes4", "0xdeadbe"), "4 bytes"},
      {with_type("address", "0x1234"), "address"},
      {with_type("bool", "true"), "true or false"},
      {with_type("uint8[2]", json::array({1})), "fixed number"},
      {with_type("uint8[]", 1), "JSON array"},
      {[&] {
         json d = with_type("uint8", 1);
         d["types"]["U"] = json::parse(R"([{"name": "v", "type": "uint8"}])");
         d["types"]["T"] = json::parse(R"([{"name": "v", "type": "U"}])");
         d["message"] = {{"v", nullptr}};
         return d;
       }(),
       "null"},
      {[&] {
         json d = Single(ok_fields, {{"v", 1}});
         d["domain"]["salt"] = "0x00";
         return d;
       }(),
       "does not declare"},
  };
  for (const Case& c : cases) {
    auto data = TypedData::Create(c.doc);
    ASSERT_FALSE(data.ok()) << c.doc.dump();
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument) << c.doc.dump();
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(c.expected)) << c.doc.dump();
  }
  EXPECT_FALSE(TypedData::Parse("{").ok());
  EXPECT_FALSE(TypedData::Parse(R"({"types": {}, "types": {}})").ok());
}

TEST(Eip712Test, BoundsWorkDepthAndTypeCounts) {
  // Values: an array longer than the limit, or more values than the budget.
  json many = json::array();
  for (int i = 0; i < 100; ++i) many.push_back(1);
  const json doc = Single(json::parse(R"([{"name": "v", "type": "uint8[]"}])"), {{"v", many}});
  EXPECT_TRUE(TypedData::Create(doc).ok());
  EXPECT_FALSE(TypedData::Create(doc, Eip712Limits{.max_array_length = 50}).ok());
  EXPECT_FALSE(TypedData::Create(doc, Eip712Limits{.max_values = 50}).ok());
  // Nesting: uint8[][][][] at depth 4 plus the struct.
  const json nested =
      Single(json::parse(R"([{"name": "v", "type": "uint8[][][][]"}])"), {{"v", {{{{1}}}}}});
  EXPECT_TRUE(TypedData::Create(nested).ok());
  EXPECT_FALSE(TypedData::Create(nested, Eip712Limits{.max_depth = 3}).ok());
  // A chain of 60 types each referring twice to the next: encodeType stays linear (each
  // dependency once), no blowup.
  json chain =
      Single(json::parse(R"([{"name": "a", "type": "S0[]"}, {"name": "b", "type": "S0[]"}])"),
             {{"a", json::array()}, {"b", json::array()}});
  for (int i = 0; i < 60; ++i) {
    const std::string next = i == 59 ? "uint8" : "S" + std::to_string(i + 1) + "[]";
    chain["types"]["S" + std::to_string(i)] =
        json::array({{{"name", "a"}, {"type", next}}, {{"name", "b"}, {"type", next}}});
  }
  auto data = TypedData::Create(chain);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_LT(data->EncodeType("T")->size(), 60u * 40u);
  EXPECT_FALSE(TypedData::Create(chain, Eip712Limits{.max_types = 32}).ok());
}

// Error messages name validated type and field names, never values or rejected names.
TEST(Eip712Test, ErrorsNeverQuoteValuesOrRejectedNames) {
  const std::string canary = "CANARY7f3a";
  const json fields = json::parse(R"([{"name": "v", "type": "string"}])");
  std::vector<json> docs = {
      Single(fields, {{"v", 5}, {canary, 1}}),
      Single(json::array({{{"name", "v"}, {"type", canary}}}), {{"v", 1}}),
      Single(json::array({{{"name", canary + " x"}, {"type", "bool"}}}), {{"v", 1}}),
      Single(json::parse(R"([{"name": "v", "type": "address"}])"), {{"v", "0x" + canary}})};
  docs.push_back(MailExample());
  docs.back()["types"]["x-" + canary] = fields;
  for (const json& doc : docs) {
    auto data = TypedData::Create(doc);
    ASSERT_FALSE(data.ok()) << doc.dump();
    EXPECT_THAT(std::string(data.status().message()), ::testing::Not(HasSubstr(canary)));
  }
}

}  // namespace
}  // namespace lockout::eth
