#include "src/attest/verifier.h"

#include <openssl/x509_vfy.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/attest/attest_error.h"
#include "src/attest/certificate.h"
#include "src/attest/es384.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/openssl_util.h"

namespace lockout::attest {
namespace {

using crypto::X509Ptr;

// Maps OpenSSL's verification error to our reasons. The depth says which certificate failed:
// 0 is the leaf, N the root.
absl::Status ChainError(int error, int depth) {
  const std::string where = absl::StrCat("certificate at chain depth ", depth, ": ",
                                         X509_verify_cert_error_string(error));
  switch (error) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return AttestError(AttestFailure::kCertNotYetValid, where);
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return AttestError(AttestFailure::kCertExpired, where);
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return AttestError(AttestFailure::kBadCertSignature, where);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
      return AttestError(AttestFailure::kUntrustedRoot, where);
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return AttestError(AttestFailure::kCertMalformed, where);
    default:
      return AttestError(AttestFailure::kChainInvalid, where);
  }
}

absl::StatusOr<X509Ptr> ParseDocCert(ByteView der, std::string_view name) {
  absl::StatusOr<X509Ptr> cert = ParseCertificateDer(der);
  if (!cert.ok()) {
    return AttestError(AttestFailure::kCertMalformed,
                       absl::StrCat(Absl(name), ": ", cert.status().message()));
  }
  return cert;
}

// Fields must be exactly what the signed payload says, so that nothing the caller changed after
// parsing can be mistaken for attested data.
absl::Status CheckFieldsMatchPayload(const AttestationDocument& doc) {
  if (doc.cose.payload.empty() || doc.cose.protected_header.empty() || doc.cose.signature.empty()) {
    return AttestError(AttestFailure::kMalformed,
                       "document has no COSE parts (use ParseAttestationDocument)");
  }
  ASSIGN_OR_RETURN(AttestationDocument signed_fields, ParseAttestationPayload(doc.cose.payload));
  signed_fields.cose = doc.cose;
  if (!(signed_fields == doc)) {
    return AttestError(AttestFailure::kMalformed, "fields differ from the signed payload");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifiedAttestation> VerifyAttestation(const AttestationDocument& doc,
                                                      absl::Span<const Bytes> trusted_roots,
                                                      absl::Time at) {
  if (trusted_roots.empty()) return absl::InvalidArgumentError("no trusted root given");
  crypto::X509StorePtr store(X509_STORE_new());
  if (store == nullptr) return AttestError(AttestFailure::kInternal, "X509_STORE_new");
  for (size_t i = 0; i < trusted_roots.size(); ++i) {
    absl::StatusOr<X509Ptr> root = ParseCertificateDer(trusted_roots[i]);
    if (!root.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted root #", i, ": ", root.status().message()));
    }
    if (X509_STORE_add_cert(store.get(), root->get()) != 1) {
      ERR_clear_error();  // a duplicate root is harmless
    }
  }
  RETURN_IF_ERROR(CheckFieldsMatchPayload(doc));

  ASSIGN_OR_RETURN(X509Ptr leaf, ParseDocCert(doc.certificate, "certificate"));
  crypto::X509StackPtr untrusted(sk_X509_new_null());
  if (untrusted == nullptr) return AttestError(AttestFailure::kInternal, "sk_X509_new_null");
  std::vector<X509Ptr> bundle;
  for (size_t i = 0; i < doc.cabundle.size(); ++i) {
    ASSIGN_OR_RETURN(X509Ptr cert,
                     ParseDocCert(doc.cabundle[i], absl::StrCat("cabundle[", i, "]")));
    if (X509_up_ref(cert.get()) != 1) return AttestError(AttestFailure::kInternal, "X509_up_ref");
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0) {
      X509_free(cert.get());  // the reference taken for the stack
      return AttestError(AttestFailure::kInternal, "sk_X509_push");
    }
    bundle.push_back(std::move(cert));
  }

  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return AttestError(AttestFailure::kInternal, "X509_STORE_CTX_init");
  }
  // The caller's time, not the wall clock (sets X509_V_FLAG_USE_CHECK_TIME). No CRLs: the
  // Nitro PKI publishes none and its certificates are short-lived.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(at));
  // Not X509_V_FLAG_X509_STRICT: real Nitro leaf certificates carry no Authority Key Identifier.
  if (X509_verify_cert(ctx.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    ERR_clear_error();
    return ChainError(error, depth);
  }

  // OpenSSL looks for issuers in the trust store first and may skip certificates of the bundle;
  // insist on the NSM's exact path: leaf, cabundle[N-1], ..., cabundle[1], trusted root.
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  const size_t n = doc.cabundle.size();
  if (chain == nullptr || static_cast<size_t>(sk_X509_num(chain)) != n + 1) {
    return AttestError(AttestFailure::kChainInvalid,
                       absl::StrCat("verified chain has ", chain ? sk_X509_num(chain) : 0,
                                    " certificates, the document has ", n + 1));
  }
  for (size_t depth = 1; depth < n; ++depth) {
    if (X509_cmp(sk_X509_value(chain, static_cast<int>(depth)), bundle[n - depth].get()) != 0) {
      return AttestError(AttestFailure::kChainInvalid,
                         absl::StrCat("chain depth ", depth, " is not cabundle[", n - depth, "]"));
    }
  }
  X509* anchor = sk_X509_value(chain, static_cast<int>(n));
  ASSIGN_OR_RETURN(Bytes anchor_der, CertificateToDer(anchor));
  bool anchor_trusted = false;
  for (const Bytes& root : trusted_roots) anchor_trusted = anchor_trusted || root == anchor_der;
  if (!anchor_trusted || anchor_der != doc.cabundle[0]) {
    return AttestError(AttestFailure::kUntrustedRoot, "cabundle[0] is not the trusted root");
  }

  EVP_PKEY* leaf_key = X509_get0_pubkey(leaf.get());
  if (!IsP384Key(leaf_key)) {
    ERR_clear_error();
    return AttestError(AttestFailure::kChainInvalid, "leaf key is not EC P-384");
  }
  const Bytes to_be_signed = EncodeSigStructure(doc.cose.protected_header, doc.cose.payload);
  if (!Es384Verify(leaf_key, to_be_signed, doc.cose.signature)) {
    return AttestError(AttestFailure::kSignatureInvalid,
                       "COSE_Sign1 ES384 signature does not verify with the leaf key");
  }
  return VerifiedAttestation{doc, std::move(anchor_der)};
}

absl::StatusOr<VerifiedAttestation> VerifyAttestationDocument(ByteView data,
                                                              absl::Span<const Bytes> trusted_roots,
                                                              absl::Time at) {
  ASSIGN_OR_RETURN(AttestationDocument doc, ParseAttestationDocument(data));
  return VerifyAttestation(doc, trusted_roots, at);
}

}  // namespace lockout::attest
