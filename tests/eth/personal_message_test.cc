#include "src/eth/personal_message.h"

#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::eth {
namespace {

// ethers.js documentation, hashMessage("Hello World").
TEST(PersonalMessageTest, HelloWorld) {
  EXPECT_EQ(HexEncode(PersonalMessageHash(AsBytes("Hello World"))),
            "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2");
}

TEST(PersonalMessageTest, PrefixCarriesTheDecimalByteLength) {
  const std::string message(123, 'x');
  const std::string prefixed =
      "\x19"
      "Ethereum Signed Message:\n123" +
      message;
  EXPECT_EQ(PersonalMessageHash(AsBytes(message)), crypto::Keccak256(AsBytes(prefixed)));
  EXPECT_EQ(PersonalMessageHash({}), crypto::Keccak256(AsBytes("\x19"
                                                               "Ethereum Signed Message:\n0")));
}

}  // namespace
}  // namespace lockout::eth
