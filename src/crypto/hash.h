#pragma once

// Digests and MACs (OpenSSL EVP). Thread-safe (no shared state).

#include <array>
#include <cstdint>

#include "src/common/bytes.h"

namespace lockout::crypto {

using Sha256Digest = std::array<uint8_t, 32>;
using Sha384Digest = std::array<uint8_t, 48>;

Sha256Digest Sha256(ByteView data);
Sha384Digest Sha384(ByteView data);
Sha256Digest HmacSha256(ByteView key, ByteView data);

// Incremental SHA-384 (EIF measurement, PCR extension over large inputs).
class Sha384Hasher final {
 public:
  Sha384Hasher();
  ~Sha384Hasher();
  Sha384Hasher(const Sha384Hasher&) = delete;
  Sha384Hasher& operator=(const Sha384Hasher&) = delete;
  void Update(ByteView data);
  Sha384Digest Finish();

 private:
  struct Impl;
  Impl* impl_;
};

// Nitro PCR extension: SHA384(old ‖ data).
Sha384Digest ExtendPcr(const Sha384Digest& old, ByteView data);

// Constant-time comparison (CRYPTO_memcmp); false when sizes differ.
bool ConstantTimeEquals(ByteView a, ByteView b);

// Cryptographically secure random bytes (RAND_bytes); aborts if the RNG fails.
Bytes RandomBytes(size_t n);

// A random RFC 4122 version 4 UUID in canonical lower-case text form (8-4-4-4-12), as AWS uses
// for request ids, ClientRequestToken and secret version ids.
std::string RandomUuid();

}  // namespace lockout::crypto
