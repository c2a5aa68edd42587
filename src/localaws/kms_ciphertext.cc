#include "src/localaws/kms_ciphertext.h"

#include <openssl/evp.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"
#include "src/crypto/openssl_util.h"

namespace lockout::localaws {
namespace {

constexpr std::string_view kAadLabel = "lockout-kms-blob";

void AppendU32(Bytes& out, size_t n) {
  const auto v = static_cast<uint32_t>(n);
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

Bytes Aad(std::string_view key_id, const EncryptionContext& context) {
  Bytes aad(kAadLabel.begin(), kAadLabel.end());
  aad.push_back(kKmsBlobVersion);
  aad.insert(aad.end(), key_id.begin(), key_id.end());
  Bytes ctx = CanonicalEncryptionContext(context);
  aad.insert(aad.end(), ctx.begin(), ctx.end());
  return aad;
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int IntSize(size_t n) { return static_cast<int>(n); }

}  // namespace

bool IsKmsKeyId(std::string_view s) {
  if (s.size() != kKmsKeyIdSize) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

std::string NewKmsKeyId() {
  Bytes r = crypto::RandomBytes(16);
  r[6] = static_cast<uint8_t>((r[6] & 0x0f) | 0x40);  // version 4 (RFC 9562 §5.4)
  r[8] = static_cast<uint8_t>((r[8] & 0x3f) | 0x80);  // variant 10
  std::string hex = HexEncode(r);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

Bytes CanonicalEncryptionContext(const EncryptionContext& context) {
  Bytes out;
  for (const auto& [k, v] : context) {  // std::map: byte order of the keys
    AppendU32(out, k.size());
    out.insert(out.end(), k.begin(), k.end());
    AppendU32(out, v.size());
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

absl::StatusOr<KmsBlobParts> ParseKmsBlob(ByteView blob) {
  if (blob.size() <= kKmsBlobOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext blob of ", blob.size(), " bytes is too short"));
  }
  if (blob.size() > kMaxKmsCiphertextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext blob of ", blob.size(), " bytes is too long"));
  }
  if (blob[0] != kKmsBlobVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext blob version ", static_cast<int>(blob[0]), " is not supported"));
  }
  KmsBlobParts parts;
  parts.key_id = ToString(blob.subspan(1, kKmsKeyIdSize));
  if (!IsKmsKeyId(parts.key_id)) {
    return absl::InvalidArgumentError("ciphertext blob does not carry a valid key id");
  }
  size_t offset = 1 + kKmsKeyIdSize;
  parts.nonce = blob.subspan(offset, kKmsNonceSize);
  offset += kKmsNonceSize;
  size_t ct_size = blob.size() - offset - kKmsTagSize;
  parts.ciphertext = blob.subspan(offset, ct_size);
  parts.tag = blob.subspan(offset + ct_size, kKmsTagSize);
  return parts;
}

absl::StatusOr<Bytes> SealKmsBlob(const SecretBytes& material, std::string_view key_id,
                                  ByteView plaintext, const EncryptionContext& context) {
  if (material.size() != kKmsKeyMaterialSize) {
    return absl::InvalidArgumentError("key material must be 32 bytes");
  }
  if (!IsKmsKeyId(key_id)) return absl::InvalidArgumentError("key id is not a UUID");
  if (plaintext.empty() || plaintext.size() > kMaxKmsPlaintextSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("plaintext of ", plaintext.size(), " bytes is outside 1..4096"));
  }
  Bytes nonce = crypto::RandomBytes(kKmsNonceSize);
  Bytes aad = Aad(key_id, context);
  if (aad.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("encryption context is too large");
  }

  Bytes blob;
  blob.reserve(kKmsBlobOverhead + plaintext.size());
  blob.push_back(kKmsBlobVersion);
  blob.insert(blob.end(), key_id.begin(), key_id.end());
  blob.insert(blob.end(), nonce.begin(), nonce.end());
  const size_t ct_offset = blob.size();
  blob.resize(ct_offset + plaintext.size() + kKmsTagSize);

  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, IntSize(kKmsNonceSize), nullptr) !=
          1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, material.Reveal().data(), nonce.data()) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), IntSize(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), blob.data() + ct_offset, &len, plaintext.data(),
                        IntSize(plaintext.size())) != 1 ||
      static_cast<size_t>(len) != plaintext.size() ||
      EVP_EncryptFinal_ex(ctx.get(), blob.data() + ct_offset + len, &final_len) != 1 ||
      final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, IntSize(kKmsTagSize),
                          blob.data() + ct_offset + plaintext.size()) != 1) {
    return crypto::OpenSslError("AES-256-GCM encryption");
  }
  return blob;
}

absl::StatusOr<SecretBytes> OpenKmsBlob(const SecretBytes& material, const KmsBlobParts& parts,
                                        const EncryptionContext& context) {
  if (material.size() != kKmsKeyMaterialSize) {
    return absl::InvalidArgumentError("key material must be 32 bytes");
  }
  if (parts.nonce.size() != kKmsNonceSize || parts.tag.size() != kKmsTagSize ||
      parts.ciphertext.empty() || parts.ciphertext.size() > kMaxKmsCiphertextSize) {
    return absl::InvalidArgumentError("ciphertext blob parts have the wrong sizes");
  }
  Bytes aad = Aad(parts.key_id, context);
  if (aad.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("encryption context is too large");
  }
  SecretBytes plaintext(parts.ciphertext.size());
  Bytes tag(parts.tag.begin(), parts.tag.end());  // EVP wants a mutable pointer
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, IntSize(kKmsNonceSize), nullptr) !=
          1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, material.Reveal().data(),
                         parts.nonce.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), IntSize(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plaintext.RevealMutable().data(), &len, parts.ciphertext.data(),
                        IntSize(parts.ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, IntSize(kKmsTagSize), tag.data()) != 1) {
    return crypto::OpenSslError("AES-256-GCM decryption");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), plaintext.RevealMutable().data() + len, &final_len) != 1) {
    ERR_clear_error();
    plaintext.Clear();  // GCM released unauthenticated plaintext into the buffer: wipe it
    return absl::PermissionDeniedError("ciphertext blob does not authenticate");
  }
  return plaintext;
}

}  // namespace lockout::localaws
