// The v2 sign fast path (ParseSimpleSign): what it accepts, what it leaves to the general JSON
// path, and that both paths answer every request byte for byte the same (ed25519 signatures are
// deterministic, so whole replies can be compared).

#include "src/enclave/request_handler.h"

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/enclave/key_manager.h"
#include "src/signer/ecdsa_signature.h"
#include "src/signer/key_memory_lock.h"
#include "src/signer/signer.h"
#include "tests/enclave/enclave_test_util.h"

namespace lockout::enclave {
namespace {

TEST(ParseSimpleSignTest, AcceptsThePlainShapesClientsSend) {
  struct Case {
    std::string payload;
    std::string id_json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"id":1,"op":"sign","message":"aGk="})", "1", "aGk="},
      {R"({"op":"sign","message":"aGk=","id":"tx-7"})", R"("tx-7")", "aGk="},
      {R"({"message":"","op":"sign"})", "null", ""},
      {R"( { "id" : -42 , "op" : "sign" , "message" : "aGk=" } )", "-42", "aGk="},
      {"{\"id\":null,\r\n\t\"op\":\"sign\",\"message\":\"aGk=\"}\n", "null", "aGk="},
      {R"({"id":0,"op":"sign","message":"aGk="})", "0", "aGk="},
      {R"({"id":999999999999999999,"op":"sign","message":"aGk="})", "999999999999999999", "aGk="},
      {R"({"id":"a/b c{}[]:,'","op":"sign","message":"aGk="})", R"("a/b c{}[]:,'")", "aGk="},
      {R"({"id":")" + std::string(256, 'x') + R"(","op":"sign","message":"aGk="})",
       "\"" + std::string(256, 'x') + "\"", "aGk="},
      {R"({"id":1,"op":"sign","message":"aGk=","hash":"sha256"})", "1", "aGk="},
      {R"({"format":"raw","id":1,"op":"sign","hash":"none","message":"aGk="})", "1", "aGk="},
  };
  for (const Case& c : cases) {
    std::optional<SimpleSign> s = ParseSimpleSign(c.payload);
    ASSERT_TRUE(s.has_value()) << c.payload;
    EXPECT_EQ(s->id_json, c.id_json) << c.payload;
    EXPECT_EQ(s->message_b64, c.message) << c.payload;
  }
}

// Everything else goes to the general path (which then answers or refuses it).
const std::vector<std::string>& GeneralPathPayloads() {
  static const auto* payloads = new std::vector<std::string>{
      "",
      "{}",
      "[]",
      "null",
      R"("sign")",
      R"({"id":1,"op":"public_key"})",
      R"({"id":1,"op":"health"})",
      R"({"id":1,"message":"aGk="})",
      R"({"id":1,"op":"sign"})",
      R"({"id":1,"op":"Sign","message":"aGk="})",
      R"({"id":1,"op":"sign","message":"aGk=","extra":true})",
      R"({"id":1,"id":2,"op":"sign","message":"aGk="})",
      R"({"id":1,"op":"sign","op":"sign","message":"aGk="})",
      R"({"id":1,"op":"sign","message":"aGk=","message":"aGk="})",
      R"({"id":1.5,"op":"sign","message":"aGk="})",
      R"({"id":1e3,"op":"sign","message":"aGk="})",
      R"({"id":01,"op":"sign","message":"aGk="})",
      R"({"id":-0,"op":"sign","message":"aGk="})",
      R"({"id":-,"op":"sign","message":"aGk="})",
      R"({"id":1234567890123456789,"op":"sign","message":"aGk="})",
      R"({"id":true,"op":"sign","message":"aGk="})",
      R"({"id":nul,"op":"sign","message":"aGk="})",
      R"({"id":nullx,"op":"sign","message":"aGk="})",
      R"({"id":[1],"op":"sign","message":"aGk="})",
      R"({"id":{"a":1},"op":"sign","message":"aGk="})",
      R"({"id":")" + std::string(257, 'x') + R"(","op":"sign","message":"aGk="})",
      R"({"id":"a\"b","op":"sign","message":"aGk="})",
      R"({"id":"\u0041","op":"sign","message":"aGk="})",
      "{\"id\":\"caf\xc3\xa9\",\"op\":\"sign\",\"message\":\"aGk=\"}",
      std::string("{\"id\":\"a\0b\",\"op\":\"sign\",\"message\":\"aGk=\"}", 39),
      "{\"id\":\"a\tb\",\"op\":\"sign\",\"message\":\"aGk=\"}",
      R"({"id":1,"op":"si\u0067n","message":"aGk="})",
      R"({"id":1,"op":"sign","message":"aGk\u003d"})",
      R"({"id":1,"op":"sign","message":42})",
      R"({"id":1,"op":"sign","message":null})",
      R"({"id":1,"op":"sign","message":"aGk="}x)",
      R"({"id":1,"op":"sign","message":"aGk="}{})",
      R"({"id":1,"op":"sign","message":"aGk="},)",
      R"({"id":1,"op":"sign","message":"aGk=",})",
      R"({"id":1,,"op":"sign","message":"aGk="})",
      R"({"id":1 "op":"sign","message":"aGk="})",
      R"({"id" 1,"op":"sign","message":"aGk="})",
      R"({id:1,"op":"sign","message":"aGk="})",
      "\xef\xbb\xbf{\"op\":\"sign\",\"message\":\"aGk=\"}",
      "\f{\"op\":\"sign\",\"message\":\"aGk=\"}",
      // hash and format: only known names, as plain strings, once each.
      R"({"id":1,"op":"sign","message":"aGk=","hash":"SHA256"})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":"sha-256"})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":""})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":null})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":256})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":["sha256"]})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":"sha\u0032\u0035\u0036"})",
      R"({"id":1,"op":"sign","message":"aGk=","hash":"sha256","hash":"sha256"})",
      R"({"id":1,"op":"sign","message":"aGk=","format":"jose"})",
      R"({"id":1,"op":"sign","message":"aGk=","format":"DER"})",
      R"({"id":1,"op":"sign","message":"aGk=","format":true})",
      R"({"id":1,"op":"sign","message":"aGk=","format":"raw","format":"der"})",
      R"({"id":1,"op":"sign","message":"aGk=","Hash":"sha256"})",
  };
  return *payloads;
}

TEST(ParseSimpleSignTest, ReadsHashAndFormat) {
  std::optional<SimpleSign> s = ParseSimpleSign(R"({"id":1,"op":"sign","message":"aGk="})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->options, signer::SignOptions{});
  s = ParseSimpleSign(R"({"id":1,"op":"sign","message":"aGk=","hash":"keccak256"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->options, signer::SignOptions{.hash = signer::HashAlgorithm::kKeccak256});
  s = ParseSimpleSign(R"({"id":1,"op":"sign","format":"recoverable","message":"aGk="})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->options, signer::SignOptions{.format = signer::SignatureFormat::kRecoverable});
  s = ParseSimpleSign(R"({"id":1,"op":"sign","message":"aGk=","hash":"sha512","format":"raw"})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->options, (signer::SignOptions{.hash = signer::HashAlgorithm::kSha512,
                                             .format = signer::SignatureFormat::kRaw}));
}

TEST(ParseSimpleSignTest, LeavesEverythingElseToTheGeneralPath) {
  for (const std::string& p : GeneralPathPayloads()) {
    EXPECT_FALSE(ParseSimpleSign(p).has_value()) << p;
  }
}

TEST(ParseSimpleSignTest, EveryProperPrefixOfAValidRequestIsLeftToTheGeneralPath) {
  const std::string full = R"({"id":"tx","op":"sign","message":"aGVsbG8="})";
  ASSERT_TRUE(ParseSimpleSign(full).has_value());
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(ParseSimpleSign(full.substr(0, n)).has_value()) << n;
  }
}

class SignPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<signer::Signer>> signer =
        signer::Signer::Generate(signer::KeyType::kEd25519);
    ASSERT_TRUE(signer.ok()) << signer.status();
    keys_ = KeyManager::WithSigner(*std::move(signer));
    HandlerOptions general;
    general.sign_fast_path = false;
    fast_ = std::make_unique<RequestHandler>(*keys_, nullptr);
    general_ = std::make_unique<RequestHandler>(*keys_, nullptr, general);
  }

  std::string Reply(RequestHandler& handler, const std::string& payload) {
    WorkerState state;
    std::string out;
    EXPECT_FALSE(
        handler.Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = payload}, state, out));
    return out;
  }

  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<RequestHandler> fast_;
  std::unique_ptr<RequestHandler> general_;
};

TEST_F(SignPathsTest, BothPathsGiveTheSameReplyToEveryRequest) {
  const std::vector<std::string> plain = {
      R"({"id":1,"op":"sign","message":"aGk="})",
      R"({"op":"sign","message":"","id":"tx-7"})",
      R"( { "id" : -42 , "op" : "sign" , "message" : "aGVsbG8gd29ybGQ=" } )",
      R"({"id":999999999999999999,"op":"sign","message":"aGk="})",
      R"({"id":"a/b c{}[]:,'","op":"sign","message":"aGk="})",
  };
  std::vector<std::string> payloads = GeneralPathPayloads();
  payloads.insert(payloads.end(), plain.begin(), plain.end());
  for (const char* bad_base64 : {"not base64", "aGk", "aGl="}) {  // "aGl=": non-canonical bits
    payloads.push_back(absl::StrCat(R"({"id":1,"op":"sign","message":")", bad_base64, "\"}"));
  }
  for (const std::string& p : payloads) {
    EXPECT_EQ(Reply(*fast_, p), Reply(*general_, p)) << p;
  }
  for (const std::string& p : plain) {
    EXPECT_NE(Reply(*fast_, p).find("\"ok\":true,\"signature\":\""), std::string::npos) << p;
  }
}

TEST_F(SignPathsTest, BothPathsAgreeOnHashAndFormatForEd25519) {
  // ed25519 signs the message itself: hash none and format raw are its defaults spelled out;
  // anything else is a bad request, on both paths alike.
  const std::string plain = R"({"id":1,"op":"sign","message":"aGk="})";
  const std::string same = Reply(*fast_, plain);
  for (const char* p : {R"({"id":1,"op":"sign","message":"aGk=","hash":"none"})",
                        R"({"id":1,"op":"sign","message":"aGk=","format":"raw"})",
                        R"({"id":1,"op":"sign","message":"aGk=","hash":"none","format":"raw"})"}) {
    EXPECT_EQ(Reply(*fast_, p), same) << p;
    EXPECT_EQ(Reply(*general_, p), same) << p;
  }
  const std::string bad = R"({"id":1,"ok":false,"error":"bad request"})";
  for (const char* p : {R"({"id":1,"op":"sign","message":"aGk=","hash":"sha256"})",
                        R"({"id":1,"op":"sign","message":"aGk=","format":"der"})",
                        R"({"id":1,"op":"sign","message":"aGk=","format":"recoverable"})",
                        R"({"id":1,"op":"sign","message":"aGk=","hash":"SHA256"})",
                        R"({"id":1,"op":"sign","message":"aGk=","hash":null})"}) {
    EXPECT_EQ(Reply(*fast_, p).substr(4), bad) << p;
    EXPECT_EQ(Reply(*general_, p).substr(4), bad) << p;
  }
}

// Sign requests with hash and format against ECDSA keys, replies checked with the signer's own
// public key through OpenSSL (secp256k1 is deterministic, so both paths are also compared).
class SignOptionsHandlerTest : public ::testing::TestWithParam<signer::KeyType> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<signer::Signer>> s = signer::Signer::Generate(GetParam());
    ASSERT_TRUE(s.ok()) << s.status();
    signer_ = s->get();
    keys_ = KeyManager::WithSigner(*std::move(s));
    HandlerOptions general;
    general.sign_fast_path = false;
    fast_ = std::make_unique<RequestHandler>(*keys_, nullptr);
    general_ = std::make_unique<RequestHandler>(*keys_, nullptr, general);
  }

  static nlohmann::json Call(RequestHandler& handler, const std::string& payload,
                             net::FrameKind kind = net::FrameKind::kV2) {
    WorkerState state;
    std::string out;
    handler.Handle(net::Frame{.kind = kind, .payload = payload}, state, out);
    if (kind == net::FrameKind::kV1) return nlohmann::json::parse(out.substr(0, out.size() - 3));
    return nlohmann::json::parse(out.substr(4));
  }

  // True if `sig` (in `format`) verifies over `digest` with the signer's public key.
  bool Verifies(ByteView digest, std::string_view format, ByteView sig) {
    Bytes der(sig.begin(), sig.end());
    if (format != "der") {
      const size_t rs = format == "recoverable" ? 64 : sig.size();
      if (format == "recoverable") {
        absl::StatusOr<Bytes> pub = signer::RecoverSecp256k1PublicKey(digest, sig);
        if (!pub.ok() || *pub != signer_->public_key_raw()) return false;
      }
      std::array<uint8_t, signer::kMaxEcdsaDerSize> buf{};
      absl::StatusOr<size_t> n = signer::EcdsaRawToDer(sig.subspan(0, rs), absl::MakeSpan(buf));
      if (!n.ok()) return false;
      der.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    return testing::VerifyDigestSignature(signer_->public_key_der(), digest, der);
  }

  signer::Signer* signer_ = nullptr;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<RequestHandler> fast_;
  std::unique_ptr<RequestHandler> general_;
};

TEST_P(SignOptionsHandlerTest, EveryHashAndFormatTheKeyCanSignIsServed) {
  const signer::KeyType type = GetParam();
  const Bytes message = ToBytes("pay bob 5");
  for (const char* hash : {"sha256", "sha384", "sha512", "keccak256", "none"}) {
    for (const char* format : {"der", "raw", "recoverable"}) {
      SCOPED_TRACE(absl::StrCat(hash, " ", format));
      const bool none = std::string_view(hash) == "none";
      const Bytes signed_bytes = none ? Bytes(signer::PrehashedDigestSize(type), 0x5a) : message;
      const std::string payload =
          absl::StrCat(R"({"id":"t","op":"sign","message":")", Base64Encode(signed_bytes),
                       R"(","hash":")", hash, R"(","format":")", format, R"("})");
      const nlohmann::json reply = Call(*fast_, payload);
      const bool recoverable = std::string_view(format) == "recoverable";
      if (recoverable && type != signer::KeyType::kSecp256k1) {
        EXPECT_EQ(reply, nlohmann::json({{"id", "t"}, {"ok", false}, {"error", "bad request"}}));
        continue;
      }
      ASSERT_EQ(reply["ok"], true) << reply.dump();
      const Bytes sig = *HexDecode(reply["signature"].get<std::string>());
      const Bytes digest =
          none ? signed_bytes : *signer::ComputeDigest(*signer::ParseHashAlgorithm(hash), message);
      EXPECT_TRUE(Verifies(digest, format, sig)) << reply.dump();
      if (type == signer::KeyType::kSecp256k1) {
        EXPECT_EQ(Call(*general_, payload), reply);  // deterministic: the paths agree exactly
      }
    }
  }
}

TEST_P(SignOptionsHandlerTest, AbsentHashAndFormatKeepTodaysSha256Der) {
  const Bytes message = ToBytes("pay bob 5");
  const std::string payload =
      absl::StrCat(R"({"id":1,"op":"sign","message":")", Base64Encode(message), R"("})");
  const Bytes digest = *signer::ComputeDigest(signer::HashAlgorithm::kSha256, message);
  for (RequestHandler* h : {fast_.get(), general_.get()}) {
    const nlohmann::json reply = Call(*h, payload);
    ASSERT_EQ(reply["ok"], true) << reply.dump();
    EXPECT_TRUE(Verifies(digest, "der", *HexDecode(reply["signature"].get<std::string>())));
  }
}

TEST_P(SignOptionsHandlerTest, V1IgnoresHashAndFormatAndSignsSha256Der) {
  // The seed's protocol is unchanged: only "bytes" matters.
  const Bytes message = ToBytes("pay bob 5");
  const nlohmann::json reply = Call(*fast_,
                                    absl::StrCat(R"({"bytes": ")", Base64Encode(message),
                                                 R"(", "hash": "sha512", "format": "raw"})"),
                                    net::FrameKind::kV1);
  ASSERT_EQ(reply["success"], "True") << reply.dump();
  const std::string data = reply["data"].get<std::string>();
  ASSERT_EQ(data.substr(0, 2), "0x");
  EXPECT_TRUE(Verifies(*signer::ComputeDigest(signer::HashAlgorithm::kSha256, message), "der",
                       *HexDecode(data.substr(2))));
}

TEST_P(SignOptionsHandlerTest, MalformedHashOrFormatIsABadRequestOnBothPaths) {
  const signer::KeyType type = GetParam();
  const size_t size = signer::PrehashedDigestSize(type);
  const std::string short_digest = Base64Encode(Bytes(size - 1, 1));
  const std::string long_digest = Base64Encode(Bytes(size + 1, 1));
  const std::vector<std::string> payloads = {
      R"({"id":2,"op":"sign","message":"aGk=","hash":"none"})",  // 2 bytes is no digest
      absl::StrCat(R"({"id":2,"op":"sign","hash":"none","message":")", short_digest, R"("})"),
      absl::StrCat(R"({"id":2,"op":"sign","hash":"none","message":")", long_digest, R"("})"),
      R"({"id":2,"op":"sign","message":"aGk=","hash":"sha1"})",
      R"({"id":2,"op":"sign","message":"aGk=","hash":"SHA256"})",
      R"({"id":2,"op":"sign","message":"aGk=","hash":null})",
      R"({"id":2,"op":"sign","message":"aGk=","hash":{}})",
      R"({"id":2,"op":"sign","message":"aGk=","format":"es256"})",
      R"({"id":2,"op":"sign","message":"aGk=","format":""})",
      R"({"id":2,"op":"sign","message":"aGk=","format":1})",
      R"({"id":2,"op":"sign","message":"aGk=","format":"raw "})",
  };
  const nlohmann::json bad = {{"id", 2}, {"ok", false}, {"error", "bad request"}};
  for (const std::string& p : payloads) {
    EXPECT_EQ(Call(*fast_, p), bad) << p;
    EXPECT_EQ(Call(*general_, p), bad) << p;
  }
}

std::string KeyTypeTestName(const ::testing::TestParamInfo<signer::KeyType>& info) {
  return std::string(signer::KeyTypeName(info.param));
}
INSTANTIATE_TEST_SUITE_P(EcdsaKeys, SignOptionsHandlerTest,
                         ::testing::Values(signer::KeyType::kP256, signer::KeyType::kP384,
                                           signer::KeyType::kP521, signer::KeyType::kSecp256k1),
                         KeyTypeTestName);

TEST_F(SignPathsTest, TheFastPathReusesItsBuffersAcrossRequests) {
  WorkerState state;
  std::string out;
  const std::string big =
      R"({"id":1,"op":"sign","message":")" + Base64Encode(Bytes(3000, 7)) + R"("})";
  ASSERT_FALSE(fast_->Handle(net::Frame{.kind = net::FrameKind::kV2, .payload = big}, state, out));
  const size_t capacity = state.message.capacity();
  EXPECT_GE(capacity, 3000u);
  const uint8_t* data = state.message.data();
  out.clear();
  ASSERT_FALSE(fast_->Handle(net::Frame{.kind = net::FrameKind::kV2,
                                        .payload = R"({"id":2,"op":"sign","message":"aGk="})"},
                             state, out));
  EXPECT_EQ(state.message.data(), data);
  EXPECT_EQ(state.message.size(), 2u);
  EXPECT_NE(out.find(R"({"id":2,"ok":true,"signature":")"), std::string::npos) << out;
}

TEST_F(SignPathsTest, HealthReportsWhetherKeyMemoryIsLocked) {
  signer::KeyMemoryLock::Process().ResetForTest();
  const std::string request = R"({"id":1,"op":"health"})";
  nlohmann::json health = nlohmann::json::parse(Reply(*general_, request).substr(4));
  EXPECT_EQ(health["key_memory_locked"], true) << health.dump();
  std::ostringstream logs;
  Logger::Default().SetStream(&logs);
  signer::KeyMemoryLock::Process().Record("pkcs8", false);
  Logger::Default().SetStream(nullptr);
  health = nlohmann::json::parse(Reply(*fast_, request).substr(4));
  EXPECT_EQ(health["key_memory_locked"], false) << health.dump();
  signer::KeyMemoryLock::Process().ResetForTest();
}

}  // namespace
}  // namespace lockout::enclave
