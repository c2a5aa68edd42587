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
#include "src/signer/key_memory_lock.h"
#include "src/signer/signer.h"

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
  };
  return *payloads;
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
