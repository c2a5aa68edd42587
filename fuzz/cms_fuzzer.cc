// libFuzzer target: KMS CMS envelopes (src/crypto/cms_envelope.h) on arbitrary bytes.
//
// Every input goes through ParseKmsEnvelope and DecryptKmsEnvelope. The RSA key is the fixed
// throwaway test key tests/testdata/cms/fuzz-rsa2048-key.pem (it protects nothing), so the
// committed seeds in fuzz/corpus/cms_fuzzer/ (built for it with `openssl cms -encrypt`) unwrap
// and mutations reach the AES-CBC decryption and padding checks. If that file cannot be found
// the target generates a key once; seeds then stop at the RSA-OAEP unwrap.
//
// Invariants checked beyond "no crash, no leak, no UB":
// - DecryptKmsEnvelope never succeeds on bytes ParseKmsEnvelope rejects;
// - a successful decryption yields fewer plaintext bytes than the ciphertext holds.

#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/crypto/cms_envelope.h"
#include "src/crypto/rsa_key.h"

namespace {

EVP_PKEY* LoadOrGenerateKey() {
  std::string path = __FILE__;
  path = path.substr(0, path.rfind('/') + 1) + "../tests/testdata/cms/fuzz-rsa2048-key.pem";
  lockout::crypto::BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio != nullptr) {
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (key != nullptr) return key;
  }
  ERR_clear_error();
  absl::StatusOr<lockout::crypto::EvpPkeyPtr> key = lockout::crypto::GenerateRsa2048Key();
  if (!key.ok()) __builtin_trap();
  return key->release();
}

const EVP_PKEY* FuzzKey() {
  static EVP_PKEY* const key = LoadOrGenerateKey();  // lives for the whole process
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lockout::ByteView input(data, size);
  absl::StatusOr<lockout::crypto::KmsEnvelope> envelope = lockout::crypto::ParseKmsEnvelope(input);
  absl::StatusOr<lockout::SecretBytes> plaintext =
      lockout::crypto::DecryptKmsEnvelope(FuzzKey(), input);
  if (plaintext.ok()) {
    if (!envelope.ok()) __builtin_trap();
    if (plaintext->size() >= envelope->ciphertext.size()) __builtin_trap();
  }
  return 0;
}
