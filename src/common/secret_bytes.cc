#include "src/common/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
      munlock(data_, capacity_);
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
  if (data_ == nullptr || locked_) return locked_ || data_ == nullptr;
  // MADV_DONTDUMP keeps the pages out of core files even if dumps are enabled.
  madvise(data_, capacity_, MADV_DONTDUMP);
  locked_ = mlock(data_, capacity_) == 0;
  return locked_;
}

bool SecretBytes::Equals(const SecretBytes& other) const {
  if (size_ != other.size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data_, size_) == 0;
}

std::string SecretBytes::DebugString() const { return absl::StrCat("<secret:", size_, "B>"); }

bool DisableCoreDumps() {
  struct rlimit rl = {0, 0};
  bool ok = setrlimit(RLIMIT_CORE, &rl) == 0;
  ok = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ok;
  return ok;
}

}  // namespace lockout
