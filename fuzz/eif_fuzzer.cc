// Fuzzes the EIF reader: arbitrary bytes parsed as an enclave image file, with and without the
// CRC requirement (so the fuzzer can reach section parsing without forging CRCs), plus the
// signature-section parser on its own.
//
// Properties checked (abort on violation):
// - a file that parses strictly also parses leniently, with the same measurements;
// - a leniently parsed file's crc_ok agrees with whether strict parsing succeeded;
// - sections of a parsed file tile the bytes after the 548-byte header exactly;
// - the description serialises.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "src/eif/eif_description.h"
#include "src/eif/eif_reader.h"
#include "src/eif/eif_signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockout::eif;  // NOLINT(build/namespaces): fuzz target scope only
  const lockout::ByteView input(data, size);

  absl::StatusOr<EifImage> strict = EifReader::Parse(input);
  absl::StatusOr<EifImage> lenient = EifReader::Parse(input, {.require_valid_crc = false});
  if (strict.ok() && !lenient.ok()) std::abort();
  if (lenient.ok()) {
    if (strict.ok() != lenient->crc_ok) std::abort();
    if (strict.ok() && !(strict->measurements == lenient->measurements)) std::abort();
    uint64_t expected = kEifHeaderSize;
    for (const SectionInfo& s : lenient->sections) {
      if (s.offset != expected) std::abort();
      expected = s.offset + kSectionHeaderSize + s.size;
    }
    if (expected != size) std::abort();
    if (DescribeEif(*lenient).dump(2).empty()) std::abort();
  }

  absl::StatusOr<std::vector<PcrSignature>> sigs = ParseSignatureSection(input);
  if (sigs.ok()) {
    if (sigs->empty()) std::abort();
    absl::StatusOr<lockout::Bytes> again = EncodeSignatureSection(*sigs);
    if (!again.ok()) std::abort();
    (void)VerifyPcr0Signature(sigs->front(), lockout::crypto::Sha384Digest{});
  }
  return 0;
}
