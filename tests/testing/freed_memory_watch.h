#pragma once

// FreedMemoryWatch: counts heap blocks freed (through operator delete) while they still held a
// needle, such as a canary session token.
//
// Linking lockout_freed_memory_watch replaces the binary's global operator new/delete: give such
// tests their own executable. std::string, std::vector and every other standard container free
// through operator delete, so a secret left in one of them when it is freed (or when it grows
// and drops its old buffer) is counted. SecretBytes frees with std::free after wiping, so its
// blocks are not scanned; neither are the buffers of C libraries (OpenSSL, libcbor).
//
//   FreedMemoryWatch watch(kCanaryToken);
//   ... code under test ...
//   EXPECT_EQ(watch.hits(), 0);
//
// One watch at a time per process; hits from every thread are counted.

#include <string_view>

namespace lockout::testing {

class FreedMemoryWatch final {
 public:
  explicit FreedMemoryWatch(std::string_view needle);  // needle: 1..256 bytes
  ~FreedMemoryWatch();
  FreedMemoryWatch(const FreedMemoryWatch&) = delete;
  FreedMemoryWatch& operator=(const FreedMemoryWatch&) = delete;

  // Blocks freed holding the needle since construction.
  int hits() const;
};

}  // namespace lockout::testing
