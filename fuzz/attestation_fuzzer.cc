// Fuzzes the attestation document parser and verifier with arbitrary bytes.
//
// Every input is parsed; inputs that parse are verified against the embedded AWS Nitro root at a
// fixed time, and their payload is re-encoded and re-parsed (the encoder must accept anything
// the parser accepts and give back the same fields). Failures must be clean statuses carrying an
// AttestFailure; OpenSSL's error queue must be left empty.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <openssl/err.h>

#include "absl/time/time.h"
#include "src/attest/attest_error.h"
#include "src/attest/attestation_document.h"
#include "src/attest/aws_nitro_root.h"
#include "src/attest/verifier.h"

namespace {

// 2022-10-13T09:00:00Z: inside the window of one of the real documents in the seed corpus.
const absl::Time kAt = absl::FromUnixSeconds(1665651600);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockout::attest;  // NOLINT(google-build-using-namespace): fuzz target
  static const std::vector<lockout::Bytes> roots = {AwsNitroRootG1Der()};
  const lockout::ByteView input(data, size);

  absl::StatusOr<AttestationDocument> doc = ParseAttestationDocument(input);
  if (!doc.ok()) {
    if (!FailureOf(doc.status()).has_value()) std::abort();
    return 0;
  }
  // The payload round-trips through the encoder.
  absl::StatusOr<AttestationDocument> again =
      ParseAttestationPayload(EncodeAttestationPayload(*doc));
  if (!again.ok()) std::abort();
  again->cose = doc->cose;
  if (!(*again == *doc)) std::abort();

  absl::StatusOr<VerifiedAttestation> verified = VerifyAttestation(*doc, roots, kAt);
  if (!verified.ok() && !FailureOf(verified.status()).has_value()) std::abort();
  if (ERR_peek_error() != 0) std::abort();
  return 0;
}
