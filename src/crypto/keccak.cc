#include "src/crypto/keccak.h"

#include <cstring>

namespace lockout::crypto {
namespace {

constexpr size_t kRateBytes = 136;  // 1600 - 2 * 256 bits

// Round constants of ι (FIPS 202 §3.2.5, precomputed as in the Keccak reference).
constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

// ρ offsets and π lane order, walked along the (x, y) -> (y, 2x + 3y) cycle starting at lane 1.
constexpr int kRho[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                          27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr int kPi[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                         15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

uint64_t Rotl(uint64_t v, int n) { return (v << n) | (v >> (64 - n)); }

// Keccak-f[1600] on 25 lanes, lane (x, y) at index x + 5y.
void KeccakF1600(uint64_t a[25]) {
  for (uint64_t rc : kRoundConstants) {
    uint64_t c[5];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) {
      const uint64_t d = c[(x + 4) % 5] ^ Rotl(c[(x + 1) % 5], 1);
      for (int y = 0; y < 25; y += 5) a[y + x] ^= d;
    }
    uint64_t current = a[1];
    for (int i = 0; i < 24; ++i) {
      const int j = kPi[i];
      const uint64_t next = a[j];
      a[j] = Rotl(current, kRho[i]);
      current = next;
    }
    for (int y = 0; y < 25; y += 5) {
      uint64_t row[5];
      for (int x = 0; x < 5; ++x) row[x] = a[y + x];
      for (int x = 0; x < 5; ++x) a[y + x] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5]);
    }
    a[0] ^= rc;
  }
}

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void AbsorbBlock(uint64_t state[25], const uint8_t* block) {
  for (size_t i = 0; i < kRateBytes / 8; ++i) state[i] ^= LoadLe64(block + 8 * i);
  KeccakF1600(state);
}

}  // namespace

namespace internal {

Keccak256Digest Sponge256(ByteView data, uint8_t domain_byte) {
  uint64_t state[25] = {};
  size_t offset = 0;
  while (data.size() - offset >= kRateBytes) {
    AbsorbBlock(state, data.data() + offset);
    offset += kRateBytes;
  }
  // Keccak padding pad10*1 with the domain byte 0x01 (SHA-3 would use 0x06).
  uint8_t last[kRateBytes] = {};
  const size_t tail = data.size() - offset;
  if (tail > 0) std::memcpy(last, data.data() + offset, tail);
  last[tail] ^= domain_byte;
  last[kRateBytes - 1] ^= 0x80;
  AbsorbBlock(state, last);

  Keccak256Digest out;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(state[i / 8] >> (8 * (i % 8)));
  }
  return out;
}

}  // namespace internal

Keccak256Digest Keccak256(ByteView data) { return internal::Sponge256(data, 0x01); }

}  // namespace lockout::crypto
