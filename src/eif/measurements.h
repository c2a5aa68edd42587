#pragma once

// The PCRs an EIF determines (aws-nitro-enclaves-image-format, src/utils/mod.rs get_pcrs):
//   PCR0 = image:     kernel ‖ cmdline ‖ every ramdisk
//   PCR1 = bootstrap: kernel ‖ cmdline ‖ first ramdisk
//   PCR2 = app:       the other ramdisks (empty input when there is one ramdisk)
//   PCR8 = DER of the signing certificate (signed images only)
// each as a register extended once from zero: SHA384(0^48 ‖ SHA384(concatenated data)).
// Thread-compatible.

#include <optional>
#include <string>

#include "src/common/bytes.h"
#include "src/crypto/hash.h"

namespace lockout::eif {

struct Measurements {
  crypto::Sha384Digest pcr0{};
  crypto::Sha384Digest pcr1{};
  crypto::Sha384Digest pcr2{};
  std::optional<crypto::Sha384Digest> pcr8;

  bool operator==(const Measurements&) const = default;
};

// Lower-case hex of a PCR (96 characters), as nitro-cli prints it.
std::string PcrHex(const crypto::Sha384Digest& pcr);

// Accumulates data streamed into one PCR: Finish() = SHA384(0^48 ‖ SHA384(all data)).
class PcrAccumulator final {
 public:
  void Update(ByteView data) { hasher_.Update(data); }
  crypto::Sha384Digest Finish();

 private:
  crypto::Sha384Hasher hasher_;
};

}  // namespace lockout::eif
