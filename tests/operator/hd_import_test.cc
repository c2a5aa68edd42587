// create-key --import-mnemonic with --mnemonic-passphrase-file: the operator's path from the two
// inputs (files or stdin, read by ReadSecretInput / ReadPrivateKeyInput) to the seed that
// CreateHdKeyFrom stores. The Trezor BIP-39 vectors (passphrase "TREZOR") give the seeds.

#include "src/operator/hd_import.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/encoding.h"
#include "src/hd/bip39.h"
#include "src/operator/key_import.h"
#include "tests/testing/vectors.h"

namespace lockout::ops {
namespace {

constexpr char kAbandon[] =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "about";
constexpr char kLabel[] = "--mnemonic-passphrase-file";

SecretBytes Secret(std::string_view s) { return SecretBytes::CopyFrom(s); }

nlohmann::json TrezorVectors() {
  const Bytes raw =
      testing::ReadTestFile(testing::SourceDir() + "/tests/hd/testdata/bip39_vectors.json");
  return nlohmann::json::parse(raw.begin(), raw.end())["english"];
}

class HdImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/hd-import-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, std::string_view content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  // The seed from a mnemonic file and a passphrase file, as RunCreateHdKey reads them.
  absl::StatusOr<SecretBytes> SeedFromFiles(std::string_view mnemonic,
                                            std::string_view passphrase) {
    absl::StatusOr<SecretBytes> words = ReadPrivateKeyInput(Write("words.txt", mnemonic));
    if (!words.ok()) return words.status();
    absl::StatusOr<SecretBytes> pass =
        ReadSecretInput(Write("pass.txt", passphrase), hd::kMaxPassphraseSize + 2, kLabel);
    if (!pass.ok()) return pass.status();
    return SeedFromMnemonicInput(*words, *pass);
  }
  std::string SeedHex(std::string_view mnemonic, std::string_view passphrase) {
    absl::StatusOr<SecretBytes> seed = SeedFromFiles(mnemonic, passphrase);
    EXPECT_TRUE(seed.ok()) << seed.status();
    return seed.ok() ? HexEncode(seed->Reveal()) : std::string();
  }

  std::string dir_;
};

TEST_F(HdImportTest, TrezorVectorsWithThePassphraseFromAFile) {
  const nlohmann::json vectors = TrezorVectors();
  ASSERT_EQ(vectors.size(), 24u);
  for (const auto& v : vectors) {
    const std::string mnemonic = v[1];
    SCOPED_TRACE(v[0].get<std::string>());
    // As an editor or `echo TREZOR > pass.txt` writes it: one final newline, ignored.
    EXPECT_EQ(SeedHex(mnemonic + "\n", "TREZOR\n"), v[2].get<std::string>());
  }
}

TEST_F(HdImportTest, OneFinalLineEndingIsIgnoredAndNothingElse) {
  const std::string trezor = SeedHex(kAbandon, "TREZOR");
  EXPECT_EQ(trezor,
            "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1"
            "c92f2cf141630c7a3c4ab7c81b2f001698e7463b04");
  EXPECT_EQ(SeedHex(kAbandon, "TREZOR\n"), trezor);
  EXPECT_EQ(SeedHex(kAbandon, "TREZOR\r\n"), trezor);
  // Spaces are part of the passphrase.
  EXPECT_NE(SeedHex(kAbandon, "TREZOR \n"), trezor);
  EXPECT_NE(SeedHex(kAbandon, " TREZOR"), trezor);
  // A second line ending is a control character in the passphrase: refused, not stripped.
  absl::StatusOr<SecretBytes> two = SeedFromFiles(kAbandon, "TREZOR\n\n");
  EXPECT_EQ(two.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SeedFromFiles(kAbandon, "TREZOR\r").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HdImportTest, AnEmptyFileIsTheEmptyPassphrase) {
  // The BIP-39 seed of "abandon x11 about" with an empty passphrase (what every wallet derives
  // m/44'/60'/0'/0/0 = 0x9858EfFD232B4033E47d90003D41EC34EcaEda94 from).
  auto none = hd::MnemonicToSeed(Secret(kAbandon), SecretBytes());
  ASSERT_TRUE(none.ok()) << none.status();
  const std::string empty = HexEncode(none->Reveal());
  EXPECT_EQ(empty.substr(0, 16), "5eb00bbddcf06908");
  EXPECT_EQ(SeedHex(kAbandon, ""), empty);
  EXPECT_EQ(SeedHex(kAbandon, "\n"), empty);
  EXPECT_EQ(SeedHex(kAbandon, "\r\n"), empty);
  auto direct = SeedFromMnemonicInput(Secret(kAbandon), SecretBytes());
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(HexEncode(direct->Reveal()), empty);
}

TEST_F(HdImportTest, RefusesNonAsciiAndTooLongPassphrasesWithoutEchoingThem) {
  // NFKD would map the precomposed U+00C9 to E + U+0301; lockout has no normaliser, so it
  // refuses rather than hash bytes other wallets would not.
  for (std::string_view pass : {std::string_view("TR\xc3\x89ZOR-secret"),
                                std::string_view("TREZOR-secret\tx"), std::string_view("\x7f")}) {
    absl::StatusOr<SecretBytes> seed = SeedFromFiles(kAbandon, pass);
    ASSERT_FALSE(seed.ok());
    EXPECT_EQ(seed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(seed.status().message().find("printable ASCII"), std::string::npos);
    EXPECT_EQ(seed.status().message().find("secret"), std::string::npos);
  }
  const std::string longest(hd::kMaxPassphraseSize, 'a');
  EXPECT_EQ(SeedHex(kAbandon, longest + "\n").size(), 128u);
  absl::StatusOr<SecretBytes> too_long = SeedFromFiles(kAbandon, longest + "a");
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  // The reader stops at its bound: a huge file is refused before it is all in memory.
  absl::StatusOr<SecretBytes> huge = ReadSecretInput(Write("huge.txt", std::string(1 << 20, 'a')),
                                                     hd::kMaxPassphraseSize + 2, kLabel);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(huge.status().message().find("exceeds"), std::string::npos);
}

TEST_F(HdImportTest, AMissingPassphraseFileIsNotNamedInTheError) {
  // Someone who typed the passphrase where FILE goes must not see it echoed back.
  absl::StatusOr<SecretBytes> missing =
      ReadSecretInput(dir_ + "/correct-horse-battery", hd::kMaxPassphraseSize + 2, kLabel);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message().find("correct-horse"), std::string::npos);
  EXPECT_NE(missing.status().message().find(kLabel), std::string::npos);
}

TEST_F(HdImportTest, TheMnemonicIsStillCheckedWithAPassphrase) {
  absl::StatusOr<SecretBytes> bad = SeedFromFiles(
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
      "abandon",
      "TREZOR\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("checksum"), std::string::npos);
}

}  // namespace
}  // namespace lockout::ops
