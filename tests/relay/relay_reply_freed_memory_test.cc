// Decoding the relay's reply leaves no copy of the credentials in freed heap memory: they go from
// the (secret) reply buffer through SecretJson's secret arena into SecretBytes and nowhere else.
// The control shows why nlohmann::json is not used for this reply: even with every string of the
// parsed tree wiped (WipeJsonStrings), its lexer frees buffers that held the token.

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/json.h"
#include "src/relay/relay_protocol.h"
#include "tests/testing/freed_memory_watch.h"

namespace lockout::relay {
namespace {

using ::lockout::testing::FreedMemoryWatch;

constexpr std::string_view kCanaryKey = "CANARYsecretKEYwJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";
constexpr std::string_view kCanaryToken =
    "CANARYtokenFwoGZXIvYXdzEJr//////////wEaDMxyzzy0123456789abcdefghijklmnopqrstuvwxyz";

// What the watch looks for: a prefix, so that the partial copies a growing buffer leaves behind
// count too.
constexpr std::string_view kKeyNeedle = kCanaryKey.substr(0, 20);
constexpr std::string_view kTokenNeedle = kCanaryToken.substr(0, 20);

// The reply as the relay sends it, in secret memory like RelayClient's read buffer.
SecretBytes ReplyJson() {
  const SecretBytes key = SecretBytes::CopyFrom(kCanaryKey);
  const SecretBytes token = SecretBytes::CopyFrom(kCanaryToken);
  const Bytes secret = {1, 2, 3};
  const GetSecretReplyParts parts{.secret = secret,
                                  .access_key_id = "ASIAEXAMPLE",
                                  .secret_access_key = &key,
                                  .session_token = &token,
                                  .expiration = absl::FromUnixSeconds(1700000000)};
  absl::StatusOr<SecretBytes> frame = EncodeGetSecretReplyFrame(parts);
  EXPECT_TRUE(frame.ok()) << frame.status();
  return SecretBytes::CopyFrom(frame->Reveal().first(frame->size() - 3));  // without "$$$"
}

TEST(RelayReplyFreedMemoryTest, NlohmannLeavesTheTokenInFreedBuffersEvenAfterWiping) {
  const SecretBytes reply = ReplyJson();
  FreedMemoryWatch watch(kTokenNeedle);
  {
    absl::StatusOr<nlohmann::json> j = ParseJson(reply.RevealAsString());
    ASSERT_TRUE(j.ok());
    WipeJsonStrings(*j);
  }
  EXPECT_GE(watch.hits(), 1);
}

TEST(RelayReplyFreedMemoryTest, DecodeReplyFreesNoCopyOfTheCredentials) {
  const SecretBytes reply = ReplyJson();
  for (std::string_view needle : {kTokenNeedle, kKeyNeedle}) {
    FreedMemoryWatch watch(needle);
    {
      absl::StatusOr<GetSecretReply> decoded = DecodeReply(reply.RevealAsString());
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(decoded->credentials.session_token.RevealAsString(), kCanaryToken);
      EXPECT_EQ(decoded->credentials.secret_access_key.RevealAsString(), kCanaryKey);
    }
    EXPECT_EQ(watch.hits(), 0) << "freed heap blocks held " << needle.substr(0, 11);
  }
}

TEST(RelayReplyFreedMemoryTest, RejectedRepliesFreeNoCopyEither) {
  std::string broken(ReplyJson().RevealAsString());
  broken.replace(broken.find("\"token\""), 7, "\"token\":1,\"x\"");  // the token is still there
  const SecretBytes reply = SecretBytes::CopyFrom(broken);
  WipeString(broken);
  FreedMemoryWatch watch(kTokenNeedle);
  EXPECT_FALSE(DecodeReply(reply.RevealAsString()).ok());
  EXPECT_EQ(watch.hits(), 0);
}

}  // namespace
}  // namespace lockout::relay
