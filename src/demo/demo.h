#pragma once

// `lockout demo`: the complete local lock-out story in one process (issue 5 item 5).
//
// RunDemo() starts local-aws in-process (in a fresh temporary directory, with a debug-mode NSM
// socket beside the normal one), creates the KMS key (admin) and the signing key + secret (the
// instance role, as the seed's create_key.py), measures lockout-enclave, applies a policy, starts
// lockout-relay and lockout-enclave as child processes, signs the seed's test message over
// protocol v1 and verifies it. In the authenticated configuration (the default; `authenticated`)
// it also makes a client key (0600) and a signing policy naming that client, which the enclave
// seals into PCR16 and enforces, and instead of the v1 signature shows: the seed's
// unauthenticated v1 request refused ("unauthorized", counted under rule unauthenticated), the
// authorized client's signed v2 request signed and verified, and that exact request replayed
// refused (rule replayed_nonce); under the recommended policy (which then pins PCR16 too) the
// measured enclave booted with the policy plus a client of root's is refused the key by KMS
// (health, no signature, its log naming that policy's PCR16). Then, with a probe key the
// instance role may use (an attacker's):
//   recommended (default)  the policy applied first is the SEED tutorial's: the instance role
//                          recovers the signing key through GetSecretValue -> ReEncrypt ->
//                          Decrypt (shown by its public key's SHA-256 equal to the enclave's;
//                          never printed, wiped); then the recommended policy is applied, the
//                          enclave reloads the key under it, and check-lockout's logic run as
//                          root, the admin and the instance role finds every leak path closed;
//   seed                   the tutorial exactly: the seed policy; Decrypt without attestation is
//                          refused for root, the admin and the instance role (with what else
//                          check-lockout finds open), and the ReEncrypt leak is shown;
// and in both, that a modified binary and a debug-mode enclave cannot load the key and that the
// real enclave still signs. Each step prints one line to `out`:
//   "✓ <step> — <figure>"  or  "✗ <step> — <reason>"
// then a one-line summary naming the policy it holds for. With `serve`, the mode's policy is
// applied at once, the steps stop at the first signature, `ready_file` is written (JSON, mode
// 0600: enclave, relay, public_key_pem, key_type, kms_key_arn, secret_name, pcr0, the local-aws
// ready fields and, authenticated, client_key and signing_policy: the files' paths) and
// everything keeps running until `*stop`.
// Every child process is stopped and the temporary directory removed on every path (it is kept,
// and named, when a step failed, for its logs). Never prints key material or credentials.
// Thread-safety: one call at a time; `stop` may be set from another thread (a signal watcher).

#include <atomic>
#include <ostream>
#include <string>

#include "src/operator/key_policy.h"

namespace lockout::demo {

struct DemoOptions {
  std::string key_type = "p521";  // p256 p384 p521 secp256k1 ed25519
  ops::PolicyMode policy_mode = ops::PolicyMode::kRecommended;
  bool serve = false;
  // Authenticated requests (a sealed signing policy); false: the seed's unauthenticated v1 and
  // v2 protocol, as --seed-compatible and --policy-mode seed run it.
  bool authenticated = true;
  std::string ready_file;  // --serve only; may be empty
  // Directory with lockout-enclave and lockout-relay; empty: the directory of /proc/self/exe.
  std::string bin_dir;
  // Where the temporary directory is made; empty: $TMPDIR, else /tmp.
  std::string work_parent;
  bool keep_work_dir = false;
  std::ostream* out = nullptr;              // required
  const std::atomic<bool>* stop = nullptr;  // required: set to end --serve or interrupt
};

// The process exit code: 0 if every step passed (or --serve ended on `stop` after a clean
// setup), 1 if a step failed, 130 if interrupted before the end.
int RunDemo(const DemoOptions& options);

}  // namespace lockout::demo
