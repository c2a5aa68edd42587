#include "src/signer/ecdsa_signature.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"

namespace lockout::signer {
namespace {

Bytes Hex(std::string_view hex) { return *HexDecode(hex); }

// OpenSSL's own DER encoding of r‖s, for comparison.
Bytes OpenSslDer(ByteView raw) {
  const size_t w = raw.size() / 2;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(w), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + w, static_cast<int>(w), nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

TEST(EcdsaSignatureTest, RawToDerMatchesOpenSslAndRoundTripsForEveryWidth) {
  for (size_t width : {32u, 48u, 66u}) {
    for (int round = 0; round < 200; ++round) {
      Bytes raw = crypto::RandomBytes(2 * width);
      // Exercise leading zeros and set top bits (the 0x00 sign byte) on both halves.
      if (round % 4 == 1) raw[0] = 0, raw[1] = 0, raw[width] = 0;
      if (round % 4 == 2) raw[0] |= 0x80, raw[width] |= 0x80;
      if (round % 4 == 3) raw[0] = 0, raw[1] = 0x80, raw[width] = 0x7f;
      std::array<uint8_t, kMaxEcdsaDerSize> der{};
      absl::StatusOr<size_t> n = EcdsaRawToDer(raw, absl::MakeSpan(der));
      ASSERT_TRUE(n.ok()) << n.status();
      EXPECT_EQ(Bytes(der.begin(), der.begin() + static_cast<std::ptrdiff_t>(*n)), OpenSslDer(raw))
          << "width " << width;
      std::array<uint8_t, 2 * kMaxEcdsaScalarSize> back{};
      absl::StatusOr<size_t> m =
          EcdsaDerToRaw(ByteView(der.data(), *n), width, absl::MakeSpan(back));
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_EQ(Bytes(back.begin(), back.begin() + static_cast<std::ptrdiff_t>(*m)), raw);
    }
  }
}

TEST(EcdsaSignatureTest, RawToDerRefusesBadLengthsZeroAndSmallBuffers) {
  std::array<uint8_t, kMaxEcdsaDerSize> der{};
  EXPECT_FALSE(EcdsaRawToDer(Bytes(), absl::MakeSpan(der)).ok());
  EXPECT_FALSE(EcdsaRawToDer(Bytes(63, 1), absl::MakeSpan(der)).ok());
  EXPECT_FALSE(EcdsaRawToDer(Bytes(134, 1), absl::MakeSpan(der)).ok());
  Bytes zero_s(64, 1);
  std::fill(zero_s.begin() + 32, zero_s.end(), 0);
  EXPECT_FALSE(EcdsaRawToDer(zero_s, absl::MakeSpan(der)).ok());
  std::array<uint8_t, 8> tiny{};
  EXPECT_FALSE(EcdsaRawToDer(Bytes(64, 0xff), absl::MakeSpan(tiny)).ok());
}

TEST(EcdsaSignatureTest, DerToRawRefusesNonDerAndTruncations) {
  std::array<uint8_t, 2 * kMaxEcdsaScalarSize> raw{};
  const Bytes good = Hex("3006020101020102");
  ASSERT_TRUE(EcdsaDerToRaw(good, 32, absl::MakeSpan(raw)).ok());
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(EcdsaDerToRaw(ByteView(good.data(), len), 32, absl::MakeSpan(raw)).ok()) << len;
  }
  for (std::string_view bad : {
           "3106020101020102",      // not a SEQUENCE
           "300702010102010200",    // a trailing byte inside the SEQUENCE
           "300602010102010200",    // a trailing byte after it
           "30810602010102010200",  // long-form length for a short length
           "3082000602010102010200",
           "300703010102020001",    // r not an INTEGER
           "30070202000102010102",  // r not minimal (00 01)
           "3006020181020101",      // r negative
           "3006020100020101",      // r zero
           "3006020101020100",      // s zero
           "300602000201010201",    // empty INTEGER
           "30060201010202",        // s truncated
       }) {
    EXPECT_FALSE(EcdsaDerToRaw(Hex(bad), 32, absl::MakeSpan(raw)).ok()) << bad;
  }
  // r of 33 significant bytes does not fit a 32-byte width.
  const Bytes wide = Hex(absl::StrCat("30260221", std::string(66, '1'), "020101"));
  EXPECT_FALSE(EcdsaDerToRaw(wide, 32, absl::MakeSpan(raw)).ok());
  EXPECT_TRUE(EcdsaDerToRaw(wide, 48, absl::MakeSpan(raw)).ok());
  // Output too small, width out of range.
  std::array<uint8_t, 63> small{};
  EXPECT_FALSE(EcdsaDerToRaw(good, 32, absl::MakeSpan(small)).ok());
  EXPECT_FALSE(EcdsaDerToRaw(good, 0, absl::MakeSpan(raw)).ok());
  EXPECT_FALSE(EcdsaDerToRaw(good, 67, absl::MakeSpan(raw)).ok());
}

TEST(EcdsaSignatureTest, NormalizeLowSMapsHighSToOrderMinusS) {
  // P-256's order n and floor(n/2).
  const Bytes n = Hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  const Bytes half = Hex("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8");
  Bytes s = half;
  EXPECT_TRUE(IsLowS(s, half));
  EXPECT_FALSE(NormalizeLowS(absl::MakeSpan(s), n, half));
  EXPECT_EQ(s, half);

  Bytes high = half;
  high.back() += 1;  // n/2 + 1 (odd n): n − s = n/2
  EXPECT_FALSE(IsLowS(high, half));
  EXPECT_TRUE(NormalizeLowS(absl::MakeSpan(high), n, half));
  EXPECT_EQ(high, half);

  Bytes top = n;
  top.back() -= 1;  // n − 1 → 1
  EXPECT_TRUE(NormalizeLowS(absl::MakeSpan(top), n, half));
  Bytes one(32, 0);
  one.back() = 1;
  EXPECT_EQ(top, one);
  EXPECT_FALSE(NormalizeLowS(absl::MakeSpan(one), n, half));  // already low
  // Mismatched widths change nothing.
  Bytes short_s(31, 0xff);
  EXPECT_FALSE(NormalizeLowS(absl::MakeSpan(short_s), n, half));
  EXPECT_EQ(short_s, Bytes(31, 0xff));
}

}  // namespace
}  // namespace lockout::signer
