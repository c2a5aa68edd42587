#pragma once

// X.509 helpers shared by the verifier, the builder, the CA toolkit and the CLI: strict DER
// parsing, PEM <-> DER, private keys in PKCS#8, and a printable summary of a certificate.
// Thread-safe (pure functions over OpenSSL objects the caller owns).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/crypto/openssl_util.h"

namespace lockout::attest {

// Parses exactly one DER certificate spanning all of `der` (no trailing bytes).
// Error: InvalidArgument with the size, never the bytes.
absl::StatusOr<crypto::X509Ptr> ParseCertificateDer(ByteView der);
// DER encoding of `cert`. Error: Internal.
absl::StatusOr<Bytes> CertificateToDer(const X509* cert);

// Every "CERTIFICATE" block of a PEM text, in order, as DER. Text outside the blocks is
// ignored (as openssl does); other block types are an error. Error: InvalidArgument when there
// is no certificate or a block does not decode.
absl::StatusOr<std::vector<Bytes>> CertificatesFromPem(std::string_view pem);
// The same, read from a PEM file of at most 1 MiB: the trusted roots a verifier is given
// (`--root-cert FILE`). Errors name the file: NotFound / Internal when it cannot be read,
// InvalidArgument when it holds no certificate.
absl::StatusOr<std::vector<Bytes>> CertificatesFromPemFile(const std::string& path);
// "-----BEGIN CERTIFICATE-----" text for a DER certificate (checked to parse).
absl::StatusOr<std::string> CertificateToPem(ByteView der);

// Private keys as unencrypted PKCS#8 ("PRIVATE KEY" PEM, or DER). The encodings are secrets and
// live only in SecretBytes. Errors never include key bytes.
absl::StatusOr<SecretBytes> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<SecretBytes> PrivateKeyToDer(EVP_PKEY* key);
absl::StatusOr<crypto::EvpPkeyPtr> PrivateKeyFromPem(const SecretBytes& pem);
absl::StatusOr<crypto::EvpPkeyPtr> PrivateKeyFromDer(const SecretBytes& der);
// SubjectPublicKeyInfo DER of a key (public part only).
absl::StatusOr<Bytes> PublicKeyToDer(EVP_PKEY* key);

// What a human (or JSON output) wants to know about a certificate.
struct CertificateSummary {
  std::string subject;  // RFC 2253, e.g. "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"
  std::string issuer;
  std::string serial_hex;  // upper-case hex, as openssl prints it
  absl::Time not_before;
  absl::Time not_after;
  std::string sha256_hex;  // of the DER
};
absl::StatusOr<CertificateSummary> SummarizeCertificate(ByteView der);
// RFC 2253 text of a name.
std::string NameToString(const X509_NAME* name);
// ASN1_TIME (UTCTime or GeneralizedTime) as absl::Time. Error: InvalidArgument.
absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* t);

}  // namespace lockout::attest
