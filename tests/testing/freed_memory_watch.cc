#include "tests/testing/freed_memory_watch.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "gtest/gtest.h"

namespace lockout::testing {
namespace {

std::atomic<bool> g_watching{false};
std::atomic<int> g_hits{0};
char g_needle[256];
size_t g_needle_size = 0;

}  // namespace

void InspectBeforeFree(void* p);  // used by the replaced operator delete below
void InspectBeforeFree(void* p) {
  if (p == nullptr || !g_watching.load(std::memory_order_acquire)) return;
  // The whole block (malloc_usable_size: ASan reports the requested size), not just the part a
  // container was using: a cleared std::string keeps its old bytes past the new size.
  const size_t n = malloc_usable_size(p);
  if (memmem(p, n, g_needle, g_needle_size) != nullptr) g_hits.fetch_add(1);
}

FreedMemoryWatch::FreedMemoryWatch(std::string_view needle) {
  EXPECT_FALSE(g_watching.load()) << "one FreedMemoryWatch at a time";
  EXPECT_TRUE(!needle.empty() && needle.size() <= sizeof(g_needle));
  g_needle_size = needle.size() < sizeof(g_needle) ? needle.size() : sizeof(g_needle);
  std::memcpy(g_needle, needle.data(), g_needle_size);
  g_hits = 0;
  g_watching.store(true, std::memory_order_release);
}

FreedMemoryWatch::~FreedMemoryWatch() { g_watching.store(false, std::memory_order_release); }

int FreedMemoryWatch::hits() const { return g_hits.load(); }

}  // namespace lockout::testing

namespace {

void* Allocate(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void Release(void* p) {
  lockout::testing::InspectBeforeFree(p);
  std::free(p);
}

}  // namespace

// The aligned forms are left to the runtime: they allocate and free as a pair of their own.
void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t) noexcept { Release(p); }
void operator delete[](void* p, size_t) noexcept { Release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }
