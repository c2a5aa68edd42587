#include "src/operator/key_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"
#include "src/operator/create_key.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::ops {
namespace {

using signer::KeyType;

// Private key 1 on secp256k1 (public key G); its address is well known.
constexpr char kAddressOfKey1[] = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
constexpr char kHexKey1[] = "0000000000000000000000000000000000000000000000000000000000000001";
// The same key as SEC 1 (`openssl ec` / TraditionalOpenSSL) and as PKCS#8 PEM.
constexpr char kSec1Key1[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHQCAQEEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABoAcGBSuBBAAK\n"
    "oUQDQgAEeb5mfvncu6xVoGKVzocLBwKb/NstzijZWfKBWxb4F5hIOtp3JqPEZV2k\n"
    "+/wOEQio/Re0SKaFVBmcR9CP+xDUuA==\n"
    "-----END EC PRIVATE KEY-----\n";
constexpr char kPkcs8Key1[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgAAAAAAAAAAAAAAAAAAAA\n"
    "AAAAAAAAAAAAAAAAAAAAAAGhRANCAAR5vmZ++dy7rFWgYpXOhwsHApv82y3OKNlZ\n"
    "8oFbFvgXmEg62ncmo8RlXaT7/A4RCKj9F7RIpoVUGZxH0I/7ENS4\n"
    "-----END PRIVATE KEY-----\n";
// Private key 1 on P-384, SEC 1.
constexpr char kSec1P384Key1[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIGkAgEBBDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "AAAAAAAAAAGgBwYFK4EEACKhZANiAASqh8oivosFN46xxx7zIK10bh07Younm5hZ\n"
    "90HgglQqOFUC8l2/VSlsOlReOHJ2Crc2F95KliYsb12emL+Sktwp+PQdvSiaFHzp\n"
    "2jETtfC4wApgsc4dfoGdekMdfJDqDl8=\n"
    "-----END EC PRIVATE KEY-----\n";

std::string AddressOf(const signer::Signer& key) {
  absl::StatusOr<std::string> address = AddressOfSecp256k1Key(key.public_key_raw());
  return address.ok() ? *address : std::string(address.status().message());
}

absl::StatusOr<ImportedKey> Import(std::string_view text,
                                   std::optional<KeyType> type = std::nullopt) {
  return ParseImportedKey(SecretBytes::CopyFrom(text), type, type);
}

TEST(KeyImportTest, ImportsARawHexSecp256k1KeyWithOrWithoutThePrefix) {
  for (const std::string& text :
       {std::string(kHexKey1), absl::StrCat("0x", kHexKey1, "\n"), absl::StrCat("  ", kHexKey1)}) {
    absl::StatusOr<ImportedKey> key = Import(text);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->format, "raw hex");
    EXPECT_EQ(key->key->key_type(), KeyType::kSecp256k1);
    EXPECT_EQ(AddressOf(*key->key), kAddressOfKey1);
  }
}

TEST(KeyImportTest, ImportsSec1AndPkcs8PemOfTheSameKeyToTheSameKey) {
  absl::StatusOr<ImportedKey> sec1 = Import(kSec1Key1);
  ASSERT_TRUE(sec1.ok()) << sec1.status();
  EXPECT_EQ(sec1->format, "SEC1 PEM");
  EXPECT_EQ(AddressOf(*sec1->key), kAddressOfKey1);
  absl::StatusOr<ImportedKey> pkcs8 = Import(kPkcs8Key1);
  ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
  EXPECT_EQ(pkcs8->format, "PKCS#8 PEM");
  EXPECT_EQ(pkcs8->key->public_key_der(), sec1->key->public_key_der());
  // `openssl ecparam -genkey` puts the curve's parameters first.
  absl::StatusOr<ImportedKey> with_params = Import(absl::StrCat(
      "-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n", kSec1Key1));
  ASSERT_TRUE(with_params.ok()) << with_params.status();
  EXPECT_EQ(AddressOf(*with_params->key), kAddressOfKey1);
}

TEST(KeyImportTest, TakesTheCurveOfASec1KeyFromItsParameters) {
  absl::StatusOr<ImportedKey> key = Import(kSec1P384Key1);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->key->key_type(), KeyType::kP384);
  absl::StatusOr<ImportedKey> wrong = Import(kSec1P384Key1, KeyType::kP256);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("the EC PRIVATE KEY is p384, not p256"),
            std::string::npos)
      << wrong.status();
}

TEST(KeyImportTest, ImportsDerPkcs8OfEveryTypeAndKeepsTheKey) {
  for (KeyType type : {KeyType::kP256, KeyType::kP384, KeyType::kP521, KeyType::kSecp256k1,
                       KeyType::kEd25519}) {
    auto original = signer::Signer::Generate(type);
    ASSERT_TRUE(original.ok());
    auto der = (*original)->ExportPkcs8();
    ASSERT_TRUE(der.ok());
    absl::StatusOr<ImportedKey> key = ParseImportedKey(*der, std::nullopt, std::nullopt);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->format, "PKCS#8 DER");
    EXPECT_EQ(key->key->key_type(), type);
    EXPECT_EQ(key->key->public_key_der(), (*original)->public_key_der());
  }
}

TEST(KeyImportTest, ARawKeyMayBeP256OrEd25519WhenTheTypeSaysSo) {
  absl::StatusOr<ImportedKey> p256 = Import(kHexKey1, KeyType::kP256);
  ASSERT_TRUE(p256.ok()) << p256.status();
  EXPECT_EQ(p256->key->key_type(), KeyType::kP256);
  // RFC 8032 §7.1 test 1: secret key 9d61b1...7f60, public key d75a98...511a.
  absl::StatusOr<ImportedKey> ed = Import(
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", KeyType::kEd25519);
  ASSERT_TRUE(ed.ok()) << ed.status();
  EXPECT_EQ(HexEncode(ed->key->public_key_raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  absl::StatusOr<ImportedKey> p521 = Import(kHexKey1, KeyType::kP521);
  ASSERT_FALSE(p521.ok());
  EXPECT_NE(p521.status().message().find("secp256k1 (default), p256 or ed25519, not p521"),
            std::string::npos);
}

struct Refusal {
  std::string name;
  std::string input;
  std::string error;
};

class KeyImportRefusalTest : public testing::TestWithParam<Refusal> {};

TEST_P(KeyImportRefusalTest, SaysWhatItSawAndNeverQuotesTheKey) {
  absl::StatusOr<ImportedKey> key = Import(GetParam().input);
  ASSERT_FALSE(key.ok()) << GetParam().name << " was accepted";
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(key.status().message());
  EXPECT_NE(message.find(GetParam().error), std::string::npos) << message;
  EXPECT_EQ(message.rfind("--import: ", 0), 0u) << message;
  EXPECT_EQ(message.find("MHQCAQEE"), std::string::npos);
  EXPECT_EQ(message.find("00000001"), std::string::npos);
  EXPECT_EQ(message.find("abcdef"), std::string::npos);
}

std::vector<Refusal> Refusals() {
  return {
      {"Empty", "", "the input is empty"},
      {"Whitespace", " \n\t", "only whitespace"},
      {"ShortHex", std::string(62, 'a'), "a raw key is 64 hex digits (32 bytes); saw 62"},
      {"LongHex", std::string(66, 'b'), "saw 66 hex digits"},
      {"ZeroKey", std::string(64, '0'), "raw secp256k1 key"},
      {"KeyAboveOrder", std::string(64, 'f'), "raw secp256k1 key"},
      {"Text", "hello, this is not a key abcdef", "saw 31 bytes of text that is neither PEM nor hex"},
      {"Binary", std::string("\x01\x02\xff\x00", 4), "4 bytes of binary data that is not DER"},
      {"DerGarbage", std::string("\x30\x03\x02\x01\x00", 5), "PKCS#8 DER: "},
      {"RsaPem", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
       "a PEM \"RSA PRIVATE KEY\" block is not a private key lockout imports"},
      {"PublicKeyPem", "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
       "a PEM \"PUBLIC KEY\" block"},
      {"EncryptedPkcs8",
       "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
       "an encrypted PKCS#8 key (ENCRYPTED PRIVATE KEY)"},
      {"EncryptedSec1",
       "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
       "MHQCAQEE\n-----END EC PRIVATE KEY-----\n",
       "an encrypted EC PRIVATE KEY"},
      {"TruncatedSec1",
       "-----BEGIN EC PRIVATE KEY-----\nMHQCAQEEIAAAAAAAAAAAAAAAAAAAAAAA\n"
       "-----END EC PRIVATE KEY-----\n",
       "an EC PRIVATE KEY (SEC1) that does not decode"},
      {"BrokenPkcs8Pem", "-----BEGIN PRIVATE KEY-----\nMIGEAgEA\n-----END PRIVATE KEY-----\n",
       "PKCS#8 PEM: "},
      {"UnterminatedBegin", "-----BEGIN PRIVATE KEY", "a PEM BEGIN line without its end"},
      {"ParamsWithoutKey", "-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n",
       "EC PARAMETERS without an EC PRIVATE KEY block"},
      {"OddLabel", "-----BEGIN <script>-----\n", "(unreadable label)"},
  };
}

INSTANTIATE_TEST_SUITE_P(All, KeyImportRefusalTest, testing::ValuesIn(Refusals()),
                         [](const testing::TestParamInfo<Refusal>& param) {
                           return param.param.name;
                         });

TEST(KeyImportTest, RefusesAKeyGivenAsTheArgumentItself) {
  for (const std::string& value :
       {std::string(kHexKey1), absl::StrCat("0x", kHexKey1), std::string(kSec1Key1),
        std::string("-----BEGIN PRIVATE KEY-----")}) {
    const absl::Status status = CheckImportArgument(value);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << value;
    EXPECT_NE(status.message().find("not the key itself"), std::string::npos);
    EXPECT_EQ(status.message().find("00000001"), std::string::npos);
  }
  EXPECT_TRUE(CheckImportArgument("key.hex").ok());
  EXPECT_TRUE(CheckImportArgument("-").ok());
  EXPECT_TRUE(CheckImportArgument("/secure/wallet/0xabc.pem").ok());
  EXPECT_FALSE(CheckImportArgument("").ok());
}

class KeyInputTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "key_import.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(KeyInputTest, ReadsAFileIntoSecretBytes) {
  const std::string path = dir_ + "/key.hex";
  ASSERT_TRUE(WriteFileAtomic(path, ToBytes(absl::StrCat(kHexKey1, "\n")), 0600).ok());
  absl::StatusOr<SecretBytes> input = ReadPrivateKeyInput(path);
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_EQ(input->size(), 65u);
  EXPECT_EQ(input->DebugString().find("0000"), std::string::npos);
  absl::StatusOr<ImportedKey> key = ParseImportedKey(*input, std::nullopt, std::nullopt);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(AddressOf(*key->key), kAddressOfKey1);
}

TEST_F(KeyInputTest, MissingEmptyAndOversizedFilesAreRefused) {
  EXPECT_EQ(ReadPrivateKeyInput(dir_ + "/absent").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/empty", Bytes{}, 0600).ok());
  absl::StatusOr<SecretBytes> empty = ReadPrivateKeyInput(dir_ + "/empty");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("is empty"), std::string::npos);
  ASSERT_TRUE(
      WriteFileAtomic(dir_ + "/big", Bytes(signer::kMaxPrivateKeySize + 1, 'a'), 0600).ok());
  absl::StatusOr<SecretBytes> big = ReadPrivateKeyInput(dir_ + "/big");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("exceeds"), std::string::npos);
}

TEST_F(KeyInputTest, ReadsStdinForDash) {
  const std::string path = dir_ + "/stdin.pem";
  ASSERT_TRUE(WriteFileAtomic(path, ToBytes(kSec1Key1), 0600).ok());
  const int saved = dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  absl::StatusOr<SecretBytes> input = ReadPrivateKeyInput("-");
  dup2(saved, STDIN_FILENO);
  close(saved);
  ASSERT_TRUE(input.ok()) << input.status();
  absl::StatusOr<ImportedKey> key = ParseImportedKey(*input, std::nullopt, std::nullopt);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(AddressOf(*key->key), kAddressOfKey1);
}

TEST(KeyImportTest, TheImportedKeysPinMatchesItAndItsAddress) {
  absl::StatusOr<ImportedKey> key = Import(kHexKey1);
  ASSERT_TRUE(key.ok());
  absl::StatusOr<signpolicy::KeyPin> pin =
      signpolicy::PinOfKey(*key->key, signpolicy::KeyPinKind::kEthAddress);
  ASSERT_TRUE(pin.ok());
  EXPECT_EQ(signpolicy::KeyPinJson(*pin),
            R"({"eth_address":"0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"})");
  EXPECT_TRUE(signpolicy::CheckKeyPin(*pin, *key->key).ok());
}

}  // namespace
}  // namespace lockout::ops
