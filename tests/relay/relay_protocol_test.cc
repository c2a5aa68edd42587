#include "src/relay/relay_protocol.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/net/frame_decoder.h"

namespace lockout::relay {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCanaryKey[] = "CANARYsecretKEY/wJalrXUtnFEMI+K7MDENG";
constexpr char kCanaryToken[] = "CANARYtokenFwoGZXIvYXdzEJr//////////wEaDM";

struct ReplyFixture {
  Bytes secret = ToBytes("ciphertext\x01\x02\xff");
  SecretBytes key = SecretBytes::CopyFrom(std::string_view(kCanaryKey));
  SecretBytes token = SecretBytes::CopyFrom(std::string_view(kCanaryToken));

  GetSecretReplyParts Parts() const {
    return GetSecretReplyParts{.secret = secret,
                               .access_key_id = "ASIAEXAMPLE",
                               .secret_access_key = &key,
                               .session_token = &token,
                               .expiration = absl::FromUnixSeconds(1700000000)};
  }
};

std::string V1Payload(const SecretBytes& frame) {
  std::string_view text = frame.RevealAsString();
  EXPECT_TRUE(text.ends_with("$$$"));
  return std::string(text.substr(0, text.size() - 3));
}

std::string ValidReplyJson() {
  ReplyFixture f;
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(f.Parts());
  EXPECT_TRUE(frame.ok()) << frame.status();
  return frame.ok() ? V1Payload(*frame) : std::string();
}

// ---------------------------------------------------------------- requests

TEST(RelayRequestTest, EncodedRequestHasTheSeedsShape) {
  absl::StatusOr<std::string> text = EncodeGetSecretRequest({"secretlock"});
  ASSERT_TRUE(text.ok()) << text.status();
  nlohmann::json j = nlohmann::json::parse(*text);
  EXPECT_EQ(j, nlohmann::json::parse(
                   R"({"request_type": "get_secret", "payload": {"secret_name": "secretlock"}})"));
}

TEST(RelayRequestTest, RequestRoundTrips) {
  const std::string name =
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:lockout/key-AbCdEf";
  absl::StatusOr<std::string> text = EncodeGetSecretRequest({name});
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<GetSecretRequest> decoded = DecodeRequest(*text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->secret_name, name);
}

TEST(RelayRequestTest, DecodesTheSeedsPythonJsonDumpsText) {
  // What the seed's enclave sends: json.dumps() output, spaces after ':' and ','.
  absl::StatusOr<GetSecretRequest> decoded =
      DecodeRequest(R"({"request_type": "get_secret", "payload": {"secret_name": "secretlock"}})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->secret_name, "secretlock");
}

TEST(RelayRequestTest, UnknownFieldsAreIgnored) {
  absl::StatusOr<GetSecretRequest> decoded = DecodeRequest(
      R"({"request_type":"get_secret","id":7,"payload":{"secret_name":"a","x":[1]}})");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->secret_name, "a");
}

TEST(RelayRequestTest, UnknownRequestTypeIsUnimplementedAndNotQuoted) {
  absl::StatusOr<GetSecretRequest> decoded =
      DecodeRequest(R"({"request_type":"get_everything","payload":{}})");
  ASSERT_EQ(decoded.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(decoded.status().message(), Not(HasSubstr("get_everything")));
}

TEST(RelayRequestTest, MalformedRequestsAreInvalidArgument) {
  const std::vector<std::string> bad = {
      "",
      "{",
      "not json",
      "[]",
      "\"get_secret\"",
      "{}",
      R"({"request_type":null,"payload":{"secret_name":"a"}})",
      R"({"request_type":1,"payload":{"secret_name":"a"}})",
      R"({"request_type":["get_secret"],"payload":{"secret_name":"a"}})",
      R"({"request_type":"get_secret"})",
      R"({"request_type":"get_secret","payload":"a"})",
      R"({"request_type":"get_secret","payload":["a"]})",
      R"({"request_type":"get_secret","payload":{}})",
      R"({"request_type":"get_secret","payload":{"secret_name":1}})",
      R"({"request_type":"get_secret","payload":{"secret_name":null}})",
      R"({"request_type":"get_secret","payload":{"secret_name":""}})",
      R"({"request_type":"get_secret","payload":{"secret_name":"a b"}})",
      R"({"request_type":"get_secret","payload":{"secret_name":"a\nb"}})",
      R"({"request_type":"get_secret","payload":{"secret_name":"caf\u00e9"}})",
      R"({"request_type":"get_secret","payload":{"secret_name":"a\u0000"}})",
      R"({"request_type":"get_secret","payload":{"secret_name":"a"}} trailing)",
  };
  for (const std::string& text : bad) {
    absl::StatusOr<GetSecretRequest> decoded = DecodeRequest(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(RelayRequestTest, SecretNameLengthIsBounded) {
  const std::string longest(kMaxSecretNameSize, 'n');
  EXPECT_TRUE(DecodeRequest(*EncodeGetSecretRequest({longest})).ok());
  const std::string too_long(kMaxSecretNameSize + 1, 'n');
  EXPECT_FALSE(EncodeGetSecretRequest({too_long}).ok());
  const std::string text =
      R"({"request_type":"get_secret","payload":{"secret_name":")" + too_long + "\"}}";
  EXPECT_EQ(DecodeRequest(text).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RelayRequestTest, OversizedRequestIsRejectedBeforeParsing) {
  std::string text = R"({"request_type":"get_secret","payload":{"secret_name":"a"},"pad":")";
  text += std::string(kMaxRequestSize, 'x') + "\"}";
  EXPECT_EQ(DecodeRequest(text).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RelayRequestTest, DeeplyNestedRequestIsRejected) {
  std::string text = R"({"request_type":"get_secret","payload":{"secret_name":"a"},"x":)";
  text += std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_EQ(DecodeRequest(text).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RelayRequestTest, EveryTruncationOfARequestFails) {
  const std::string text = *EncodeGetSecretRequest({"lockout/key"});
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(DecodeRequest(text.substr(0, n)).ok()) << "prefix of " << n << " bytes";
  }
}

TEST(RelayRequestTest, EveryBitFlipOfARequestFailsOrNamesAValidSecret) {
  const std::string text = *EncodeGetSecretRequest({"lockout/key"});
  for (size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      absl::StatusOr<GetSecretRequest> decoded = DecodeRequest(flipped);
      if (decoded.ok()) {
        EXPECT_TRUE(ValidateSecretName(decoded->secret_name).ok());
      }
    }
  }
}

TEST(RelayRequestTest, EncodeRejectsInvalidNames) {
  EXPECT_FALSE(EncodeGetSecretRequest({""}).ok());
  EXPECT_FALSE(EncodeGetSecretRequest({"a b"}).ok());
  EXPECT_FALSE(EncodeGetSecretRequest({std::string("a\0b", 3)}).ok());
  EXPECT_FALSE(EncodeGetSecretRequest({"\xc3\xa9"}).ok());
}

// ---------------------------------------------------------------- replies

TEST(RelayReplyTest, V1FrameHasTheSeedsShapeAndOneTerminator) {
  ReplyFixture f;
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(f.Parts());
  ASSERT_TRUE(frame.ok()) << frame.status();
  const std::string payload = V1Payload(*frame);
  EXPECT_EQ(payload.find("$$$"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(payload);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 1u);
  const nlohmann::json& result = j.at("result");
  EXPECT_EQ(result.size(), 2u);
  EXPECT_EQ(result.at("secret"), Base64Encode(f.secret));
  const nlohmann::json& creds = result.at("credentials");
  EXPECT_EQ(creds.at("access_key_id"), "ASIAEXAMPLE");
  EXPECT_EQ(creds.at("secret_access_key"), kCanaryKey);
  EXPECT_EQ(creds.at("token"), kCanaryToken);
  EXPECT_EQ(creds.at("expiration"), "2023-11-14T22:13:20.000Z");

  // The framing layer the relay's peers use returns exactly the JSON text.
  net::FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(frame->Reveal()).ok());
  absl::StatusOr<std::optional<net::Frame>> next = decoder.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->payload, payload);
  EXPECT_EQ((*next)->kind, net::FrameKind::kV1);
}

TEST(RelayReplyTest, ReplyRoundTrips) {
  ReplyFixture f;
  absl::StatusOr<GetSecretReply> reply = DecodeReply(ValidReplyJson());
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->secret, f.secret);
  EXPECT_EQ(reply->credentials.access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), kCanaryKey);
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), kCanaryToken);
  EXPECT_EQ(reply->expiration, absl::FromUnixSeconds(1700000000));
}

TEST(RelayReplyTest, V2FrameCarriesTheSameJsonAfterABigEndianLength) {
  ReplyFixture f;
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(f.Parts(), net::FrameKind::kV2);
  ASSERT_TRUE(frame.ok()) << frame.status();
  net::FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(frame->Reveal()).ok());
  absl::StatusOr<std::optional<net::Frame>> next = decoder.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->kind, net::FrameKind::kV2);
  EXPECT_EQ((*next)->payload, ValidReplyJson());
}

TEST(RelayReplyTest, QuotesAndBackslashesInCredentialsAreEscaped) {
  ReplyFixture f;
  f.key = SecretBytes::CopyFrom(std::string_view(R"(a"b\c)"));
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(f.Parts());
  ASSERT_TRUE(frame.ok()) << frame.status();
  absl::StatusOr<GetSecretReply> reply = DecodeReply(V1Payload(*frame));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), R"(a"b\c)");
}

TEST(RelayReplyTest, ExpirationIsOptional) {
  ReplyFixture f;
  GetSecretReplyParts parts = f.Parts();
  parts.expiration = std::nullopt;
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(parts);
  ASSERT_TRUE(frame.ok());
  EXPECT_THAT(std::string(frame->RevealAsString()), Not(HasSubstr("expiration")));
  absl::StatusOr<GetSecretReply> reply = DecodeReply(V1Payload(*frame));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->expiration.has_value());
}

TEST(RelayReplyTest, DecodesTheSeedsPythonReplyWithoutExpiration) {
  absl::StatusOr<GetSecretReply> reply =
      DecodeReply(R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "AKID", )"
                  R"("secret_access_key": "SK", "token": "TOK"}}})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->secret, (Bytes{1, 2, 3}));
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), "TOK");
}

TEST(RelayReplyTest, EncodeRefusesUnprintableOrMissingCredentials) {
  ReplyFixture f;
  GetSecretReplyParts parts = f.Parts();
  parts.secret_access_key = nullptr;
  EXPECT_EQ(EncodeGetSecretReplyFrame(parts).status().code(), absl::StatusCode::kInvalidArgument);
  parts = f.Parts();
  parts.access_key_id = "";
  EXPECT_EQ(EncodeGetSecretReplyFrame(parts).status().code(), absl::StatusCode::kInvalidArgument);
  SecretBytes bad = SecretBytes::CopyFrom(std::string_view("tok\nen"));
  parts = f.Parts();
  parts.session_token = &bad;
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(parts);
  EXPECT_EQ(frame.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(frame.status().message(), Not(HasSubstr("tok")));
}

TEST(RelayReplyTest, V1EncodeRefusesATerminatorInsideTheJson) {
  ReplyFixture f;
  f.token = SecretBytes::CopyFrom(std::string_view("a$$$b"));
  EXPECT_EQ(EncodeGetSecretReplyFrame(f.Parts()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // v2 frames are length-delimited: fine there.
  EXPECT_TRUE(EncodeGetSecretReplyFrame(f.Parts(), net::FrameKind::kV2).ok());
}

TEST(RelayReplyTest, OversizedSecretIsResourceExhausted) {
  ReplyFixture f;
  f.secret = Bytes(kMaxReplySize, 0x41);
  EXPECT_EQ(EncodeGetSecretReplyFrame(f.Parts()).status().code(),
            absl::StatusCode::kResourceExhausted);
  // The largest SecretBinary Secrets Manager stores (64 KiB) fits.
  f.secret = Bytes(65536, 0x41);
  EXPECT_TRUE(EncodeGetSecretReplyFrame(f.Parts()).ok());
}

TEST(RelayReplyTest, ErrorRepliesMapToStatusCodes) {
  const std::vector<std::pair<std::string_view, absl::StatusCode>> cases = {
      {kErrorBadRequest, absl::StatusCode::kInvalidArgument},
      {kErrorUnknownRequestType, absl::StatusCode::kUnimplemented},
      {kErrorNotAllowed, absl::StatusCode::kPermissionDenied},
      {kErrorSecretUnavailable, absl::StatusCode::kFailedPrecondition},
      {kErrorUpstreamUnavailable, absl::StatusCode::kUnavailable},
      {kErrorBusy, absl::StatusCode::kUnavailable},
      {kErrorInternal, absl::StatusCode::kInternal},
      {"something else", absl::StatusCode::kUnknown},
  };
  for (const auto& [message, code] : cases) {
    const std::string frame = EncodeErrorReplyFrame(message);
    ASSERT_TRUE(frame.ends_with("$$$"));
    absl::StatusOr<GetSecretReply> reply = DecodeReply(frame.substr(0, frame.size() - 3));
    EXPECT_EQ(reply.status().code(), code) << message;
    EXPECT_THAT(reply.status().message(), HasSubstr(std::string(message)));
  }
}

TEST(RelayReplyTest, RefusalsSayWhatToDo) {
  const std::vector<std::pair<std::string_view, std::string_view>> cases = {
      {kErrorNotAllowed, "restart lockout-relay with --allow-secret NAME"},
      {kErrorSecretUnavailable, "its log line relay_request says why"},
      {kErrorUpstreamUnavailable, "its log says why"},
  };
  for (const auto& [message, hint] : cases) {
    const std::string frame = EncodeErrorReplyFrame(message);
    absl::StatusOr<GetSecretReply> reply = DecodeReply(frame.substr(0, frame.size() - 3));
    EXPECT_THAT(reply.status().message(), HasSubstr(std::string(hint))) << message;
  }
}

TEST(RelayReplyTest, ErrorReplyIsTheSeedsShape) {
  EXPECT_EQ(nlohmann::json::parse(EncodeErrorReply(kErrorNotAllowed)),
            nlohmann::json::parse(R"({"error": "secret not allowed"})"));
  const std::string v2 = EncodeErrorReplyFrame(kErrorBadRequest, net::FrameKind::kV2);
  EXPECT_EQ(v2.substr(4), EncodeErrorReply(kErrorBadRequest));
  EXPECT_EQ(static_cast<size_t>(static_cast<unsigned char>(v2[3])), v2.size() - 4);
}

TEST(RelayReplyTest, ErrorMessagesFromTheRelayAreSanitisedAndBounded) {
  absl::StatusOr<GetSecretReply> reply =
      DecodeReply(R"({"error": "bad\u0007\nthing)" + std::string(1000, 'x') + "\"}");
  ASSERT_FALSE(reply.ok());
  EXPECT_THAT(reply.status().message(), HasSubstr("bad??thing"));
  EXPECT_LT(reply.status().message().size(), 300u);
}

TEST(RelayReplyTest, MalformedRepliesAreInvalidArgument) {
  const std::vector<std::string> bad = {
      "",
      "[]",
      "{}",
      R"({"error": 1})",
      R"({"result": "x"})",
      R"({"result": {}})",
      R"({"result": {"secret": "AQID"}})",
      R"({"result": {"secret": 5, "credentials": {}}})",
      R"({"result": {"secret": "AQI", "credentials": {"access_key_id": "A", "secret_access_key": "S", "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": "x"}})",
      R"({"result": {"secret": "AQID", "credentials": {"secret_access_key": "S", "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "secret_access_key": "S"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "", "secret_access_key": "S", "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "secret_access_key": 7, "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "secret_access_key": "S\n", "token": "T"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "secret_access_key": "S", "token": "T", "expiration": "soon"}}})",
      R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", "secret_access_key": "S", "token": "T", "expiration": 5}}})",
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(DecodeReply(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(RelayReplyTest, ErrorsNeverQuoteCredentials) {
  std::string text = ValidReplyJson();
  // Break the token's type: the secret key is still in the document.
  const size_t at = text.find(kCanaryToken);
  ASSERT_NE(at, std::string::npos);
  text.replace(at - 1, sizeof(kCanaryToken) + 1, "[1]");
  absl::StatusOr<GetSecretReply> reply = DecodeReply(text);
  ASSERT_FALSE(reply.ok());
  EXPECT_THAT(reply.status().message(), Not(HasSubstr("CANARY")));
}

TEST(RelayReplyTest, EveryTruncationOfAReplyFails) {
  const std::string text = ValidReplyJson();
  for (size_t n = 0; n < text.size(); ++n) {
    absl::StatusOr<GetSecretReply> reply = DecodeReply(text.substr(0, n));
    ASSERT_FALSE(reply.ok()) << "prefix of " << n << " bytes";
    EXPECT_THAT(reply.status().message(), Not(HasSubstr("CANARY")));
  }
}

TEST(RelayReplyTest, EveryBitFlipOfAReplyFailsCleanlyOrDecodes) {
  const std::string text = ValidReplyJson();
  int failures = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      absl::StatusOr<GetSecretReply> reply = DecodeReply(flipped);
      if (!reply.ok()) {
        ++failures;
        EXPECT_THAT(reply.status().message(), Not(HasSubstr("CANARY")));
      }
    }
  }
  EXPECT_GT(failures, 0);
}

TEST(RelayReplyTest, NulBytesAreRefusedRawOrEscaped) {
  std::string raw = ValidReplyJson();
  const size_t at = raw.find(kCanaryToken);
  ASSERT_NE(at, std::string::npos);
  raw[at + 3] = '\0';  // a raw NUL inside the token
  EXPECT_EQ(DecodeReply(raw).status().code(), absl::StatusCode::kInvalidArgument);
  std::string escaped = ValidReplyJson();
  escaped.replace(at + 3, 1, "\\u0000");  // valid JSON, but not a credential
  absl::StatusOr<GetSecretReply> reply = DecodeReply(escaped);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("token is not printable ASCII"));
  // NUL after the document.
  EXPECT_FALSE(DecodeReply(ValidReplyJson() + std::string(1, '\0')).ok());
}

TEST(RelayReplyTest, DuplicateFieldsAreRefused) {
  // Two tokens: which one a reader takes would depend on its JSON library.
  const std::string text = R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", )"
                           R"("secret_access_key": "S", "token": "T1", "token": "T2"}}})";
  absl::StatusOr<GetSecretReply> reply = DecodeReply(text);
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reply.status().message(), HasSubstr("duplicate"));
  EXPECT_FALSE(DecodeReply(R"({"error": "relay busy", "error": "internal error"})").ok());
}

TEST(RelayReplyTest, WrongTypesAndDeepNestingAreRefused) {
  for (const std::string& text : {
           std::string(R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", )"
                       R"("secret_access_key": "S", "token": null}}})"),
           std::string(R"({"result": {"secret": "AQID", "credentials": {"access_key_id": ["A"], )"
                       R"("secret_access_key": "S", "token": "T"}}})"),
           std::string(R"({"result": {"secret": "AQID", "credentials": {"access_key_id": "A", )"
                       R"("secret_access_key": {"k": "S"}, "token": "T"}}})"),
           std::string(R"({"result": [], "error": null})"),
           R"({"result": )" + std::string(40, '[') + std::string(40, ']') + "}",
           std::string("\"just a string\""),
       }) {
    EXPECT_EQ(DecodeReply(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(RelayReplyTest, UnknownFieldsAndEscapedCredentialsAreAccepted) {
  absl::StatusOr<GetSecretReply> reply = DecodeReply(
      R"({"version": 2, "result": {"extra": [1, {"x": null}], "secret": "AQID", "credentials": )"
      R"({"access_key_id": "A", "secret_access_key": "S\/K\u0041", "token": "T"}}})");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), "S/KA");
}

TEST(RelayReplyTest, OversizedReplyIsRejected) {
  std::string text = R"({"error": ")" + std::string(kMaxReplySize, 'x') + "\"}";
  EXPECT_EQ(DecodeReply(text).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- get_signing_policy

TEST(RelaySigningPolicyTest, RequestRoundTripsAndIsStrict) {
  EXPECT_EQ(EncodeGetSigningPolicyRequest(), R"({"request_type":"get_signing_policy"})");
  EXPECT_TRUE(DecodeGetSigningPolicyRequest(EncodeGetSigningPolicyRequest()).ok());
  EXPECT_EQ(DecodeGetSigningPolicyRequest(R"({"request_type":"get_secret"})").code(),
            absl::StatusCode::kUnimplemented);
  for (std::string_view bad :
       {std::string_view("{"), std::string_view("[]"), std::string_view("{}"),
        std::string_view(R"({"request_type":7})"),
        std::string_view(R"({"request_type":"get_signing_policy","payload":{}})"),
        std::string_view(
            R"({"request_type":"get_signing_policy","request_type":"get_signing_policy"})")}) {
    EXPECT_EQ(DecodeGetSigningPolicyRequest(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // The get_secret decoder still calls it unknown (the service asks this decoder next).
  EXPECT_EQ(DecodeRequest(EncodeGetSigningPolicyRequest()).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RelaySigningPolicyTest, ReplyRoundTripsTheTextExactly) {
  const std::string text = "{\"version\": 1,\n \"clients\": [\"\\u00e9\"]}\t";
  absl::StatusOr<std::string> reply = EncodeGetSigningPolicyReply(text);
  ASSERT_TRUE(reply.ok()) << reply.status();
  absl::StatusOr<std::string> back = DecodeGetSigningPolicyReply(*reply);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
  EXPECT_FALSE(EncodeGetSigningPolicyReply(std::string(kMaxServedSigningPolicySize + 1, ' ')).ok());
  EXPECT_FALSE(EncodeGetSigningPolicyReply("\xff\xfe").ok());
}

TEST(RelaySigningPolicyTest, ErrorsAndMalformedRepliesAreStatuses) {
  absl::StatusOr<std::string> none =
      DecodeGetSigningPolicyReply(EncodeErrorReply(kErrorNoSigningPolicy));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("get_signing_policy"));
  EXPECT_EQ(DecodeGetSigningPolicyReply(EncodeErrorReply(kErrorBusy)).status().code(),
            absl::StatusCode::kUnavailable);
  for (std::string_view bad :
       {std::string_view("{"), std::string_view("[]"), std::string_view(R"({"result":1})"),
        std::string_view(R"({"result":{}})"),
        std::string_view(R"({"result":{"signing_policy":{}}})"),
        std::string_view(R"({"result":{"signing_policy":"a","signing_policy":"b"}})"),
        std::string_view(R"({"error":5})")}) {
    EXPECT_EQ(DecodeGetSigningPolicyReply(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  const std::string big = R"({"result":{"signing_policy":")" +
                          std::string(kMaxServedSigningPolicySize + 1, 'x') + R"("}})";
  EXPECT_EQ(DecodeGetSigningPolicyReply(big).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- append_log ----

AppendLogRequest SampleLog() {
  AppendLogRequest r;
  r.lines.push_back({{"ts", "2026-12-06T18:00:00Z"}, {"level", "info"}, {"event", "key_loaded"},
                     {"latency_ms", 12.5}, {"note", "costs $$$ \"quoted\" \u00e9"}});
  r.lines.push_back({{"event", "x"}, {"detail", {{"a", {1, 2, {{"b", nullptr}}}}}}});
  r.counters = {{"attested_replies_served", 3}, {"load_attempts", 1}};
  r.dropped = 7;
  return r;
}

TEST(RelayAppendLogTest, RequestRoundTripsInEscapedAscii) {
  const AppendLogRequest r = SampleLog();
  absl::StatusOr<std::string> text = EncodeAppendLogRequest(r);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->find('$'), std::string::npos);  // never the v1 terminator
  for (char c : *text) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
  absl::StatusOr<AppendLogRequest> back = DecodeAppendLogRequest(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->lines, r.lines);
  EXPECT_EQ(back->counters, r.counters);
  EXPECT_EQ(back->dropped, 7u);
  // An empty report (a heartbeat with counters only) is valid.
  AppendLogRequest empty;
  absl::StatusOr<std::string> heartbeat = EncodeAppendLogRequest(empty);
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_TRUE(DecodeAppendLogRequest(*heartbeat).ok());
}

TEST(RelayAppendLogTest, CounterNamesAreMetricSafe) {
  EXPECT_TRUE(IsValidLogCounterName("a"));
  EXPECT_TRUE(IsValidLogCounterName("refusals_replay_2"));
  EXPECT_TRUE(IsValidLogCounterName(std::string(64, 'z')));
  EXPECT_FALSE(IsValidLogCounterName(""));
  EXPECT_FALSE(IsValidLogCounterName(std::string(65, 'z')));
  EXPECT_FALSE(IsValidLogCounterName("_x"));
  EXPECT_FALSE(IsValidLogCounterName("9x"));
  EXPECT_FALSE(IsValidLogCounterName("Upper"));
  EXPECT_FALSE(IsValidLogCounterName("a-b"));
  EXPECT_FALSE(IsValidLogCounterName("a{le=\"1\"}"));
  EXPECT_FALSE(IsValidLogCounterName("a\nb"));
}

TEST(RelayAppendLogTest, MalformedRequestsAreRefusedWithoutQuotingThem) {
  const std::string many_lines = [] {
    std::string s = R"({"request_type":"append_log","counters":{},"dropped":0,"lines":[)";
    for (size_t i = 0; i <= kMaxLogLines; ++i) s += std::string(i ? "," : "") + R"({"e":1})";
    return s + "]}";
  }();
  const std::string many_counters = [] {
    std::string s = R"({"request_type":"append_log","lines":[],"dropped":0,"counters":{)";
    for (size_t i = 0; i <= kMaxLogCounters; ++i) {
      s += absl::StrCat(i ? "," : "", "\"c", i, "\":1");
    }
    return s + "}}";
  }();
  const std::string wide_line = [] {
    std::string s = R"({"request_type":"append_log","counters":{},"dropped":0,"lines":[{)";
    for (size_t i = 0; i <= kMaxLogLineMembers; ++i) s += absl::StrCat(i ? "," : "", "\"m", i, "\":1");
    return s + "}]}";
  }();
  for (const std::string& bad : std::vector<std::string>{
           "", "[]", "not json", R"({"request_type":"append_log"})",
           R"({"request_type":"append_log","lines":[],"counters":{}})",
           R"({"request_type":"append_log","lines":{},"counters":{},"dropped":0})",
           R"({"request_type":"append_log","lines":["SECRET-LINE"],"counters":{},"dropped":0})",
           R"({"request_type":"append_log","lines":[[1]],"counters":{},"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":[],"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":{"Bad":1},"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":{"a":-1},"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":{"a":1.5},"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":{"a":"1"},"dropped":0})",
           R"({"request_type":"append_log","lines":[],"counters":{},"dropped":-1})",
           R"({"request_type":"append_log","lines":[],"counters":{},"dropped":0,"extra":1})",
           R"({"request_type":"append_log","lines":[],"lines":[],"counters":{},"dropped":0})",
           R"({"request_type":"append_log","lines":[{"n":1e999}],"counters":{},"dropped":0})",
           R"({"request_type":"append_log","lines":[{"a":{"b":{"c":{"d":{"e":1}}}}}],"counters":{},"dropped":0})",
           many_lines, many_counters, wide_line}) {
    absl::StatusOr<AppendLogRequest> r = DecodeAppendLogRequest(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad.substr(0, 120);
    EXPECT_THAT(r.status().message(), Not(HasSubstr("SECRET-LINE")));
  }
  // Another request type is not ours to judge.
  EXPECT_EQ(DecodeAppendLogRequest(*EncodeAppendAuditRequest({"x"})).status().code(),
            absl::StatusCode::kUnimplemented);
  // Over the relay's request limit.
  std::string huge = R"({"request_type":"append_log","counters":{},"dropped":0,"lines":[{"a":")";
  huge += std::string(kMaxRequestSize, 'a') + "\"}]}";
  EXPECT_EQ(DecodeAppendLogRequest(huge).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RelayAppendLogTest, EncodingRefusesWhatTheRelayWouldRefuse) {
  AppendLogRequest r;
  r.lines.push_back("not an object");
  EXPECT_EQ(EncodeAppendLogRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r = AppendLogRequest{};
  r.counters = {{"Bad Name", 1}};
  EXPECT_EQ(EncodeAppendLogRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  r = AppendLogRequest{};
  r.lines.push_back({{"a", std::string(kMaxRequestSize, 'a')}});
  EXPECT_EQ(EncodeAppendLogRequest(r).status().code(), absl::StatusCode::kInvalidArgument);
  // AppendLogLineSize is what a line adds to the text.
  const nlohmann::json line = {{"event", "x"}, {"s", "$"}};
  AppendLogRequest one, two;
  one.lines = {line};
  two.lines = {line, line};
  EXPECT_EQ(EncodeAppendLogRequest(two)->size() - EncodeAppendLogRequest(one)->size(),
            AppendLogLineSize(line));
}

TEST(RelayAppendLogTest, RepliesAreCountsOrTheRelaysError) {
  absl::StatusOr<size_t> n = DecodeAppendLogReply(EncodeAppendLogReply(3));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(DecodeAppendLogReply(EncodeErrorReply(kErrorUnknownRequestType)).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(DecodeAppendLogReply(R"({"result":{"appended":-1}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeAppendLogReply(R"({"result":{"appended":129}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeAppendLogReply("garbage").status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- get_credentials ----

TEST(RelayGetCredentialsTest, RequestIsStrict) {
  EXPECT_EQ(EncodeGetCredentialsRequest(), R"({"request_type":"get_credentials"})");
  EXPECT_TRUE(DecodeGetCredentialsRequest(EncodeGetCredentialsRequest()).ok());
  EXPECT_EQ(DecodeGetCredentialsRequest(R"({"request_type":"get_secret"})").code(),
            absl::StatusCode::kUnimplemented);
  for (std::string_view bad :
       {std::string_view("{"), std::string_view("[]"), std::string_view("{}"),
        std::string_view(R"({"request_type":7})"),
        std::string_view(R"({"request_type":"get_credentials","payload":{}})"),
        std::string_view(
            R"({"request_type":"get_credentials","request_type":"get_credentials"})")}) {
    EXPECT_EQ(DecodeGetCredentialsRequest(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(DecodeRequest(EncodeGetCredentialsRequest()).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RelayGetCredentialsTest, ReplyRoundTripsWithoutASecretMember) {
  ReplyFixture f;
  absl::StatusOr<SecretBytes> frame = EncodeGetCredentialsReplyFrame(f.Parts());
  ASSERT_TRUE(frame.ok()) << frame.status();
  const std::string json = V1Payload(*frame);
  EXPECT_THAT(json, Not(HasSubstr("\"secret\"")));
  absl::StatusOr<GetCredentialsReply> reply = DecodeGetCredentialsReply(json);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->credentials.access_key_id, "ASIAEXAMPLE");
  EXPECT_EQ(reply->credentials.secret_access_key.RevealAsString(), kCanaryKey);
  EXPECT_EQ(reply->credentials.session_token.RevealAsString(), kCanaryToken);
  EXPECT_EQ(reply->expiration, absl::FromUnixSeconds(1700000000));
  // A get_secret reply is a get_credentials reply with one member more; not the other way round.
  EXPECT_FALSE(DecodeReply(json).ok());
}

TEST(RelayGetCredentialsTest, MalformedRepliesAndErrors) {
  EXPECT_EQ(DecodeGetCredentialsReply(EncodeErrorReply(kErrorUpstreamUnavailable)).status().code(),
            absl::StatusCode::kUnavailable);
  for (std::string_view bad :
       {std::string_view("{"), std::string_view("[]"), std::string_view(R"({"result":1})"),
        std::string_view(R"({"result":{}})"),
        std::string_view(R"({"result":{"credentials":{"access_key_id":"A"}}})"),
        std::string_view(
            R"({"result":{"credentials":{"access_key_id":"","secret_access_key":"s","token":""}}})"),
        std::string_view(
            R"({"result":{"credentials":{"access_key_id":"A","secret_access_key":"s","token":"","token":""}}})"),
        std::string_view(R"({"error":5})")}) {
    absl::StatusOr<GetCredentialsReply> r = DecodeGetCredentialsReply(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  const std::string json = [] {
    ReplyFixture f;
    return V1Payload(*EncodeGetCredentialsReplyFrame(f.Parts()));
  }();
  for (size_t n = 0; n < json.size(); ++n) {
    absl::StatusOr<GetCredentialsReply> r = DecodeGetCredentialsReply(json.substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("CANARY")));
  }
}

// ---- put_secret ----

TEST(RelayPutSecretTest, RequestRoundTripsAndEscapesDollars) {
  const PutSecretRequest request{"lockout/$$$key", ToBytes("ciphertext\x01\xff")};
  absl::StatusOr<std::string> text = EncodePutSecretRequest(request);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->find("$"), std::string::npos);
  absl::StatusOr<PutSecretRequest> back = DecodePutSecretRequest(*text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->secret_name, request.secret_name);
  EXPECT_EQ(back->secret, request.secret);
  EXPECT_EQ(DecodeRequest(*text).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(DecodePutSecretRequest(EncodeGetCredentialsRequest()).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(RelayPutSecretTest, MalformedRequestsAreRefusedWithoutQuotingThem) {
  const std::string big = Base64Encode(Bytes(kMaxPutSecretSize + 1, 7));
  for (const std::string& bad : std::vector<std::string>{
           "{", "[]", "{}", R"({"request_type":"put_secret"})",
           R"({"request_type":"put_secret","secret_name":"n"})",
           R"({"request_type":"put_secret","secret":"AA=="})",
           R"({"request_type":"put_secret","secret_name":7,"secret":"AA=="})",
           R"({"request_type":"put_secret","secret_name":"n","secret":7})",
           R"({"request_type":"put_secret","secret_name":"","secret":"AA=="})",
           R"({"request_type":"put_secret","secret_name":"a b","secret":"AA=="})",
           R"({"request_type":"put_secret","secret_name":"n","secret":""})",
           R"({"request_type":"put_secret","secret_name":"n","secret":"AA"})",
           R"({"request_type":"put_secret","secret_name":"n","secret":"A A="})",
           R"({"request_type":"put_secret","secret_name":"n","secret":"AA==","x":1})",
           R"({"request_type":"put_secret","secret_name":"n","secret_name":"m","secret":"AA=="})",
           R"({"request_type":"put_secret","secret_name":"n","secret":")" + big + R"("})"}) {
    absl::StatusOr<PutSecretRequest> r = DecodePutSecretRequest(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad.substr(0, 100);
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("AA==")));
  }
  EXPECT_FALSE(EncodePutSecretRequest({"n", {}}).ok());
  EXPECT_FALSE(EncodePutSecretRequest({"n", Bytes(kMaxPutSecretSize + 1, 1)}).ok());
  EXPECT_FALSE(EncodePutSecretRequest({"a b", Bytes(4, 1)}).ok());
  EXPECT_TRUE(EncodePutSecretRequest({"n", Bytes(kMaxPutSecretSize, 1)}).ok());
  // The largest request fits the relay's request limit.
  EXPECT_LE(EncodePutSecretRequest({std::string(kMaxSecretNameSize, 'n'),
                                    Bytes(kMaxPutSecretSize, 1)})
                ->size(),
            kMaxRequestSize);
}

TEST(RelayPutSecretTest, RepliesAreVersionIdsOrTheRelaysError) {
  absl::StatusOr<std::string> v = DecodePutSecretReply(EncodePutSecretReply("EXAMPLE1-90ab"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "EXAMPLE1-90ab");
  EXPECT_EQ(DecodePutSecretReply(EncodeErrorReply(kErrorSecretExists)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(DecodePutSecretReply(EncodeErrorReply(kErrorNotAllowed)).status().code(),
            absl::StatusCode::kPermissionDenied);
  for (std::string_view bad :
       {std::string_view("{"), std::string_view(R"({"result":{}})"),
        std::string_view(R"({"result":{"version_id":""}})"),
        std::string_view(R"({"result":{"version_id":7}})"),
        std::string_view(R"({"result":{"version_id":"a\u0001"}})"),
        std::string_view(R"({"result":{"version_id":"a","version_id":"b"}})")}) {
    EXPECT_EQ(DecodePutSecretReply(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(DecodePutSecretReply(EncodePutSecretReply(std::string(kMaxVersionIdSize + 1, 'v')))
                   .ok());
}

}  // namespace
}  // namespace lockout::relay
