#include "src/hd/bip39.h"

#include <initializer_list>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/hd/extended_key.h"
#include "tests/testing/vectors.h"

namespace lockout::hd {
namespace {

SecretBytes Secret(std::string_view s) { return SecretBytes::CopyFrom(s); }

SecretBytes SecretHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok());
  return SecretBytes::CopyFrom(ByteView(*bytes));
}

// The 24 English vectors of trezor/python-mnemonic (passphrase "TREZOR"): entropy, mnemonic,
// seed and the seed's BIP-32 root xprv.
nlohmann::json TrezorVectors() {
  const Bytes raw = testing::ReadTestFile(testing::SourceDir() +
                                          "/tests/hd/testdata/bip39_vectors.json");
  return nlohmann::json::parse(raw.begin(), raw.end())["english"];
}

TEST(Bip39, TrezorVectors) {
  const nlohmann::json vectors = TrezorVectors();
  ASSERT_EQ(vectors.size(), 24u);
  const SecretBytes passphrase = Secret("TREZOR");
  for (const auto& v : vectors) {
    const std::string entropy_hex = v[0];
    const std::string mnemonic = v[1];
    const std::string seed_hex = v[2];
    SCOPED_TRACE(entropy_hex);
    auto words = EntropyToMnemonic(SecretHex(entropy_hex));
    ASSERT_TRUE(words.ok()) << words.status();
    EXPECT_EQ(words->RevealAsString(), mnemonic);
    auto entropy = MnemonicToEntropy(Secret(mnemonic));
    ASSERT_TRUE(entropy.ok()) << entropy.status();
    EXPECT_EQ(HexEncode(entropy->Reveal()), entropy_hex);
    auto seed = MnemonicToSeed(Secret(mnemonic), passphrase);
    ASSERT_TRUE(seed.ok()) << seed.status();
    EXPECT_EQ(HexEncode(seed->Reveal()), seed_hex);
    auto root = ExtendedPrivateKey::FromSeed(Curve::kSecp256k1, *seed);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(root->ToXprv()->RevealAsString(), v[3].get<std::string>());
  }
}

TEST(Bip39, EmptyPassphraseDiffersFromTrezor) {
  const SecretBytes m = Secret(
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
      "about");
  auto a = MnemonicToSeed(m, Secret(""));
  auto b = MnemonicToSeed(m, Secret("TREZOR"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->Equals(*b));
  // The widely published seed of this mnemonic with an empty passphrase.
  EXPECT_EQ(HexEncode(a->Reveal()),
            "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086"
            "206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4");
}

TEST(Bip39, RejectsEntropyOfWrongSize) {
  for (size_t n : std::initializer_list<size_t>{0, 12, 15, 17, 33, 36, 64}) {
    EXPECT_FALSE(EntropyToMnemonic(SecretBytes(n)).ok()) << n;
  }
}

TEST(Bip39, RejectsBadChecksum) {
  // "abandon" x12 has a wrong checksum (the valid last word is "about").
  std::string m;
  for (int i = 0; i < 12; ++i) m += i ? " abandon" : "abandon";
  auto st = MnemonicToEntropy(Secret(m));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(std::string(st.status().message()).find("checksum"), std::string::npos);
  EXPECT_FALSE(MnemonicToSeed(Secret(m), Secret("")).ok());
}

TEST(Bip39, RejectsMalformedMnemonics) {
  const std::string good = "legal winner thank year wave sausage worth useful legal winner thank yellow";
  ASSERT_TRUE(MnemonicToEntropy(Secret(good)).ok());
  for (const std::string& bad : {
           std::string(""),
           " " + good,
           good + " ",
           std::string("legal  winner thank year wave sausage worth useful legal winner thank yellow"),
           std::string("Legal winner thank year wave sausage worth useful legal winner thank yellow"),
           std::string("legal winner thank year wave sausage worth useful legal winner thank"),
           std::string("legal winner thank year wave sausage worth useful legal winner thank yellowx"),
           std::string("legal\twinner thank year wave sausage worth useful legal winner thank yellow"),
           good + " " + good,  // 24 words, wrong checksum
           good + " zoo zoo zoo zoo",  // 16 words
           std::string(300, 'a'),
       }) {
    EXPECT_FALSE(MnemonicToEntropy(Secret(bad)).ok()) << bad;
  }
}

TEST(Bip39, ErrorsNameThePositionNotTheWord) {
  auto st = MnemonicToEntropy(
      Secret("legal winner thank year wave sausage worth useful legal winner secretish yellow"));
  ASSERT_FALSE(st.ok());
  const std::string msg(st.status().message());
  EXPECT_NE(msg.find("word 11"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secretish"), std::string::npos);
}

TEST(Bip39, RejectsNonAsciiPassphrase) {
  const SecretBytes m = Secret("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong");
  auto st = MnemonicToSeed(m, Secret("caf\xc3\xa9"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.status().message()).find("ASCII"), std::string::npos);
  EXPECT_FALSE(MnemonicToSeed(m, Secret("tab\there")).ok());
  EXPECT_FALSE(MnemonicToSeed(m, Secret(std::string(kMaxPassphraseSize + 1, 'a'))).ok());
  EXPECT_TRUE(MnemonicToSeed(m, Secret("printable ASCII ~!@#")).ok());
}

TEST(Bip39, RandomEntropyRoundTrips) {
  for (size_t n : std::initializer_list<size_t>{16, 20, 24, 28, 32}) {
    SecretBytes entropy(n);
    for (size_t i = 0; i < n; ++i) entropy.RevealMutable()[i] = static_cast<uint8_t>(i * 37 + n);
    auto words = EntropyToMnemonic(entropy);
    ASSERT_TRUE(words.ok());
    auto back = MnemonicToEntropy(*words);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(back->Equals(entropy));
  }
}

}  // namespace
}  // namespace lockout::hd
