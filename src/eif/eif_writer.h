#pragma once

// Builds an Enclave Image File in memory, laid out as nitro-cli's EifBuilder does:
//   header | kernel | cmdline | metadata (optional) | ramdisks... | signature (optional)
// with section tables, section headers and the CRC-32 filled in. When a signer is set, the
// signature section signs this image's PCR0 (see eif_signature.h) and PCR8 is measured.
//
//   EifWriter w;
//   w.SetKernel(kernel).SetCmdline("console=ttyS0").AddRamdisk(init).AddRamdisk(app);
//   absl::StatusOr<Bytes> eif = w.Build();
//
// Build() errors (InvalidArgument): no kernel or an empty one, no ramdisk, more than 32
// sections, an unusable signer. The raw-section setter exists so tests can build malformed
// images. Not thread-safe; Build() is const and may be called repeatedly.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/common/secret_bytes.h"
#include "src/eif/eif_format.h"
#include "src/eif/measurements.h"

namespace lockout::eif {

class EifWriter final {
 public:
  EifWriter& SetKernel(Bytes kernel);
  EifWriter& SetCmdline(std::string cmdline);
  EifWriter& AddRamdisk(Bytes ramdisk);
  // JSON text for the metadata section (EIF v4); omitted when never set.
  EifWriter& SetMetadata(std::string json);
  // Signs PCR0 with `private_key_pem` (EC P-256/384/521) under the PEM certificate.
  EifWriter& SetSigner(Bytes certificate_pem, SecretBytes private_key_pem);
  // Uses `section` verbatim as the signature section (replaces any signer).
  EifWriter& SetRawSignatureSection(Bytes section);
  EifWriter& SetFlags(uint16_t flags);
  EifWriter& SetDefaultMemory(uint64_t bytes);
  EifWriter& SetDefaultCpus(uint64_t cpus);

  // The complete file.
  absl::StatusOr<Bytes> Build() const;
  // The PCRs the built image will have (PCR8 only with a signer or a parsable raw section).
  absl::StatusOr<Measurements> Measure() const;
  // Build() then write atomically to `path` with mode 0644.
  absl::Status WriteFile(const std::string& path) const;

 private:
  Bytes kernel_;
  std::string cmdline_;
  std::vector<Bytes> ramdisks_;
  std::optional<std::string> metadata_;
  std::optional<Bytes> signer_cert_;
  std::optional<SecretBytes> signer_key_;
  std::optional<Bytes> raw_signature_;
  uint16_t flags_ = 0;
  uint64_t default_mem_ = uint64_t{1} << 30;  // nitro-cli's defaults
  uint64_t default_cpus_ = 2;
};

}  // namespace lockout::eif
