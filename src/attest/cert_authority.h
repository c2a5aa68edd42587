#pragma once

// A small P-384 certificate authority: the local stand-in for the AWS Nitro Attestation PKI
// (root -> intermediates -> short-lived leaf that signs attestation documents), used by tests
// and by the local NSM service.
//
// Every certificate is X.509 v3, signed ECDSA-SHA384, with a random positive 128-bit serial,
// subject/authority key identifiers, and critical basicConstraints and keyUsage (CA:
// keyCertSign, cRLSign, digitalSignature; leaf: CA:FALSE, digitalSignature) — the extensions the
// NSM spec (§3.2.3.2-3) expects verifiers to check.
//
// Names are written as RFC 2253 prints them, most specific first, e.g.
// "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US" (the DER holds C first). Attribute values may
// not contain ',', '+', '=', '"' or '\\' (no escaping).
// CertAuthority is move-only; const methods are thread-safe.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/bytes.h"
#include "src/crypto/openssl_util.h"

namespace lockout::attest {

struct CertificateOptions {
  std::string subject;  // RFC 2253 order, see above
  absl::Time not_before;
  absl::Time not_after;
  std::optional<int> path_length;  // CA certificates only: basicConstraints pathlen
};

// A private key and the certificate for it.
struct CertifiedKey {
  crypto::EvpPkeyPtr key;  // P-384 private key (the caller owns it; export via certificate.h)
  Bytes certificate;       // DER
};

// A fresh EC P-384 key pair. Error: Internal.
absl::StatusOr<crypto::EvpPkeyPtr> GenerateP384Key();

class CertAuthority final {
 public:
  // A new key and a self-signed root certificate for it.
  // Errors: InvalidArgument (bad subject, not_before >= not_after), Internal.
  static absl::StatusOr<CertAuthority> CreateRoot(const CertificateOptions& options);
  // Wraps an existing CA (e.g. loaded from disk). Checks that `certificate` parses, is a CA
  // certificate and holds the public half of `key` (P-384). Error: InvalidArgument.
  static absl::StatusOr<CertAuthority> FromKeyAndCertificate(crypto::EvpPkeyPtr key,
                                                             Bytes certificate);

  // A new key and a CA certificate for it issued by this CA.
  absl::StatusOr<CertAuthority> IssueIntermediate(const CertificateOptions& options) const;
  // A new key and an end-entity certificate for it (the attestation signing key).
  absl::StatusOr<CertifiedKey> IssueLeaf(const CertificateOptions& options) const;
  // An end-entity certificate for an existing public key (only its public half is used).
  absl::StatusOr<Bytes> IssueLeafForKey(EVP_PKEY* public_key,
                                        const CertificateOptions& options) const;

  const Bytes& certificate() const { return certified_.certificate; }
  EVP_PKEY* key() const { return certified_.key.get(); }

  CertAuthority(CertAuthority&&) = default;
  CertAuthority& operator=(CertAuthority&&) = default;

 private:
  explicit CertAuthority(CertifiedKey certified) : certified_(std::move(certified)) {}
  CertifiedKey certified_;
};

}  // namespace lockout::attest
