#include "src/crypto/ec_private_key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/openssl_util.h"

namespace lockout::crypto {
namespace {

using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO,
                                 OsslDeleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, OsslDeleter<EC_GROUP, EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, OsslDeleter<EC_POINT, EC_POINT_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OsslDeleter<BN_CTX, BN_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OsslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
// Private BIGNUMs are cleared before they are freed.
using SecretBnPtr = std::unique_ptr<BIGNUM, OsslDeleter<BIGNUM, BN_clear_free>>;

}  // namespace

absl::StatusOr<SecretBytes> PrivateKeyToPkcs8Der(const EVP_PKEY* key) {
  if (key == nullptr) return absl::InvalidArgumentError("PKCS#8 export: null key");
  // PKCS8_PRIV_KEY_INFO wipes its private key octets when freed (ASN1 callback in OpenSSL).
  Pkcs8Ptr info(EVP_PKEY2PKCS8(key));
  if (info == nullptr) {
    return OpenSslError("PKCS#8 export: not a private key", absl::StatusCode::kInvalidArgument);
  }
  const int len = i2d_PKCS8_PRIV_KEY_INFO(info.get(), nullptr);
  if (len <= 0) return OpenSslError("PKCS#8 export: encoding failed");
  SecretBytes der(static_cast<size_t>(len));
  unsigned char* out = der.RevealMutable().data();
  if (i2d_PKCS8_PRIV_KEY_INFO(info.get(), &out) != len) {
    return OpenSslError("PKCS#8 export: encoding failed");
  }
  return der;
}

absl::StatusOr<SecretBytes> EcPrivateKeyToPkcs8(std::string_view group_name,
                                                const SecretBytes& scalar) {
  const std::string name(group_name);
  const int nid = OBJ_txt2nid(name.c_str()) != NID_undef ? OBJ_txt2nid(name.c_str())
                                                          : EC_curve_nist2nid(name.c_str());
  EcGroupPtr group(nid == NID_undef ? nullptr : EC_GROUP_new_by_curve_name(nid));
  if (group == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("EC private key: unknown group \"", Absl(group_name), "\""));
  }
  const size_t width = static_cast<size_t>(EC_GROUP_order_bits(group.get()) + 7) / 8;
  if (scalar.size() != width) {
    return absl::InvalidArgumentError(absl::StrCat("EC private key: scalar of ", scalar.size(),
                                                   " bytes; ", Absl(group_name), " needs ",
                                                   width));
  }
  BnCtxPtr ctx(BN_CTX_secure_new());
  SecretBnPtr priv(BN_secure_new());
  if (ctx == nullptr || priv == nullptr ||
      BN_bin2bn(scalar.Reveal().data(), static_cast<int>(scalar.size()), priv.get()) == nullptr) {
    return OpenSslError("EC private key: BIGNUM");
  }
  if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return absl::InvalidArgumentError("EC private key: scalar outside [1, n-1]");
  }
  EcPointPtr pub(EC_POINT_new(group.get()));
  if (pub == nullptr ||
      EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, ctx.get()) != 1) {
    return OpenSslError("EC private key: public point");
  }
  const size_t pub_len = EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED,
                                            nullptr, 0, ctx.get());
  Bytes pub_oct(pub_len);
  if (pub_len == 0 ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, pub_oct.data(),
                         pub_oct.size(), ctx.get()) != pub_len) {
    return OpenSslError("EC private key: public point encoding");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      OBJ_nid2sn(nid), 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub_oct.data(),
                                       pub_oct.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1) {
    return OpenSslError("EC private key: parameters");
  }
  // OSSL_PARAM_BLD_to_param puts a secure-heap BIGNUM into secure memory and clears it on free.
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (params == nullptr || pctx == nullptr || EVP_PKEY_fromdata_init(pctx.get()) != 1) {
    return OpenSslError("EC private key: EVP_PKEY_fromdata_init");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1 || raw == nullptr) {
    return OpenSslError("EC private key: EVP_PKEY_fromdata");
  }
  EvpPkeyPtr pkey(raw);
  return PrivateKeyToPkcs8Der(pkey.get());
}

absl::StatusOr<SecretBytes> Ed25519PrivateKeyToPkcs8(const SecretBytes& private_key) {
  if (private_key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 private key: ", private_key.size(), " bytes; need 32"));
  }
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               private_key.Reveal().data(), private_key.size()));
  if (pkey == nullptr) return OpenSslError("Ed25519 private key: EVP_PKEY_new_raw_private_key");
  return PrivateKeyToPkcs8Der(pkey.get());
}

}  // namespace lockout::crypto
