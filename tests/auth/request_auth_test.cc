#include "src/auth/request_auth.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/auth/client_key.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"
#include "tests/testing/vectors.h"

namespace lockout::auth {
namespace {

// The body of the fenced block that follows "<!-- auth-example:NAME -->" in docs/PROTOCOL.md.
std::string DocExample(std::string_view name) {
  std::ifstream in(absl::StrCat(testing::SourceDir(), "/docs/PROTOCOL.md"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string marker = absl::StrCat("<!-- auth-example:", std::string(name), " -->");
  const size_t at = doc.find(marker);
  if (at == std::string::npos) return "";
  const size_t open = doc.find("```\n", at);
  const size_t close = doc.find("\n```", open + 4);
  if (open == std::string::npos || close == std::string::npos) return "";
  return doc.substr(open + 4, close - open - 4);
}

// The hex of a documented encoding: the first word of each line (the rest is commentary).
std::string HexColumn(const std::string& block) {
  std::string hex;
  for (absl::string_view line : absl::StrSplit(block, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    hex += std::string(line.substr(0, line.find(' ')));
  }
  return hex;
}

TEST(RequestAuthTest, TheDocumentedWorkedExampleHoldsByteForByte) {
  const std::string seed = DocExample("private-key");
  const std::string pub = DocExample("public-key");
  const std::string request_text = DocExample("request");
  const std::string encoding_hex = HexColumn(DocExample("encoding"));
  const std::string signature_b64 = DocExample("signature");
  const std::string signed_text = DocExample("signed-request");
  ASSERT_FALSE(seed.empty() || pub.empty() || request_text.empty() || encoding_hex.empty() ||
               signature_b64.empty() || signed_text.empty())
      << "docs/PROTOCOL.md lost an auth-example block";

  absl::StatusOr<std::unique_ptr<ClientKey>> key = ClientKey::ParseFile(absl::StrCat(
      R"({"format": "lockout-client-key-v1", "name": "gateway", "algorithm": "ed25519", )",
      R"("private_key": ")", seed, R"(", "public_key": ")", pub, R"("})"));
  ASSERT_TRUE(key.ok()) << key.status();

  absl::StatusOr<nlohmann::json> request = ParseJson(request_text);
  ASSERT_TRUE(request.ok()) << request.status();
  const Bytes nonce = ToBytes("0123456789abcdef");
  absl::StatusOr<std::string> encoding =
      CanonicalRequest(*request, "gateway", 1765000000000, nonce);
  ASSERT_TRUE(encoding.ok()) << encoding.status();
  EXPECT_EQ(encoding->size(), 123u);
  EXPECT_EQ(HexEncode(AsBytes(*encoding)), encoding_hex);

  absl::StatusOr<Bytes> sig = (*key)->Sign(AsBytes(*encoding));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Base64Encode(*sig), signature_b64);

  // The signed request as documented parses to the same auth fields and encoding.
  absl::StatusOr<nlohmann::json> sent = ParseJson(signed_text);
  ASSERT_TRUE(sent.ok()) << sent.status();
  absl::StatusOr<AuthFields> auth = ParseAuthFields((*sent)["auth"]);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->client, "gateway");
  EXPECT_EQ(auth->timestamp_ms, 1765000000000);
  EXPECT_EQ(auth->nonce, nonce);
  EXPECT_EQ(auth->signature, *sig);
  EXPECT_EQ(*CanonicalRequest(*sent, auth->client, auth->timestamp_ms, auth->nonce), *encoding);
}

TEST(RequestAuthTest, EncodesEveryJsonTypeAsSpecified) {
  absl::StatusOr<nlohmann::json> r = ParseJson(
      R"({"id": "x", "auth": {}, "z": null, "b": [true, false, -1, "\u00e9"], "a": {"k": 7}})");
  ASSERT_TRUE(r.ok());
  absl::StatusOr<std::string> enc = CanonicalRequest(*r, "c", 1, ToBytes("n"));
  ASSERT_TRUE(enc.ok()) << enc.status();
  const std::string expected = absl::StrCat(
      Absl(kRequestTag), std::string("\0\0\0\1c", 5), std::string("\0\0\0\0\0\0\0\1", 8),
      std::string("\0\0\0\1n", 5),
      // o, 3 members (id and auth skipped), sorted: a, b, z
      std::string("o\0\0\0\3", 5), std::string("\0\0\0\1a", 5), std::string("o\0\0\0\1", 5),
      std::string("\0\0\0\1k", 5), std::string("i\0\0\0\0\0\0\0\7", 9), std::string("\0\0\0\1b", 5),
      std::string("a\0\0\0\4", 5), "t", "f", std::string("i\xff\xff\xff\xff\xff\xff\xff\xff", 9),
      std::string("s\0\0\0\2\xc3\xa9", 7), std::string("\0\0\0\1z", 5), "n");
  EXPECT_EQ(HexEncode(AsBytes(*enc)), HexEncode(AsBytes(expected)));
}

TEST(RequestAuthTest, MembersSortByBytesNotByCodePointCase) {
  // "B" (0x42) < "a" (0x61) < "\u00e9" (0xc3 0xa9).
  absl::StatusOr<nlohmann::json> r = ParseJson(R"({"\u00e9": 1, "a": 2, "B": 3})");
  ASSERT_TRUE(r.ok());
  std::string enc = *CanonicalRequest(*r, "c", 0, {});
  const size_t b = enc.find(std::string("\0\0\0\1B", 5));
  const size_t a = enc.find(std::string("\0\0\0\1a", 5));
  const size_t e = enc.find("\xc3\xa9");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_LT(b, a);
  EXPECT_LT(a, e);
}

TEST(RequestAuthTest, EveryCoveredFieldChangesTheEncoding) {
  const nlohmann::json base = {{"id", 1}, {"op", "sign"}, {"message", "aGk="}};
  const Bytes nonce(16, 7);
  const std::string ref = *CanonicalRequest(base, "c", 5, nonce);
  nlohmann::json other_id = base;
  other_id["id"] = 2;
  EXPECT_EQ(*CanonicalRequest(other_id, "c", 5, nonce), ref);  // id is not covered
  nlohmann::json m = base;
  m["message"] = "aGo=";
  EXPECT_NE(*CanonicalRequest(m, "c", 5, nonce), ref);
  nlohmann::json op = base;
  op["op"] = "attest";
  EXPECT_NE(*CanonicalRequest(op, "c", 5, nonce), ref);
  nlohmann::json extra = base;
  extra["hash"] = "sha256";  // issue 14's fields are covered without a new encoding
  EXPECT_NE(*CanonicalRequest(extra, "c", 5, nonce), ref);
  EXPECT_NE(*CanonicalRequest(base, "d", 5, nonce), ref);
  EXPECT_NE(*CanonicalRequest(base, "c", 6, nonce), ref);
  EXPECT_NE(*CanonicalRequest(base, "c", 5, Bytes(16, 8)), ref);
  // Length prefixes keep field boundaries: ("ab", "c") and ("a", "bc") differ.
  nlohmann::json s1 = {{"ab", "c"}};
  nlohmann::json s2 = {{"a", "bc"}};
  EXPECT_NE(*CanonicalRequest(s1, "c", 5, nonce), *CanonicalRequest(s2, "c", 5, nonce));
  // A string and an integer with the same text differ.
  nlohmann::json t1 = {{"n", "1"}};
  nlohmann::json t2 = {{"n", 1}};
  EXPECT_NE(*CanonicalRequest(t1, "c", 5, nonce), *CanonicalRequest(t2, "c", 5, nonce));
}

TEST(RequestAuthTest, RefusesValuesWithoutCanonicalForm) {
  for (const char* text :
       {R"({"n": 1.5})", R"({"n": 1e3})", R"({"n": 1.0})", R"({"n": 9223372036854775808})",
        R"({"n": [[[[[[[[[1]]]]]]]]]})", "[]", "\"s\""}) {
    absl::StatusOr<nlohmann::json> r = ParseJson(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_FALSE(CanonicalRequest(*r, "c", 0, {}).ok()) << text;
  }
  absl::StatusOr<nlohmann::json> max =
      ParseJson(R"({"n": 9223372036854775807, "m": -9223372036854775808})");
  ASSERT_TRUE(max.ok());
  EXPECT_TRUE(CanonicalRequest(*max, "c", 0, {}).ok());
  // An id may be any number: it is not covered.
  absl::StatusOr<nlohmann::json> float_id = ParseJson(R"({"id": 1.5, "op": "health"})");
  ASSERT_TRUE(float_id.ok());
  EXPECT_TRUE(CanonicalRequest(*float_id, "c", 0, {}).ok());
}

nlohmann::json GoodAuth() {
  return {{"client", "gateway"},
          {"timestamp", 1765000000000},
          {"nonce", Base64Encode(Bytes(16, 1))},
          {"signature", Base64Encode(Bytes(64, 2))}};
}

TEST(RequestAuthTest, ParsesWellFormedAuth) {
  absl::StatusOr<AuthFields> f = ParseAuthFields(GoodAuth());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->nonce.size(), 16u);
  EXPECT_EQ(f->signature.size(), 64u);
  nlohmann::json a = GoodAuth();
  a["nonce"] = Base64Encode(Bytes(64, 1));
  a["signature"] = Base64Encode(Bytes(kMaxClientSignatureSize, 2));
  a["timestamp"] = 0;
  EXPECT_TRUE(ParseAuthFields(a).ok());
}

TEST(RequestAuthTest, RefusesMalformedAuth) {
  std::vector<nlohmann::json> cases;
  cases.push_back(nlohmann::json::array());
  cases.push_back("x");
  cases.push_back(nullptr);
  for (const char* field : {"client", "timestamp", "nonce", "signature"}) {
    nlohmann::json a = GoodAuth();
    a.erase(field);
    cases.push_back(a);  // missing
    a[field] = nlohmann::json::array();
    cases.push_back(a);  // wrong type
  }
  auto with = [](const char* field, nlohmann::json v) {
    nlohmann::json a = GoodAuth();
    a[field] = std::move(v);
    return a;
  };
  cases.push_back(with("extra", 1));
  cases.push_back(with("client", ""));
  cases.push_back(with("client", std::string(65, 'a')));
  cases.push_back(with("client", "a b"));
  cases.push_back(with("client", "caf\xc3\xa9"));
  cases.push_back(with("timestamp", -1));
  cases.push_back(with("timestamp", 1.5));
  cases.push_back(with("timestamp", "1765000000000"));
  cases.push_back(with("timestamp", nlohmann::json(18446744073709551615ull)));
  cases.push_back(with("nonce", Base64Encode(Bytes(15, 1))));
  cases.push_back(with("nonce", Base64Encode(Bytes(65, 1))));
  cases.push_back(with("nonce", "AAAAAAAAAAAAAAAAAAAAAA"));  // no padding
  cases.push_back(with("nonce", "!!!!"));
  cases.push_back(with("signature", ""));
  cases.push_back(with("signature", Base64Encode(Bytes(kMaxClientSignatureSize + 1, 2))));
  for (const nlohmann::json& c : cases) {
    absl::StatusOr<AuthFields> f = ParseAuthFields(c);
    EXPECT_FALSE(f.ok()) << c.dump();
  }
}

TEST(RequestAuthTest, SignRequestProducesAVerifiableRequestWithAFreshNonce) {
  auto key = ClientKey::Generate(ClientKeyAlgorithm::kEcdsaP256, "gw");
  ASSERT_TRUE(key.ok());
  auto verifier =
      ClientVerifier::Create(ClientKeyAlgorithm::kEcdsaP256, ToString((*key)->public_key()));
  ASSERT_TRUE(verifier.ok());
  nlohmann::json r1 = {{"id", 1}, {"op", "sign"}, {"message", "aGk="}};
  nlohmann::json r2 = r1;
  const absl::Time now = absl::FromUnixMillis(1765000000123);
  ASSERT_TRUE(SignRequest(**key, now, r1).ok());
  ASSERT_TRUE(SignRequest(**key, now, r2).ok());
  absl::StatusOr<AuthFields> a1 = ParseAuthFields(r1["auth"]);
  absl::StatusOr<AuthFields> a2 = ParseAuthFields(r2["auth"]);
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(a1->timestamp_ms, 1765000000123);
  EXPECT_EQ(a1->client, "gw");
  EXPECT_NE(a1->nonce, a2->nonce);
  EXPECT_EQ(r1["id"], 1);
  const std::string enc = *CanonicalRequest(r1, a1->client, a1->timestamp_ms, a1->nonce);
  EXPECT_TRUE((*verifier)->Verify(AsBytes(enc), a1->signature));
  nlohmann::json not_object = nlohmann::json::array();
  EXPECT_FALSE(SignRequest(**key, now, not_object).ok());
}

}  // namespace
}  // namespace lockout::auth
