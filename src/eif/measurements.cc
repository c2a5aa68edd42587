#include "src/eif/measurements.h"

#include "src/common/encoding.h"

namespace lockout::eif {

std::string PcrHex(const crypto::Sha384Digest& pcr) { return HexEncode(pcr); }

crypto::Sha384Digest PcrAccumulator::Finish() {
  const crypto::Sha384Digest inner = hasher_.Finish();
  return crypto::ExtendPcr(crypto::Sha384Digest{}, inner);
}

}  // namespace lockout::eif
