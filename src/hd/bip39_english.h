#pragma once

// The BIP-39 English word list (bip-0039/english.txt), sorted, 2048 lower-case ASCII words.

#include <array>
#include <cstddef>
#include <string_view>

namespace lockout::hd {

inline constexpr size_t kBip39WordCount = 2048;
extern const std::array<std::string_view, kBip39WordCount> kBip39English;

}  // namespace lockout::hd
