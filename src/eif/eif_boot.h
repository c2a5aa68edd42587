#pragma once

// What a machine boots from an EIF: the kernel, its command line and one initrd — the image's
// ramdisks concatenated in file order, as the Nitro hypervisor (and QEMU with -initrd) hands them
// to the kernel, which unpacks each cpio archive in turn. `lockout run-enclave` boots these, and
// the local NSM service recomputes them from the EIF to check that a QEMU booted exactly them
// (docs/RUN-ENCLAVE.md). Pure functions; thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"
#include "src/eif/eif_reader.h"
#include "src/eif/measurements.h"

namespace lockout::eif {

struct EifBootFiles {
  Bytes kernel;
  std::string cmdline;  // the cmdline section's text
  Bytes initrd;         // every ramdisk, in file order
  Measurements measurements;
};

// Validates `eif` like EifReader::Parse (CRC included) and extracts its boot files.
// Errors: those of EifReader::Parse; InvalidArgument for a cmdline section containing a NUL.
absl::StatusOr<EifBootFiles> EifBootFilesOf(ByteView eif);

}  // namespace lockout::eif
