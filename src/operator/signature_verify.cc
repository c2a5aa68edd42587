#include "src/operator/signature_verify.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include "src/crypto/openssl_util.h"

namespace lockout::ops {
namespace {

absl::StatusOr<crypto::EvpPkeyPtr> ReadPublicKey(std::string_view pem) {
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return crypto::OpenSslError("BIO_new_mem_buf");
  crypto::EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the public key is not a PEM SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----)");
  }
  return key;
}

absl::StatusOr<std::string> TypeOf(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) return std::string("ed25519");
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      return crypto::OpenSslError("reading the EC group", absl::StatusCode::kInvalidArgument);
    }
    const std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") return std::string("p256");
    if (name == "secp384r1" || name == "P-384") return std::string("p384");
    if (name == "secp521r1" || name == "P-521") return std::string("p521");
    if (name == "secp256k1") return std::string("secp256k1");
  }
  return absl::InvalidArgumentError(
      "unsupported public key type (want p256, p384, p521, secp256k1 or ed25519)");
}

}  // namespace

absl::StatusOr<std::string> PublicKeyType(std::string_view public_key_pem) {
  absl::StatusOr<crypto::EvpPkeyPtr> key = ReadPublicKey(public_key_pem);
  if (!key.ok()) return key.status();
  return TypeOf(key->get());
}

absl::Status VerifySignature(std::string_view public_key_pem, ByteView message,
                             ByteView signature) {
  absl::StatusOr<crypto::EvpPkeyPtr> key = ReadPublicKey(public_key_pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> type = TypeOf(key->get());
  if (!type.ok()) return type.status();
  const bool ed25519 = *type == "ed25519";
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, ed25519 ? nullptr : EVP_sha256(),
                                             nullptr, key->get()) != 1) {
    return crypto::OpenSslError("EVP_DigestVerifyInit");
  }
  const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                  message.size());
  ERR_clear_error();
  if (rc != 1) {
    return absl::UnauthenticatedError(
        ed25519 ? "signature does not verify (Ed25519 over the message)"
                : "signature does not verify (ECDSA with SHA-256 over the message, DER)");
  }
  return absl::OkStatus();
}

}  // namespace lockout::ops
