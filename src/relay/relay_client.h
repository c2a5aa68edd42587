#pragma once

// RelayClient: the enclave's side of the relay protocol (relay_protocol.h).
//
//   RelayClient relay({.endpoint = *net::Endpoint::Parse("vsock://3:5011")});
//   ASSIGN_OR_RETURN(GetSecretReply r, relay.GetSecret("lockout/signing-key"));
//   // r.secret: the ciphertext; r.credentials: the instance role's credentials for KMS.
//
// Each call opens a new connection (a net::BlockingStream), sends one v1 get_secret frame and
// reads one v1 reply frame, as the seed's enclave does. The reply is read into secret memory (it
// carries credentials), bounded by `max_reply_size` and by one deadline for the whole exchange
// after connecting.
//
// Errors: Unavailable (cannot connect, connection reset, relay closed before replying, or the
// relay said it is busy / its upstream is unavailable: retry later); DeadlineExceeded;
// ResourceExhausted (reply over the limit); DataLoss (relay closed mid-reply); InvalidArgument
// (an invalid secret name, or a malformed reply); the relay's error replies as DecodeReply maps
// them (PermissionDenied for a name not on its allowlist, FailedPrecondition when the secret is
// unavailable upstream, ...). Messages never contain reply bytes.
//
// Thread-safety: GetSecret is const and thread-safe (each call has its own connection).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/net/endpoint.h"
#include "src/relay/relay_protocol.h"

namespace lockout::relay {

struct RelayClientOptions {
  // The relay as seen from the enclave: the parent (CID 3), port 5011.
  net::Endpoint endpoint = net::Endpoint::Vsock(net::kVsockCidHost, 5011);
  absl::Duration connect_timeout = absl::Seconds(5);
  // Deadline for sending the request and reading the reply. The relay itself gives up on its
  // upstream calls well before this (lockout-relay: 20 s).
  absl::Duration timeout = absl::Seconds(30);
  size_t max_reply_size = kMaxReplySize;
  // The clock both timeouts run on (tests pass a FakeClock). Must outlive the client.
  const Clock* clock = &Clock::Real();
};

class RelayClient final {
 public:
  explicit RelayClient(RelayClientOptions options = {});

  // Asks the relay for `secret_name` and credentials. Errors as described above.
  absl::StatusOr<GetSecretReply> GetSecret(std::string_view secret_name) const;
  // Asks the relay for its signing policy (get_signing_policy): the policy file's text, not yet
  // parsed (the caller parses it strictly and seals what it got). FailedPrecondition when the
  // relay has none; otherwise errors as for GetSecret.
  absl::StatusOr<std::string> GetSigningPolicy() const;
  // Sends a batch of audit records (append_audit); returns once the relay says it wrote and
  // synced them all. FailedPrecondition when the relay keeps no audit log; Unavailable when it
  // could not write (retry); DataLoss if it claims another count; otherwise errors as for
  // GetSecret.
  absl::StatusOr<size_t> AppendAudit(const std::vector<std::string>& lines) const;
  // Sends the enclave's log lines and counters (append_log): the number of lines the relay
  // wrote. Errors as for GetSecret (an old relay answers Unimplemented: "unknown request_type").
  absl::StatusOr<size_t> AppendLog(const AppendLogRequest& request) const;

  // get_credentials: the instance role's credentials alone (no secret). Errors as for GetSecret.
  absl::StatusOr<GetCredentialsReply> GetCredentials() const;
  // put_secret: stores `secret` (a KMS ciphertext) under `secret_name`; returns the VersionId.
  // AlreadyExists ("secret exists") when the secret exists and the relay does not allow
  // overwriting; PermissionDenied when the name is not on its allowlist; else as for GetSecret.
  absl::StatusOr<std::string> PutSecret(std::string_view secret_name, ByteView secret) const;

  const RelayClientOptions& options() const { return options_; }

 private:
  RelayClientOptions options_;
};

}  // namespace lockout::relay
