#pragma once

// SecretBytes: the one container for key material, plaintexts and credentials.
//
// Move-only; the buffer is wiped (OPENSSL_cleanse) when destroyed, moved from or resized away,
// and can be mlock()ed so it never reaches swap. Streaming or formatting it shows only its size
// ("<secret:32B>"). Reading the bytes requires calling Reveal(), a name to grep for in review.
// Not thread-safe for concurrent mutation; concurrent const access is fine.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "src/common/bytes.h"

namespace lockout {

class SecretBytes final {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size);
  // Copies `data` into secret storage. The caller remains responsible for wiping its own copy.
  static SecretBytes CopyFrom(ByteView data);
  static SecretBytes CopyFrom(std::string_view data);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Access to the secret bytes. Every call site is a place where secrets flow; keep them few.
  ByteView Reveal() const { return ByteView(data_, size_); }
  absl::Span<uint8_t> RevealMutable() { return absl::Span<uint8_t>(data_, size_); }
  std::string_view RevealAsString() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }

  // Locks the pages holding the secret in RAM (mlock) and excludes them from core dumps
  // (MADV_DONTDUMP). Returns false if the kernel refused (RLIMIT_MEMLOCK without CAP_IPC_LOCK);
  // the secret is still usable, but may reach swap. An empty secret counts as locked. Callers
  // must look at the result (nodiscard): a server reports unlocked key memory (enclave `health`
  // key_memory_locked, relay lockout_relay_credentials_memory_locked).
  [[nodiscard]] bool Lock();
  bool locked() const { return locked_; }

  // Constant-time equality (CRYPTO_memcmp); sizes are not secret.
  bool Equals(const SecretBytes& other) const;

  // Wipes and frees now.
  void Clear();

  std::string DebugString() const;

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // allocated bytes (page-rounded when locked)
  bool locked_ = false;
};

inline std::ostream& operator<<(std::ostream& os, const SecretBytes& s) {
  return os << s.DebugString();
}

// SecretBuilder: builds a secret of unknown final size by appending, in secret memory only.
// A growable std::string would leave unwiped copies of the prefix behind each time it grows;
// here every outgrown buffer is a SecretBytes, wiped when it is replaced.
//
//   SecretBuilder b;
//   b.Append("x-amz-security-token:");
//   b.Append(token.RevealAsString());
//   SecretBytes s = std::move(b).Finish();
//
// Not thread-safe.
class SecretBuilder final {
 public:
  SecretBuilder() = default;
  void Append(std::string_view data) { Append(AsBytes(data)); }
  void Append(ByteView data);
  size_t size() const { return size_; }
  // The bytes appended so far, in an exactly-sized SecretBytes; the working buffer is wiped.
  SecretBytes Finish() &&;

 private:
  SecretBytes buffer_;
  size_t size_ = 0;
};

// Wipes a buffer that held secret data (OPENSSL_cleanse; not optimised away).
void WipeBytes(void* data, size_t size);
inline void WipeString(std::string& s) {
  WipeBytes(s.data(), s.size());
  s.clear();
}
inline void WipeBytes(Bytes& b) {
  WipeBytes(b.data(), b.size());
  b.clear();
}

// Disables core dumps for this process (RLIMIT_CORE = 0 and PR_SET_DUMPABLE = 0). Servers that
// hold keys call this first thing in main().
bool DisableCoreDumps();

}  // namespace lockout
