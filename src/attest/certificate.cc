#include "src/attest/certificate.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include <climits>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/crypto/hash.h"

namespace lockout::attest {
namespace {

using crypto::BioPtr;
using crypto::EvpPkeyPtr;
using crypto::OpenSslError;
using crypto::X509Ptr;

// OpenSSL takes lengths as long/int; every input here is far below these limits, but an
// attacker-sized buffer must not wrap.
absl::Status CheckLength(size_t size) {
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("input of ", size, " bytes is too large"));
  }
  return absl::OkStatus();
}

BioPtr MemBufBio(const void* data, size_t size) {
  return BioPtr(BIO_new_mem_buf(data, static_cast<int>(size)));
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int): OpenSSL's type
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

// Copies a secure-memory BIO's content into SecretBytes. BIO_s_secmem buffers are cleansed when
// freed, so the key encoding exists only there and in the returned SecretBytes.
SecretBytes BioToSecret(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);  // NOLINT(google-runtime-int)
  if (len <= 0 || data == nullptr) return SecretBytes();
  return SecretBytes::CopyFrom(
      ByteView(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
}

// Never prompt on a terminal for a passphrase: encrypted keys are simply refused.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; }

}  // namespace

absl::StatusOr<X509Ptr> ParseCertificateDer(ByteView der) {
  if (der.empty()) return absl::InvalidArgumentError("certificate is empty");
  if (absl::Status s = CheckLength(der.size()); !s.ok()) return s;
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("certificate of ", der.size(), " bytes is not valid DER X.509"));
  }
  const size_t used = static_cast<size_t>(p - der.data());
  if (used != der.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate has ", der.size() - used, " trailing bytes"));
  }
  return cert;
}

absl::StatusOr<Bytes> CertificateToDer(const X509* cert) {
  unsigned char* out = nullptr;
  int len = i2d_X509(cert, &out);
  if (len <= 0 || out == nullptr) return OpenSslError("i2d_X509");
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

absl::StatusOr<std::vector<Bytes>> CertificatesFromPem(std::string_view pem) {
  if (absl::Status s = CheckLength(pem.size()); !s.ok()) return s;
  BioPtr bio = MemBufBio(pem.data(), pem.size());
  if (bio == nullptr) return OpenSslError("BIO_new_mem_buf");
  std::vector<Bytes> certs;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;  // NOLINT(google-runtime-int)
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      ERR_clear_error();  // end of input (PEM_R_NO_START_LINE) or a broken block
      break;
    }
    const bool is_cert = std::strcmp(name, "CERTIFICATE") == 0;
    Bytes der(data, data + len);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!is_cert) {
      return absl::InvalidArgumentError(
          absl::StrCat("PEM block #", certs.size() + 1, " is not a CERTIFICATE"));
    }
    absl::StatusOr<X509Ptr> parsed = ParseCertificateDer(der);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("PEM certificate #", certs.size() + 1, ": ", parsed.status().message()));
    }
    certs.push_back(std::move(der));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        "no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  return certs;
}

absl::StatusOr<std::vector<Bytes>> CertificatesFromPemFile(const std::string& path) {
  constexpr size_t kMaxPemFile = 1 << 20;
  absl::StatusOr<std::string> pem = ReadFileString(path, kMaxPemFile);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::vector<Bytes>> certs = CertificatesFromPem(*pem);
  if (!certs.ok()) {
    return absl::Status(certs.status().code(), absl::StrCat(path, ": ", certs.status().message()));
  }
  return certs;
}

absl::StatusOr<std::string> CertificateToPem(ByteView der) {
  absl::StatusOr<X509Ptr> cert = ParseCertificateDer(der);
  if (!cert.ok()) return cert.status();
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert->get()) != 1) {
    return OpenSslError("PEM_write_bio_X509");
  }
  return BioToString(bio.get());
}

absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  return BioToSecret(bio.get());
}

absl::StatusOr<SecretBytes> PrivateKeyToDer(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      i2d_PKCS8PrivateKey_bio(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("i2d_PKCS8PrivateKey_bio");
  }
  return BioToSecret(bio.get());
}

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromPem(const SecretBytes& pem) {
  if (absl::Status s = CheckLength(pem.size()); !s.ok()) return s;
  BioPtr bio = MemBufBio(pem.Reveal().data(), pem.size());
  if (bio == nullptr) return OpenSslError("BIO_new_mem_buf");
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return OpenSslError("no unencrypted PEM private key found", absl::StatusCode::kInvalidArgument);
  }
  return key;
}

absl::StatusOr<EvpPkeyPtr> PrivateKeyFromDer(const SecretBytes& der) {
  if (absl::Status s = CheckLength(der.size()); !s.ok()) return s;
  const unsigned char* p = der.Reveal().data();
  EvpPkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));  // NOLINT
  if (key == nullptr) {
    return OpenSslError("not a DER private key", absl::StatusCode::kInvalidArgument);
  }
  if (p != der.Reveal().data() + der.size()) {
    return absl::InvalidArgumentError("trailing bytes after DER private key");
  }
  return key;
}

absl::StatusOr<Bytes> PublicKeyToDer(EVP_PKEY* key) {
  unsigned char* out = nullptr;
  int len = i2d_PUBKEY(key, &out);
  if (len <= 0 || out == nullptr) return OpenSslError("i2d_PUBKEY");
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return {};
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  return BioToString(bio.get());
}

absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate time is not valid");
  }
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

absl::StatusOr<CertificateSummary> SummarizeCertificate(ByteView der) {
  absl::StatusOr<X509Ptr> cert = ParseCertificateDer(der);
  if (!cert.ok()) return cert.status();
  CertificateSummary s;
  s.subject = NameToString(X509_get_subject_name(cert->get()));
  s.issuer = NameToString(X509_get_issuer_name(cert->get()));
  crypto::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert->get()), nullptr));
  if (serial == nullptr) return OpenSslError("certificate serial");
  char* hex = BN_bn2hex(serial.get());
  if (hex == nullptr) return OpenSslError("BN_bn2hex");
  s.serial_hex = hex;
  OPENSSL_free(hex);
  absl::StatusOr<absl::Time> nb = Asn1TimeToTime(X509_get0_notBefore(cert->get()));
  if (!nb.ok()) return nb.status();
  absl::StatusOr<absl::Time> na = Asn1TimeToTime(X509_get0_notAfter(cert->get()));
  if (!na.ok()) return na.status();
  s.not_before = *nb;
  s.not_after = *na;
  s.sha256_hex = HexEncode(crypto::Sha256(der));
  return s;
}

}  // namespace lockout::attest
