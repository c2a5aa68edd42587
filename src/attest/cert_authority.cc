#include "src/attest/cert_authority.h"

#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/attest/certificate.h"
#include "src/attest/es384.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"

namespace lockout::attest {
namespace {

using crypto::EvpPkeyPtr;
using crypto::OpenSslError;
using crypto::X509Ptr;

using NamePtr = std::unique_ptr<X509_NAME, crypto::OsslDeleter<X509_NAME, X509_NAME_free>>;
using ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, crypto::OsslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;

// "CN=x,O=y,C=US" (RFC 2253 order) -> X509_NAME with C, O, CN (DER order).
absl::StatusOr<NamePtr> ParseName(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("certificate subject is empty");
  std::vector<absl::string_view> parts = absl::StrSplit(Absl(text), ',');
  NamePtr name(X509_NAME_new());
  if (name == nullptr) return OpenSslError("X509_NAME_new");
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    std::vector<absl::string_view> kv = absl::StrSplit(*it, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty() ||
        kv[1].find_first_of("=+\"\\") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "certificate subject must look like \"CN=name,O=org,C=US\" (no escapes)");
    }
    const std::string key(kv[0]);
    const std::string value(kv[1]);
    if (X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return OpenSslError(absl::StrCat("unknown subject attribute ", key),
                          absl::StatusCode::kInvalidArgument);
    }
  }
  return name;
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("certificate extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

// Issues a certificate for `subject_key` signed by `issuer_key`. `issuer` is null for a
// self-signed certificate.
absl::StatusOr<Bytes> Issue(const CertificateOptions& options, bool is_ca, EVP_PKEY* subject_key,
                            const X509* issuer, EVP_PKEY* issuer_key) {
  if (options.not_before >= options.not_after) {
    return absl::InvalidArgumentError("certificate not_before must be before not_after");
  }
  if (!is_ca && options.path_length.has_value()) {
    return absl::InvalidArgumentError("path_length applies to CA certificates only");
  }
  if (options.path_length.has_value() && *options.path_length < 0) {
    return absl::InvalidArgumentError("path_length must be >= 0");
  }
  ASSIGN_OR_RETURN(NamePtr subject, ParseName(options.subject));
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("X509_new");
  }
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; 128 random bits with the top bit clear.
  Bytes serial_bytes = crypto::RandomBytes(16);
  serial_bytes[0] = static_cast<uint8_t>((serial_bytes[0] & 0x7f) | 0x01);
  crypto::BignumPtr serial(
      BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("certificate serial");
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(options.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(options.not_after)) == nullptr) {
    return OpenSslError("certificate validity");
  }
  if (X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(
          cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject.get()) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("certificate names or key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? const_cast<X509*>(issuer) : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  std::string basic = is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (options.path_length.has_value()) absl::StrAppend(&basic, ",pathlen:", *options.path_length);
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, basic));
  RETURN_IF_ERROR(AddExtension(
      cert.get(), &ctx, NID_key_usage,
      is_ca ? "critical,digitalSignature,keyCertSign,cRLSign" : "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));

  if (X509_sign(cert.get(), issuer_key, EVP_sha384()) <= 0) return OpenSslError("X509_sign");
  return CertificateToDer(cert.get());
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> GenerateP384Key() {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(ctx.get(), "P-384") != 1 ||
      EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return OpenSslError("P-384 key generation");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<CertAuthority> CertAuthority::CreateRoot(const CertificateOptions& options) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP384Key());
  ASSIGN_OR_RETURN(Bytes cert, Issue(options, /*is_ca=*/true, key.get(), nullptr, key.get()));
  return CertAuthority(CertifiedKey{std::move(key), std::move(cert)});
}

absl::StatusOr<CertAuthority> CertAuthority::FromKeyAndCertificate(EvpPkeyPtr key,
                                                                   Bytes certificate) {
  if (!IsP384Key(key.get())) return absl::InvalidArgumentError("CA key is not EC P-384");
  ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificateDer(certificate));
  if (X509_check_ca(cert.get()) == 0) {
    return absl::InvalidArgumentError("certificate is not a CA certificate");
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA key does not match the certificate");
  }
  return CertAuthority(CertifiedKey{std::move(key), std::move(certificate)});
}

absl::StatusOr<CertAuthority> CertAuthority::IssueIntermediate(
    const CertificateOptions& options) const {
  ASSIGN_OR_RETURN(X509Ptr issuer, ParseCertificateDer(certified_.certificate));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP384Key());
  ASSIGN_OR_RETURN(Bytes cert,
                   Issue(options, /*is_ca=*/true, key.get(), issuer.get(), certified_.key.get()));
  return CertAuthority(CertifiedKey{std::move(key), std::move(cert)});
}

absl::StatusOr<CertifiedKey> CertAuthority::IssueLeaf(const CertificateOptions& options) const {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP384Key());
  ASSIGN_OR_RETURN(Bytes cert, IssueLeafForKey(key.get(), options));
  return CertifiedKey{std::move(key), std::move(cert)};
}

absl::StatusOr<Bytes> CertAuthority::IssueLeafForKey(EVP_PKEY* public_key,
                                                     const CertificateOptions& options) const {
  if (public_key == nullptr) return absl::InvalidArgumentError("no leaf key");
  ASSIGN_OR_RETURN(X509Ptr issuer, ParseCertificateDer(certified_.certificate));
  return Issue(options, /*is_ca=*/false, public_key, issuer.get(), certified_.key.get());
}

}  // namespace lockout::attest
