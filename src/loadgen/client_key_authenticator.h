#pragma once

// ClientKeyAuthenticator: the RequestAuthenticator (request_authenticator.h) for an enclave that
// runs with a signing policy: every v2 request gets its "auth" member, signed with a client key
// (docs/PROTOCOL.md §2, "Authenticated requests"; `lockout bench --client-key FILE`).
//
// Each request is signed at the clock's time with a fresh random nonce, so the enclave's replay
// guard sees every request once; the signing (Ed25519 or ECDSA P-256) happens on the client's I/O
// thread and is part of the measured latency, as it is for a real client.
// Thread-safety: thread-safe (ClientKey::Sign and the clock are).

#include <memory>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/common/clock.h"
#include "src/loadgen/request_authenticator.h"

namespace lockout::loadgen {

class ClientKeyAuthenticator final : public RequestAuthenticator {
 public:
  // `clock` must outlive the authenticator.
  explicit ClientKeyAuthenticator(std::shared_ptr<const auth::ClientKey> key,
                                  const Clock& clock = Clock::Real())
      : key_(std::move(key)), clock_(clock) {}

  absl::Status Decorate(nlohmann::json& request) override {
    return auth::SignRequest(*key_, clock_.Now(), request);
  }

 private:
  std::shared_ptr<const auth::ClientKey> key_;
  const Clock& clock_;
};

}  // namespace lockout::loadgen
