#pragma once

// The hook for authenticated requests. Under a signing policy clients sign their v2 requests
// (docs/PROTOCOL.md §2, "Authenticated requests"; ClientKeyAuthenticator in
// client_key_authenticator.h); the load generator calls Decorate() on every v2 request object
// (already holding "id", "op" and "message") just before encoding it, so an implementation can
// add fields such as a client key id and a signature over the request. v1 requests are never
// decorated (v1 has no place for them).
//
// Contract:
//   * Decorate may add or change fields, but must leave "id" as it is: replies are matched to
//     requests by it.
//   * A non-OK status fails that one request; it is counted under the error reason
//     "authenticator" and the run goes on.
//   * Thread-safety: the engine calls one authenticator from every client thread at once, so
//     implementations must be thread-safe (e.g. stateless, or per-thread state).
//   * Cost: Decorate runs on the client's I/O threads and its time is part of every measured
//     latency; keep it cheap or raise --threads.

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace lockout::loadgen {

class RequestAuthenticator {
 public:
  virtual ~RequestAuthenticator() = default;
  virtual absl::Status Decorate(nlohmann::json& request) = 0;
};

// The default: requests go out as they are.
class NoAuthentication final : public RequestAuthenticator {
 public:
  absl::Status Decorate(nlohmann::json& /*request*/) override { return absl::OkStatus(); }
};

}  // namespace lockout::loadgen
