#include "src/crypto/keccak.h"

#include <openssl/evp.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"

namespace lockout::crypto {
namespace {

std::string Hex(const Keccak256Digest& d) { return HexEncode(d); }

TEST(Keccak256Test, EmptyInputGivesTheKnownDigest) {
  EXPECT_EQ(Hex(Keccak256({})), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(Keccak256Test, ShortInputsGiveTheKnownDigests) {
  EXPECT_EQ(Hex(Keccak256(AsBytes("abc"))),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(Hex(Keccak256(AsBytes("The quick brown fox jumps over the lazy dog"))),
            "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
}

TEST(Keccak256Test, IsNotSha3) {
  // SHA3-256("") = a7ffc6f8...: the padding byte differs, so every digest differs.
  EXPECT_NE(Hex(Keccak256({})), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

// With the SHA-3 domain byte the same sponge must equal OpenSSL's SHA3-256 for every length
// around the 136-byte block boundary and beyond: this checks the permutation, the absorption of
// several blocks and the padding position, independently of the Keccak vectors above.
TEST(Keccak256Test, SpongeWithSha3PaddingMatchesOpenSslForManyLengths) {
  Bytes data;
  for (size_t len = 0; len <= 3 * 136 + 2; ++len) {
    uint8_t md[32];
    unsigned int md_len = 0;
    ASSERT_EQ(EVP_Digest(data.data(), data.size(), md, &md_len, EVP_sha3_256(), nullptr), 1);
    ASSERT_EQ(md_len, 32u);
    EXPECT_EQ(Hex(internal::Sponge256(data, 0x06)), HexEncode(ByteView(md, 32))) << len;
    data.push_back(static_cast<uint8_t>(len * 7 + 1));
  }
}

}  // namespace
}  // namespace lockout::crypto
