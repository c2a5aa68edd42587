// SignRequest leaves no copy of the session token in freed heap memory.
//
// This binary replaces the global operator delete with one that, while a watch is armed, scans
// each block about to be freed for a needle. std::string and every other standard container free
// through it; SecretBytes frees with std::free after wiping, so it is not scanned. If the
// canonical request (which holds the signed X-Amz-Security-Token) went back to a std::string, its
// buffer - and those of the pieces it was assembled from - would be freed holding the token and
// the watch would count them.

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "gtest/gtest.h"
#include "src/aws/sigv4.h"

namespace {

std::atomic<bool> g_watching{false};
std::atomic<int> g_freed_with_needle{0};
char g_needle[256];
size_t g_needle_size = 0;

void InspectBeforeFree(void* p) {
  if (p == nullptr || !g_watching.load(std::memory_order_acquire)) return;
  const size_t n = malloc_usable_size(p);
  if (memmem(p, n, g_needle, g_needle_size) != nullptr) g_freed_with_needle.fetch_add(1);
}

void* Allocate(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Arms the watch for `needle` for the lifetime of the object.
class FreedMemoryWatch {
 public:
  explicit FreedMemoryWatch(std::string_view needle) {
    g_needle_size = needle.size() < sizeof(g_needle) ? needle.size() : sizeof(g_needle);
    std::memcpy(g_needle, needle.data(), g_needle_size);
    g_freed_with_needle = 0;
    g_watching.store(true, std::memory_order_release);
  }
  ~FreedMemoryWatch() { g_watching.store(false, std::memory_order_release); }
  int hits() const { return g_freed_with_needle.load(); }
};

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept {
  InspectBeforeFree(p);
  std::free(p);
}
void operator delete[](void* p) noexcept {
  InspectBeforeFree(p);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  InspectBeforeFree(p);
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  InspectBeforeFree(p);
  std::free(p);
}

namespace lockout::aws {
namespace {

constexpr std::string_view kToken =
    "IQoJb3JpZ2luX2VjEFREEDTOKENCANARYxyzzy0123456789abcdefghijklmnopqrstuvwxyz";

HttpRequest KmsRequest() {
  HttpRequest r;
  r.method = "POST";
  r.target = "/";
  r.headers = {{"Host", "kms.us-east-1.amazonaws.com"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "TrentService.Decrypt"}};
  r.body = R"({"CiphertextBlob":"AQID"})";
  return r;
}

AwsCredentials Credentials() {
  AwsCredentials c;
  c.access_key_id = "ASIAEXAMPLEEXAMPLE";
  c.secret_access_key = SecretBytes::CopyFrom(std::string_view("secret/key/EXAMPLEKEYEXAMPLEKEY"));
  c.session_token = SecretBytes::CopyFrom(kToken);
  return c;
}

TEST(SigV4FreedMemoryTest, TheWatchSeesAStringFreedWithTheToken) {
  // The control: without it a broken hook would make the real test pass vacuously.
  FreedMemoryWatch watch(kToken);
  { std::string copy = "x-amz-security-token:" + std::string(kToken); }
  EXPECT_GE(watch.hits(), 1);
}

TEST(SigV4FreedMemoryTest, SigningFreesNoCopyOfTheSessionToken) {
  HttpRequest request = KmsRequest();
  const AwsCredentials credentials = Credentials();
  int hits = 0;
  {
    FreedMemoryWatch watch(kToken);
    {
      absl::StatusOr<SigningResult> signed_request =
          SignRequest(request, credentials, "us-east-1", "kms", absl::FromUnixSeconds(1700000000));
      ASSERT_TRUE(signed_request.ok()) << signed_request.status();
      // The token is signed, so the canonical request holds it ...
      EXPECT_NE(signed_request->canonical_request.RevealAsString().find(kToken),
                std::string_view::npos);
    }  // ... and dropping the result frees nothing that still does.
    // Signing again replaces the X-Amz-Security-Token header (RemoveHeader wipes the old value).
    ASSERT_TRUE(
        SignRequest(request, credentials, "us-east-1", "kms", absl::FromUnixSeconds(1700000060))
            .ok());
    hits = watch.hits();
  }
  EXPECT_EQ(hits, 0) << hits << " freed heap block(s) still held the session token";
  request.Wipe();
}

}  // namespace
}  // namespace lockout::aws
