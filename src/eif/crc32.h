#pragma once

// CRC-32 as EIF files use it: the IEEE 802.3 / ISO-HDLC CRC (reflected polynomial 0xEDB88320,
// initial value and final XOR 0xFFFFFFFF), the one zlib's crc32() and Python's zlib.crc32
// compute. aws-nitro-enclaves-image-format uses the `crc` crate's CRC_32_ISO_HDLC.
//
// Hand-written (a 256-entry table) because no dependency we already link exposes it; zlib is
// not otherwise needed. Thread-compatible: one instance per computation.

#include <cstdint>

#include "src/common/bytes.h"

namespace lockout::eif {

class Crc32 final {
 public:
  // Feeds more bytes; the result is the same however the input is split.
  void Update(ByteView data);
  // The CRC of everything fed so far (does not reset).
  uint32_t Value() const { return ~state_; }

  static uint32_t Of(ByteView data) {
    Crc32 c;
    c.Update(data);
    return c.Value();
  }

 private:
  uint32_t state_ = 0xFFFFFFFFu;
};

}  // namespace lockout::eif
