#include "src/operator/signature_verify.h"

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/crypto/openssl_util.h"
#include "src/signer/ecdsa_signature.h"

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

namespace {

size_t ScalarWidth(signer::KeyType type) {
  switch (type) {
    case signer::KeyType::kP384:
      return 48;
    case signer::KeyType::kP521:
      return 66;
    default:
      return 32;
  }
}

// The EC public key as the uncompressed point 04‖X‖Y, whatever form the PEM carried.
absl::StatusOr<Bytes> UncompressedPoint(EVP_PKEY* key, size_t width) {
  Bytes out = {0x04};
  for (const char* param : {OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y}) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) {
      return crypto::OpenSslError("reading the public point", absl::StatusCode::kInvalidArgument);
    }
    crypto::BignumPtr owned(bn);
    const size_t at = out.size();
    out.resize(at + width);
    if (BN_bn2binpad(bn, out.data() + at, static_cast<int>(width)) < 0) {
      return absl::InvalidArgumentError("public point coordinate too large");
    }
  }
  return out;
}

absl::Status DoesNotVerify(std::string_view type, const signer::ResolvedSignOptions& o,
                           std::string_view why = "") {
  return absl::UnauthenticatedError(absl::StrCat(
      "signature does not verify (", Absl(type), ": ECDSA with ",
      Absl(signer::HashAlgorithmName(o.hash)), " over the message, ",
      Absl(signer::SignatureFormatName(o.format)), ")", why.empty() ? "" : ": ", Absl(why)));
}

}  // namespace

absl::Status VerifySignature(std::string_view public_key_pem, ByteView message, ByteView signature,
                             const signer::SignOptions& options) {
  absl::StatusOr<crypto::EvpPkeyPtr> key = ReadPublicKey(public_key_pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> type = TypeOf(key->get());
  if (!type.ok()) return type.status();
  ASSIGN_OR_RETURN(const signer::KeyType key_type, signer::ParseKeyType(*type));
  ASSIGN_OR_RETURN(const signer::ResolvedSignOptions resolved,
                   signer::ResolveSignOptions(key_type, options));
  if (key_type == signer::KeyType::kEd25519) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr ||
        EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1) {
      return crypto::OpenSslError("EVP_DigestVerifyInit");
    }
    const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                    message.size());
    ERR_clear_error();
    if (rc != 1)
      return absl::UnauthenticatedError("signature does not verify (Ed25519 over the message)");
    return absl::OkStatus();
  }

  // The digest, as the signer computed it.
  Bytes digest;
  if (resolved.hash == signer::HashAlgorithm::kNone) {
    const size_t size = signer::PrehashedDigestSize(key_type);
    if (message.size() != size) {
      return absl::InvalidArgumentError(absl::StrCat("hash none: the message must be the ", size,
                                                     "-byte digest, not ", message.size(),
                                                     " bytes"));
    }
    digest.assign(message.begin(), message.end());
  } else {
    ASSIGN_OR_RETURN(digest, signer::ComputeDigest(resolved.hash, message));
  }

  // The DER signature OpenSSL verifies.
  const size_t width = ScalarWidth(key_type);
  Bytes der;
  switch (resolved.format) {
    case signer::SignatureFormat::kDer:
      der.assign(signature.begin(), signature.end());
      break;
    case signer::SignatureFormat::kRaw:
    case signer::SignatureFormat::kRecoverable: {
      const bool recoverable = resolved.format == signer::SignatureFormat::kRecoverable;
      const size_t expected = 2 * width + (recoverable ? 1 : 0);
      if (signature.size() != expected) {
        return DoesNotVerify(
            *type, resolved,
            absl::StrCat("a signature of ", signature.size(), " bytes, expected ", expected));
      }
      if (recoverable) {
        absl::StatusOr<Bytes> recovered = signer::RecoverSecp256k1PublicKey(digest, signature);
        if (!recovered.ok())
          return DoesNotVerify(*type, resolved, Std(recovered.status().message()));
        ASSIGN_OR_RETURN(const Bytes point, UncompressedPoint(key->get(), width));
        if (!crypto::ConstantTimeEquals(*recovered, point)) {
          return DoesNotVerify(*type, resolved, "it recovers to another public key");
        }
      }
      std::array<uint8_t, signer::kMaxEcdsaDerSize> buf{};
      absl::StatusOr<size_t> n =
          signer::EcdsaRawToDer(signature.subspan(0, 2 * width), absl::MakeSpan(buf));
      if (!n.ok()) return DoesNotVerify(*type, resolved, Std(n.status().message()));
      der.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
      break;
    }
  }
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_verify_init(ctx.get()) != 1) {
    return crypto::OpenSslError("EVP_PKEY_verify_init");
  }
  const int rc = EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.data(), digest.size());
  ERR_clear_error();
  if (rc != 1) return DoesNotVerify(*type, resolved);
  return absl::OkStatus();
}

}  // namespace lockout::ops
