#include "src/eif/crc32.h"

#include <array>

namespace lockout::eif {
namespace {

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

}  // namespace

void Crc32::Update(ByteView data) {
  uint32_t c = state_;
  for (uint8_t b : data) c = kTable[(c ^ b) & 0xFFu] ^ (c >> 8);
  state_ = c;
}

}  // namespace lockout::eif
