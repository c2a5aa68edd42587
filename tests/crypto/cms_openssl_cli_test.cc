// Interoperability of our KMS envelopes with the `openssl cms` command, both ways.
// Keys travel between the processes as files in a private temporary directory, never on a
// command line.

#include <openssl/pem.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "src/common/file.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/hash.h"
#include "src/crypto/rsa_key.h"
#include "tests/testing/vectors.h"

namespace lockout::crypto {
namespace {

class OpenSslCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    openssl_ = LOCKOUT_OPENSSL_EXECUTABLE;
    if (openssl_.empty() || !std::filesystem::exists(openssl_)) {
      GTEST_SKIP() << "openssl command not found at configure time";
    }
    std::string tmpl = std::filesystem::temp_directory_path() / "lockout-cms-cli-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs `openssl <args>`; on failure reports openssl's stderr.
  bool RunOpenSsl(const std::string& args) {
    std::string cmd = openssl_ + " " + args + " 2>" + Path("stderr.txt");
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
      absl::StatusOr<std::string> err = ReadFileString(Path("stderr.txt"));
      ADD_FAILURE() << "`openssl " << args << "` exited with " << rc << ": "
                    << (err.ok() ? *err : std::string("(no stderr)"));
      return false;
    }
    return true;
  }

  void WritePrivateKeyPem(const EVP_PKEY* key, const std::string& path) {
    BioPtr bio(BIO_new_file(path.c_str(), "w"));
    ASSERT_NE(bio, nullptr);
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  }

  std::string openssl_;
  std::string dir_;
};

SecretBytes BinaryPlaintext(size_t n) {
  SecretBytes s(n);
  Bytes r = RandomBytes(n);
  absl::Span<uint8_t> b = s.RevealMutable();
  std::copy(r.begin(), r.end(), b.begin());
  WipeBytes(r);
  return s;
}

TEST_F(OpenSslCliTest, OpenSslCmsDecryptRecoversWhatWeBuild) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateRsa2048Key();
  ASSERT_TRUE(key.ok());
  WritePrivateKeyPem(key->get(), Path("key.pem"));
  // Build for the public key only, as the KMS emulator will (from the attestation document).
  absl::StatusOr<Bytes> spki = PublicKeyToSpkiDer(key->get());
  ASSERT_TRUE(spki.ok());
  absl::StatusOr<EvpPkeyPtr> pub = RsaPublicKeyFromSpkiDer(*spki);
  ASSERT_TRUE(pub.ok());
  for (size_t n : {size_t{1}, size_t{32}, size_t{1000}, size_t{4096}}) {
    SecretBytes plaintext = BinaryPlaintext(n);
    absl::StatusOr<Bytes> der = BuildKmsEnvelope(pub->get(), plaintext.Reveal());
    ASSERT_TRUE(der.ok()) << der.status();
    ASSERT_TRUE(WriteFileAtomic(Path("env.der"), *der).ok());
    // No -recip: openssl tries the key against the (single) recipient, as a KMS client would.
    ASSERT_TRUE(RunOpenSsl("cms -decrypt -binary -inform DER -in " + Path("env.der") + " -inkey " +
                           Path("key.pem") + " -out " + Path("out.bin")));
    absl::StatusOr<Bytes> out = ReadFile(Path("out.bin"));
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(ConstantTimeEquals(*out, plaintext.Reveal())) << n << " bytes";
    WipeBytes(*out);
  }
}

TEST_F(OpenSslCliTest, WeDecryptWhatOpenSslCmsEncryptBuildsWithOaepSha256) {
  ASSERT_TRUE(RunOpenSsl("req -x509 -newkey rsa:2048 -nodes -subj /CN=lockout-cms-test -days 1" +
                         std::string(" -keyout ") + Path("key.pem") + " -out " + Path("cert.pem")));
  SecretBytes plaintext = BinaryPlaintext(777);
  ASSERT_TRUE(WriteFileAtomic(Path("plain.bin"), plaintext.Reveal()).ok());
  // -keyid: identify the recipient by subjectKeyIdentifier, as KMS does.
  ASSERT_TRUE(RunOpenSsl("cms -encrypt -binary -aes256 -keyid -recip " + Path("cert.pem") +
                         " -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256"
                         " -keyopt rsa_mgf1_md:sha256 -in " +
                         Path("plain.bin") + " -outform DER -out " + Path("env.der")));
  absl::StatusOr<Bytes> der = ReadFile(Path("env.der"));
  ASSERT_TRUE(der.ok());

  absl::StatusOr<KmsEnvelope> env = ParseKmsEnvelope(*der);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->encrypted_key.size(), 256u);
  EXPECT_EQ(env->iv.size(), 16u);

  BioPtr bio(BIO_new_file(Path("key.pem").c_str(), "r"));
  ASSERT_NE(bio, nullptr);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(key, nullptr);
  absl::StatusOr<SecretBytes> decrypted = DecryptKmsEnvelope(key.get(), *der);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_TRUE(decrypted->Equals(plaintext));

  // The same envelope encrypted with PKCS#1 v1.5 (openssl's default) is not KMS-shaped.
  ASSERT_TRUE(RunOpenSsl("cms -encrypt -binary -aes256 -keyid -recip " + Path("cert.pem") +
                         " -in " + Path("plain.bin") + " -outform DER -out " + Path("v15.der")));
  absl::StatusOr<Bytes> v15 = ReadFile(Path("v15.der"));
  ASSERT_TRUE(v15.ok());
  EXPECT_EQ(DecryptKmsEnvelope(key.get(), *v15).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lockout::crypto
