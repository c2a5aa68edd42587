#pragma once

// The local NSM service's certificate chain: a P-384 root and intermediate that persist in a
// directory, and the short-lived leaves that sign attestation documents — the local stand-in for
// the AWS Nitro Attestation PKI (root G1 -> regional/zonal intermediates -> ~3 h leaf).
//
// On disk (<state>/nsm/, directory mode 0700):
//   root-cert.pem, intermediate-cert.pem   certificates, mode 0644
//   root-key.pem,  intermediate-key.pem    unencrypted PKCS#8 private keys, mode 0600
//   ca.lock                                flock()ed while loading or creating
// Files are written with WriteFileAtomic (temp, fsync, rename), each key before its
// certificate: a key without its certificate is an interrupted creation and is replaced; a
// certificate without its key is an error (the root may already be trusted somewhere; we do not
// silently replace it). The intermediate is reissued (under the same root) when it is missing,
// does not match its key or the root, or expires within kIntermediateRenewBefore.
//
// Loading/creation holds an exclusive flock on ca.lock, so two services starting on the same
// state directory at once — in one process or in two — end up with the same root: the second
// loads what the first created.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/attest/cert_authority.h"
#include "src/common/bytes.h"
#include "src/common/clock.h"

namespace lockout::localaws {

inline constexpr absl::Duration kNsmRootValidity = absl::Hours(24 * 365 * 30);
inline constexpr absl::Duration kNsmIntermediateValidity = absl::Hours(24 * 365 * 2);
inline constexpr absl::Duration kIntermediateRenewBefore = absl::Hours(24 * 30);

// File names inside the CA directory.
inline constexpr std::string_view kNsmRootCertFile = "root-cert.pem";
inline constexpr std::string_view kNsmRootKeyFile = "root-key.pem";
inline constexpr std::string_view kNsmIntermediateCertFile = "intermediate-cert.pem";
inline constexpr std::string_view kNsmIntermediateKeyFile = "intermediate-key.pem";

// Immutable after LoadOrCreate; all methods are thread-safe.
class NsmCertificateChain final {
 public:
  // Loads the chain from `dir` (created with mode 0700 if missing), creating or renewing what is
  // missing as described above. `clock` dates new certificates (not_before = now - 1 h, for
  // clock skew between this host and verifiers).
  // Errors: FailedPrecondition for a certificate whose key is missing or does not match, or an
  // expired root (remove the directory to start over); InvalidArgument for unparseable files;
  // Internal/Unavailable for file system and OpenSSL failures. Messages name files, never keys.
  static absl::StatusOr<std::unique_ptr<NsmCertificateChain>> LoadOrCreate(const std::string& dir,
                                                                           const Clock& clock);

  const Bytes& root_der() const { return root_.certificate(); }
  const Bytes& intermediate_der() const { return intermediate_.certificate(); }
  // The cabundle of attestation documents: [root, intermediate] (root first, as on AWS).
  std::vector<Bytes> cabundle() const { return {root_der(), intermediate_der()}; }

  // A fresh leaf key and certificate issued by the intermediate, valid
  // [now - 1 min, now + validity], subject "CN=<common_name>,OU=lockout-local-nsm,O=lockout,C=US".
  // `common_name` must be a valid attribute value (cert_authority.h). Errors: InvalidArgument,
  // Internal.
  absl::StatusOr<attest::CertifiedKey> IssueLeaf(std::string_view common_name, absl::Time now,
                                                 absl::Duration validity) const;

 private:
  NsmCertificateChain(attest::CertAuthority root, attest::CertAuthority intermediate)
      : root_(std::move(root)), intermediate_(std::move(intermediate)) {}

  attest::CertAuthority root_;
  attest::CertAuthority intermediate_;
};

}  // namespace lockout::localaws
