#include "src/localaws/imds_token.h"

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/crypto/hash.h"

namespace lockout::localaws {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr size_t kKeySize = 32;
constexpr size_t kExpirySize = 8;
constexpr size_t kNonceSize = 16;
constexpr size_t kSignedSize = 1 + kExpirySize + kNonceSize;  // what the MAC covers
constexpr size_t kMacSize = 32;
constexpr size_t kRawSize = kSignedSize + kMacSize;
static_assert(ImdsTokenIssuer::kTokenSize == kRawSize / 3 * 4 && kRawSize % 3 == 0,
              "the token is base64 of kRawSize bytes without padding");

void PutU64(uint8_t* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

uint64_t GetU64(const uint8_t* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

}  // namespace

ImdsTokenIssuer::ImdsTokenIssuer(const Clock& clock) : clock_(clock) {
  Bytes random = crypto::RandomBytes(kKeySize);
  key_ = SecretBytes::CopyFrom(random);
  WipeBytes(random);
}

absl::StatusOr<std::string> ImdsTokenIssuer::Issue(int64_t ttl_seconds) const {
  if (ttl_seconds < kMinTtlSeconds || ttl_seconds > kMaxTtlSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("IMDS token TTL must be ", kMinTtlSeconds, "..", kMaxTtlSeconds, " seconds"));
  }
  const int64_t expiry_ms = absl::ToUnixMillis(clock_.Now() + absl::Seconds(ttl_seconds));
  if (expiry_ms <= 0) return absl::InternalError("IMDS token: clock before 1970");
  Bytes raw(kRawSize);
  raw[0] = kVersion;
  PutU64(&raw[1], static_cast<uint64_t>(expiry_ms));
  const Bytes nonce = crypto::RandomBytes(kNonceSize);
  std::memcpy(&raw[1 + kExpirySize], nonce.data(), kNonceSize);
  const crypto::Sha256Digest mac =
      crypto::HmacSha256(key_.Reveal(), ByteView(raw.data(), kSignedSize));
  std::memcpy(&raw[kSignedSize], mac.data(), kMacSize);
  return Base64Encode(raw);
}

bool ImdsTokenIssuer::Valid(std::string_view token) const {
  // The length check comes first, so an oversized header costs nothing.
  if (token.size() != kTokenSize) return false;
  absl::StatusOr<Bytes> raw = Base64Decode(token);
  if (!raw.ok() || raw->size() != kRawSize || (*raw)[0] != kVersion) return false;
  const crypto::Sha256Digest mac =
      crypto::HmacSha256(key_.Reveal(), ByteView(raw->data(), kSignedSize));
  if (!crypto::ConstantTimeEquals(ByteView(mac.data(), kMacSize),
                                  ByteView(raw->data() + kSignedSize, kMacSize))) {
    return false;
  }
  // Only an authentic expiry is read.
  const uint64_t expiry_ms = GetU64(raw->data() + 1);
  const int64_t now_ms = absl::ToUnixMillis(clock_.Now());
  return now_ms >= 0 && static_cast<uint64_t>(now_ms) < expiry_ms;
}

}  // namespace lockout::localaws
