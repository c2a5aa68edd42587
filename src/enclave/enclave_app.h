#pragma once

// EnclaveApp: lockout-enclave wired together from its configuration (main.cc parses flags into
// an EnclaveConfig; tests can run the same wiring in-process).
//
//   ASSIGN_OR_RETURN(auto app, EnclaveApp::Start(config));
//   ... app->local_endpoint() ...
//   app->Stop();
//
// Start(): validates the configuration, opens the NSM device, reads the signing policy and seals
// it into PCR16 (before any key load), builds the relay and KMS clients, starts key loading (boot
// mode) and binds the listening socket; writes the ready file (JSON:
// listen URI actually bound, pid, load mode, status, and once loaded the key type and public key)
// after binding and again when the key is loaded.
// Thread-safety: Start/Stop from one thread.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/enclave/key_manager.h"
#include "src/net/endpoint.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::enclave {

struct EnclaveConfig {
  std::string listen = "vsock://ANY:5010";
  std::string relay = "vsock://3:5011";
  std::string secret_name;
  std::optional<signer::KeyType> key_type;
  // Generate a fresh key of this type at boot instead of loading one (benchmarks, tests; the
  // key never leaves the process).
  std::optional<signer::KeyType> ephemeral_key;
  // Region, KMS endpoint URL and the socket that reaches it. Empty region: AWS_REGION /
  // AWS_DEFAULT_REGION, else us-east-1. Empty endpoint: AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL,
  // else https://kms.REGION.amazonaws.com. kms_via: "" = vsock://3:8000 for the default AWS
  // endpoint and direct for an explicit one; "direct" = connect to the URL's host itself.
  std::string region;
  std::string kms_endpoint;
  std::string kms_via;
  std::string ca_bundle;  // empty: AWS_CA_BUNDLE, else the system bundle
  // "/dev/nsm" (a path) or "unix:///path/of/the/local/nsm.sock"; empty: no NSM (only with
  // ephemeral_key; attest then answers "attestation unavailable").
  std::string nsm = "/dev/nsm";
  LoadMode load_mode = LoadMode::kBoot;
  bool use_encryption_context = true;
  std::string ready_file;
  int threads = 0;  // 0: every CPU this process may use
  size_t max_frame_size = size_t{1} << 20;
  // Abuse limits (server.h): connection cap, memory budget for all connection buffers, idle
  // timeout, and the pool for blocking requests (attest, key loads).
  int max_connections = 4096;
  size_t memory_budget_mib = 64;
  absl::Duration idle_timeout = absl::Seconds(120);
  int blocking_threads = 2;
  size_t blocking_queue = 16;
  // The rate limit on attested sign replies (docs/PROTOCOL.md §2, "Attested replies"): a token
  // bucket checked before anything is signed; over it the request is answered "busy".
  double attested_replies_per_second = 100;
  uint32_t attested_replies_burst = 20;

  // The signing policy (docs/PROTOCOL.md, "Signing policy"). Start() seals it into PCR16
  // (policy_seal.h) before the key is ever requested; if sealing fails the key is never requested
  // and health says why. Either given parsed (tests) or read by Start() from
  // `signing_policy_file` (a file baked into the image); at most one of the two. The request
  // handler gets it (HandlerOptions::signing_policy) and verifies every request against it
  // (request_handler.h, docs/PROTOCOL.md §2 "Authenticated requests").
  // Null (and no file): no signing policy, the seed-compatible unauthenticated mode; logged once
  // at start as a warning, reported by health as "auth": "none".
  std::shared_ptr<const signpolicy::SigningPolicy> signing_policy;
  std::string signing_policy_file;
  // Instead: ask the relay for it at start (get_signing_policy, docs/PROTOCOL.md §3), retrying
  // for up to `signing_policy_wait`. A policy that cannot be fetched or parsed is a failure to
  // seal: the server starts, health says why, and the key is never requested. Whatever the relay
  // serves is sealed; a policy other than the one the key policy pins gets the key refused.
  bool signing_policy_from_relay = false;
  absl::Duration signing_policy_wait = absl::Seconds(20);

  // The audit trail (docs/PROTOCOL.md §5): every signature and refusal is chained, checkpoints
  // are signed by an audit key generated here (attested through the NSM when there is one) and
  // batches go to the relay (append_audit) for its --audit-log. With a buffer of
  // `audit_buffer_kib` for records the relay has not taken yet; past it records are counted as
  // lost (and the gap chained), or with `audit_required` the signature is withheld.
  bool audit = false;
  bool audit_required = false;
  size_t audit_buffer_kib = 8192;
  absl::Duration audit_flush_interval = absl::Milliseconds(100);

  // Send the log lines and counters to the relay (append_log, log_forwarder.h), from the start
  // of Start() until Stop(): a production enclave has no console.
  bool forward_log = true;
  absl::Duration log_forward_interval = absl::Seconds(1);
};

class EnclaveApp {
 public:
  static absl::StatusOr<std::unique_ptr<EnclaveApp>> Start(const EnclaveConfig& config);
  ~EnclaveApp();
  EnclaveApp(const EnclaveApp&) = delete;
  EnclaveApp& operator=(const EnclaveApp&) = delete;

  const net::Endpoint& local_endpoint() const;
  KeyManager& keys();
  void Stop();

 private:
  struct Impl;
  explicit EnclaveApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockout::enclave
