#include "src/common/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout {
namespace {

size_t PageSize() {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}

// mlock/munlock as system calls: the sanitizer runtimes (ASan, TSan, MSan) replace the libc
// wrappers with no-ops that report success, which would hide exactly the failure Lock() reports.
bool MemoryLock(void* p, size_t n) { return syscall(SYS_mlock, p, n) == 0; }
void MemoryUnlock(void* p, size_t n) { syscall(SYS_munlock, p, n); }

}  // namespace

void WipeBytes(void* data, size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

SecretBytes::SecretBytes(size_t size) : size_(size) {
  if (size == 0) return;
  // Page-aligned so that Lock() and MADV_DONTDUMP cover exactly this allocation.
  capacity_ = (size + PageSize() - 1) / PageSize() * PageSize();
  void* p = std::aligned_alloc(PageSize(), capacity_);
  if (p == nullptr) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(p);
  std::memset(data_, 0, capacity_);
}

SecretBytes SecretBytes::CopyFrom(ByteView data) {
  SecretBytes s(data.size());
  if (!data.empty()) std::memcpy(s.data_, data.data(), data.size());
  return s;
}

SecretBytes SecretBytes::CopyFrom(std::string_view data) { return CopyFrom(AsBytes(data)); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Clear(); }

void SecretBytes::Clear() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, capacity_);
    if (locked_) {
      MemoryUnlock(data_, capacity_);
      madvise(data_, capacity_, MADV_DODUMP);
    }
    std::free(data_);
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  locked_ = false;
}

bool SecretBytes::Lock() {
  if (data_ == nullptr || locked_) return true;
  // MADV_DONTDUMP keeps the pages out of core files even if dumps are enabled.
  madvise(data_, capacity_, MADV_DONTDUMP);
  locked_ = MemoryLock(data_, capacity_);
  return locked_;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

void SecretBuilder::Append(ByteView data) {
  if (data.empty()) return;
  if (data.size() > buffer_.size() - size_) {
    // Geometric growth: appends stay amortised O(1) and few buffers are wiped.
    size_t capacity = buffer_.size() < 256 ? 256 : buffer_.size() * 2;
    if (capacity < size_ + data.size()) capacity = size_ + data.size();
    SecretBytes grown(capacity);
    if (size_ > 0) std::memcpy(grown.RevealMutable().data(), buffer_.Reveal().data(), size_);
    buffer_ = std::move(grown);  // the outgrown buffer is wiped
  }
  std::memcpy(buffer_.RevealMutable().data() + size_, data.data(), data.size());
  size_ += data.size();
}

SecretBytes SecretBuilder::Finish() && {
  SecretBytes out = SecretBytes::CopyFrom(buffer_.Reveal().first(size_));
  buffer_.Clear();
  size_ = 0;
  return out;
}

std::string SecretBytes::DebugString() const { return absl::StrCat("<secret:", size_, "B>"); }

bool DisableCoreDumps() {
  struct rlimit rl = {0, 0};
  bool ok = setrlimit(RLIMIT_CORE, &rl) == 0;
  ok = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ok;
  return ok;
}

}  // namespace lockout
