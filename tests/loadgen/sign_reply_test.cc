#include "src/loadgen/sign_reply.h"

#include <string>

#include "gtest/gtest.h"

namespace lockout::loadgen {
namespace {

using Kind = SignReply::Kind;

SignReply V2(const std::string& json, uint64_t id = 7) {
  return ParseSignReply(Protocol::kV2, json, id);
}
SignReply V1(const std::string& json) { return ParseSignReply(Protocol::kV1, json, 0); }

TEST(SignReplyTest, V2SignatureIsDecoded) {
  SignReply r = V2(R"({"id":7,"ok":true,"signature":"3006020101020101"})");
  ASSERT_EQ(r.kind, Kind::kSigned);
  EXPECT_EQ(r.signature, (Bytes{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}));
}

TEST(SignReplyTest, V2RefusalKeepsTheEnclavesReason) {
  SignReply r = V2(R"({"id":7,"ok":false,"error":"busy"})");
  EXPECT_EQ(r.kind, Kind::kRefused);
  EXPECT_EQ(r.reason, "busy");
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":"key not loaded"})").reason, "key not loaded");
}

TEST(SignReplyTest, V2RefusalWithUnprintableOrHugeReasonIsNotEchoed) {
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":"a\u0007b"})").reason, "unrecognised error");
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":")" + std::string(65, 'x') + R"("})").reason,
            "unrecognised error");
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":"caf\u00e9"})").reason, "unrecognised error");
  EXPECT_EQ(V2(R"({"id":7,"ok":false})").reason, "unrecognised error");
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":5})").kind, Kind::kRefused);
  EXPECT_EQ(V2(R"({"id":7,"ok":false,"error":")" + std::string(64, 'x') + R"("})").reason,
            std::string(64, 'x'));
}

TEST(SignReplyTest, V2MalformedRepliesAreRejected) {
  for (const std::string& bad : {
           std::string(""), std::string("{"), std::string("[]"), std::string("\"x\""),
           std::string(R"({"ok":true,"signature":"00"})"),           // no id
           std::string(R"({"id":8,"ok":true,"signature":"00"})"),    // another request's id
           std::string(R"({"id":"7","ok":true,"signature":"00"})"),  // id of the wrong type
           std::string(R"({"id":-7,"ok":true,"signature":"00"})"),
           std::string(R"({"id":7.5,"ok":true,"signature":"00"})"),
           std::string(R"({"id":null,"ok":false,"error":"bad frame"})"),
           std::string(R"({"id":7,"signature":"00"})"),                        // no ok
           std::string(R"({"id":7,"ok":"true","signature":"00"})"),            // ok not a boolean
           std::string(R"({"id":7,"ok":true})"),                               // no signature
           std::string(R"({"id":7,"ok":true,"signature":3006})"),              // not a string
           std::string(R"({"id":7,"ok":true,"signature":""})"),                // empty
           std::string(R"({"id":7,"ok":true,"signature":"30x6"})"),            // not hex
           std::string(R"({"id":7,"ok":true,"signature":"300"})"),             // odd length
           std::string("{\"id\":7,\"ok\":true,\"signature\":\"00\"}\0x", 34),  // NUL inside
       }) {
    SignReply r = V2(bad);
    EXPECT_EQ(r.kind, Kind::kMalformed) << bad;
    EXPECT_EQ(r.reason, "bad reply") << bad;
  }
}

TEST(SignReplyTest, V1SignatureAndRefusal) {
  SignReply ok = V1(R"({"success": "True", "data": "0x3006020101020101"})");
  ASSERT_EQ(ok.kind, Kind::kSigned);
  EXPECT_EQ(ok.signature.size(), 8u);
  SignReply busy = V1(R"({"success": "False", "error": "Error: busy"})");
  EXPECT_EQ(busy.kind, Kind::kRefused);
  EXPECT_EQ(busy.reason, "busy");  // the same name as v2's
}

TEST(SignReplyTest, V1MalformedRepliesAreRejected) {
  for (const std::string& bad : {
           std::string("nope"),
           std::string(R"({"success": "True"})"),
           std::string(R"({"success": "True", "data": "3006"})"),  // no 0x
           std::string(R"({"success": "True", "data": "0x"})"),
           std::string(R"({"success": "True", "data": "0xzz"})"),
           std::string(R"({"data": "0x3006"})"),
       }) {
    EXPECT_EQ(V1(bad).kind, Kind::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace lockout::loadgen
