#include "src/crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"

namespace lockout::crypto {
namespace {

template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, ByteView data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) {
    std::abort();  // only fails on allocation failure or a broken OpenSSL
  }
  return out;
}

}  // namespace

Sha256Digest Sha256(ByteView data) { return Digest<32>(EVP_sha256(), data); }
Sha384Digest Sha384(ByteView data) { return Digest<48>(EVP_sha384(), data); }

Sha256Digest HmacSha256(ByteView key, ByteView data) {
  Sha256Digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

struct Sha384Hasher::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
};

Sha384Hasher::Sha384Hasher() : impl_(new Impl) {
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha384(), nullptr) != 1) {
    std::abort();
  }
}
Sha384Hasher::~Sha384Hasher() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}
void Sha384Hasher::Update(ByteView data) {
  if (EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) std::abort();
}
Sha384Digest Sha384Hasher::Finish() {
  Sha384Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != out.size()) std::abort();
  return out;
}

Sha384Digest ExtendPcr(const Sha384Digest& old, ByteView data) {
  Sha384Hasher h;
  h.Update(old);
  h.Update(data);
  return h.Finish();
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) std::abort();
  return out;
}

std::string RandomUuid() {
  Bytes b = RandomBytes(16);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string h = HexEncode(b);
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                      h.substr(16, 4), "-", h.substr(20, 12));
}

}  // namespace lockout::crypto
