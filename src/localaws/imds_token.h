#pragma once

// ImdsTokenIssuer: IMDSv2 session tokens that need no table.
//
// A token is base64(version 0x01 ‖ expiry (unix ms, 8 bytes big-endian) ‖ 16 random bytes ‖
// HMAC-SHA256(key, the 25 bytes before it)), 76 characters. The key is 32 random bytes made per
// issuer (per process) and never leaves it, so a token is valid only for the process that issued
// it and only until its expiry, and verifying one needs no state.
//
// Why stateless: a table of issued tokens either grows without bound or, when capped, refuses
// tokens once anyone has asked for enough of them — a local client could fill it in seconds and
// lock out the relay's credential refresh for the tokens' lifetime. Here issuing costs one HMAC
// and no memory, so every legitimate client always gets a token. Like EC2's IMDS, a token cannot
// be revoked before its expiry (EC2: "a token can't be revoked"; restart the process to void all).
//
// Errors: Issue takes a TTL of 1..21600 seconds (IMDSv2's X-aws-ec2-metadata-token-ttl-seconds
// range), InvalidArgument otherwise. Valid() is false for anything but an unexpired token this
// issuer made (wrong length, bad base64, unknown version, forged or altered MAC, expired).
// Thread-safety: thread-safe (immutable after construction; `clock` must be thread-safe and
// outlive the issuer).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"

namespace lockout::localaws {

class ImdsTokenIssuer final {
 public:
  static constexpr int64_t kMinTtlSeconds = 1;
  static constexpr int64_t kMaxTtlSeconds = 21600;  // 6 hours, as EC2
  static constexpr size_t kTokenSize = 76;          // base64 of 57 bytes, no padding

  explicit ImdsTokenIssuer(const Clock& clock);
  ImdsTokenIssuer(const ImdsTokenIssuer&) = delete;
  ImdsTokenIssuer& operator=(const ImdsTokenIssuer&) = delete;

  // A token valid for `ttl_seconds` from now.
  absl::StatusOr<std::string> Issue(int64_t ttl_seconds) const;
  // True for an unexpired token made by this issuer.
  bool Valid(std::string_view token) const;

 private:
  const Clock& clock_;
  SecretBytes key_;
};

}  // namespace lockout::localaws
