#pragma once

// Byte containers used across lockout's APIs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace lockout {

using Bytes = std::vector<uint8_t>;
using ByteView = absl::Span<const uint8_t>;

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteView b) { return std::string(b.begin(), b.end()); }
inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace lockout
