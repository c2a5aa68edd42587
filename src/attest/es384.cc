#include "src/attest/es384.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include <cstring>

#include "src/crypto/openssl_util.h"

namespace lockout::attest {
namespace {

constexpr size_t kScalarSize = 48;

}  // namespace

bool IsP384Key(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) {
    ERR_clear_error();
    return false;
  }
  return std::strcmp(group, "secp384r1") == 0;
}

absl::StatusOr<Bytes> Es384Sign(EVP_PKEY* key, ByteView message) {
  if (!IsP384Key(key)) return absl::InvalidArgumentError("ES384 needs an EC P-384 key");
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key) != 1) {
    return crypto::OpenSslError("EVP_DigestSignInit");
  }
  size_t der_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, message.data(), message.size()) != 1) {
    return crypto::OpenSslError("EVP_DigestSign");
  }
  Bytes der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, message.data(), message.size()) != 1) {
    return crypto::OpenSslError("EVP_DigestSign");
  }
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));  // NOLINT
  if (sig == nullptr) return crypto::OpenSslError("d2i_ECDSA_SIG");
  Bytes raw(2 * kScalarSize);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), kScalarSize) != kScalarSize ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + kScalarSize, kScalarSize) !=
          kScalarSize) {
    return crypto::OpenSslError("BN_bn2binpad");
  }
  return raw;
}

bool Es384Verify(EVP_PKEY* key, ByteView message, ByteView signature) {
  if (signature.size() != 2 * kScalarSize || !IsP384Key(key)) return false;
  crypto::BignumPtr r(BN_bin2bn(signature.data(), kScalarSize, nullptr));
  crypto::BignumPtr s(BN_bin2bn(signature.data() + kScalarSize, kScalarSize, nullptr));
  crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr ||
      ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0 || der == nullptr) {
    ERR_clear_error();
    return false;
  }
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len), message.data(),
                             message.size()) == 1;
  OPENSSL_free(der);
  ERR_clear_error();
  return ok;
}

}  // namespace lockout::attest
