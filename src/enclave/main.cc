// lockout-enclave: the signing service that runs inside the Nitro Enclave (docs/PROTOCOL.md).
//
// Flags map onto EnclaveConfig (enclave_app.h); AWS credentials never appear on the command line
// (they come from the relay). Exit codes: 0 after SIGTERM/SIGINT, 2 for usage errors, 1 when the
// service cannot start (the one-line message says what to fix).

#include <openssl/crypto.h>
#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "src/cliutil/cli_conventions.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/enclave/enclave_app.h"
#include "src/nsm/open_nsm_device.h"
#include "src/signer/key_memory_lock.h"

namespace {

using lockout::enclave::EnclaveConfig;

int Run(const EnclaveConfig& config) {
  // Signals are handled by sigwait() on this thread; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<lockout::enclave::EnclaveApp>> app =
      lockout::enclave::EnclaveApp::Start(config);
  if (!app.ok()) {
    lockout::LogError("start_failed", {{"error", std::string(app.status().message())}});
    std::fprintf(stderr, "lockout-enclave: %s\n", std::string(app.status().message()).c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  lockout::LogInfo("stopping", {{"signal", sig}});
  (*app)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything holds a key: no core dumps, and OpenSSL's private BIGNUMs in a locked,
  // non-dumpable secure heap. It returns 1 when locked, 2 when it works but mlock (or a guard
  // page) was refused, 0 when there is none; health reports key_memory_locked either way.
  lockout::DisableCoreDumps();
  lockout::signer::KeyMemoryLock::Process().Record(
      "openssl secure heap", CRYPTO_secure_malloc_init(size_t{1} << 18, 16) == 1);

  CLI::App cli{
      "lockout-enclave: the signing service inside the Nitro Enclave.\n"
      "Limits against abusive clients (a client cannot crash the enclave or grow it without "
      "bound): --max-connections, --memory-budget-mib, --idle-timeout, --max-frame-size, and "
      "--blocking-threads/--blocking-queue for attest and key loads (\"busy\" when full)."};
  EnclaveConfig config;
  std::string key_type, ephemeral, load_at = "boot", context = "secret", log_level = "info";
  bool per_request = false;
  cli.add_option("--listen", config.listen, "Endpoint to serve v1 and v2 on")
      ->capture_default_str();
  cli.add_option("--relay", config.relay, "The parent's lockout-relay")->capture_default_str();
  cli.add_option("--secret", config.secret_name, "Secret name the relay serves (the key)");
  cli.add_option("--key-type", key_type,
                 "Require this key type: p256, p384, p521, secp256k1, ed25519 (default: any)");
  cli.add_option("--region", config.region, "AWS region (default AWS_REGION, else us-east-1)");
  cli.add_option("--kms-endpoint", config.kms_endpoint,
                 "KMS endpoint URL (default AWS_ENDPOINT_URL_KMS, else https://kms.REGION...)");
  cli.add_option("--kms-via", config.kms_via,
                 "Socket to reach KMS through: a URI or \"direct\" (default vsock://3:8000 for "
                 "AWS's endpoint, direct for an explicit one)");
  cli.add_option("--ca-bundle", config.ca_bundle, "CA bundle for TLS to KMS");
  std::string nsm_flag;
  CLI::Option* nsm_option = cli.add_option(
      "--nsm", nsm_flag,
      "NSM device: /dev/nsm, or the local NSM service's socket as a path or unix:///path; \"\" "
      "for none (only with --ephemeral-key). Default: $LOCKOUT_NSM_SOCKET if set, else /dev/nsm");
  cli.add_option("--load-at", load_at, "When to load the key: boot or first-request")
      ->check(CLI::IsMember({"boot", "first-request"}))
      ->capture_default_str();
  cli.add_flag("--decrypt-per-request", per_request,
               "The seed's design: one KMS decrypt per signature (for comparison)");
  cli.add_option("--encryption-context", context,
                 "secret: {\"lockout:secret\": NAME} (lockout create-key); none: the seed's")
      ->check(CLI::IsMember({"secret", "none"}))
      ->capture_default_str();
  cli.add_option("--ephemeral-key", ephemeral,
                 "Generate a key of this type at boot instead of loading one (tests, benchmarks)");
  cli.add_option("--ready-file", config.ready_file,
                 "Write JSON (bound URI, status, public key) here when ready");
  cli.add_option("--threads", config.threads, "Worker threads (default: every available CPU)");
  cli.add_option("--max-frame-size", config.max_frame_size, "Largest request frame in bytes")
      ->capture_default_str();
  double idle_seconds = 120;
  cli.add_option("--max-connections", config.max_connections,
                 "Most client connections open at once; more are accepted and closed at once. "
                 "RLIMIT_NOFILE is raised to fit (or, if the hard limit is lower, this cap is "
                 "lowered and the log says so)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cli.add_option("--memory-budget-mib", config.memory_budget_mib,
                 "MiB for all connections' buffered input, queued replies and waiting blocking "
                 "requests together. Past it the biggest offenders are closed first; keep it well "
                 "below the enclave's memory (at least max-frame-size + 1 MiB)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cli.add_option("--idle-timeout", idle_seconds,
                 "Seconds a connection may stay open without sending a complete request (bytes "
                 "that do not complete one do not count)")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  cli.add_option("--blocking-threads", config.blocking_threads,
                 "Threads for requests that block (attest: an NSM call; key loads in "
                 "first-request and per-request modes), so that signing never waits on them")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cli.add_option("--blocking-queue", config.blocking_queue,
                 "Blocking requests that may wait for a thread; past that they get the error "
                 "\"busy\" at once (retry later)")
      ->check(CLI::Range(0, 65536))
      ->capture_default_str();
  cli.add_option("--attested-replies-per-second", config.attested_replies_per_second,
                 "Rate limit on attested sign replies (a sign request with \"attest\": the "
                 "signature plus an NSM document binding it; docs/PROTOCOL.md, \"Attested "
                 "replies\"). Checked before anything is signed; over it the request is answered "
                 "\"busy\", and plain signing is never limited")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  cli.add_option("--attested-replies-burst", config.attested_replies_burst,
                 "How many attested sign replies may be served at once before the rate applies")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cli.add_option("--signing-policy", config.signing_policy_file,
                 "Signing policy file baked into the image (docs/PROTOCOL.md, \"Signing "
                 "policy\"): who may sign what. Sealed at boot into PCR16 (ExtendPCR + LockPCR) "
                 "before the key is requested, so a key policy pinning "
                 "kms:RecipientAttestation:PCR16 (lockout policy --signing-policy FILE) releases "
                 "the key only to an enclave running exactly this policy. Without it requests are "
                 "not authenticated (a warning is logged; health says \"auth\": \"none\")");
  cli.add_flag("--signing-policy-from-relay", config.signing_policy_from_relay,
               "Ask the relay for the signing policy at start (get_signing_policy; lockout-relay "
               "--signing-policy FILE) instead of a file in the image. Sealed the same way, so a "
               "relay serving any policy but the one the key policy pins gets the key refused");
  cli.add_flag("--audit", config.audit,
               "Keep an audit trail (docs/PROTOCOL.md, \"Audit trail\"): one record per signature "
               "and refusal "
               "(client, request digest, key, op, verdict), hash-chained, signed per batch by an "
               "audit key generated at boot (attested through the NSM) and sent to the relay "
               "(lockout-relay --audit-log FILE). Check the file with `lockout audit verify`");
  cli.add_flag("--audit-required", config.audit_required,
               "With --audit: withhold a signature (reply \"audit unavailable\") whose record "
               "cannot be kept because the audit buffer is full (relay slow or down). Default: "
               "keep signing and chain a \"lost N records\" marker, which verify reports");
  cli.add_option("--audit-buffer-kib", config.audit_buffer_kib,
                 "KiB of audit records kept for the relay while it is slow or down")
      ->check(CLI::Range(64, 1 << 20))
      ->capture_default_str();
  cli.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  bool no_forward_log = false;
  cli.add_flag("--no-forward-log", no_forward_log,
               "Keep the log on stderr only. By default every log line (also written to stderr) "
               "and the health counters go to the relay every second, which writes the lines "
               "into its own log (\"source\":\"enclave\") and serves the counters with its "
               "metrics as lockout_enclave_<name>: a production enclave has no console");
  // --version names the commit (never a dirty marker or a date): see src/cliutil/CMakeLists.txt.
  lockout::cliutil::AddVersionFlag(cli, "lockout-enclave");
  if (std::optional<int> done = lockout::cliutil::Parse(cli, argc, argv, "lockout-enclave")) {
    return *done;
  }

  lockout::LogLevel level;
  if (!lockout::ParseLogLevel(log_level, &level)) {
    std::fprintf(stderr, "lockout-enclave: --log-level must be debug, info, warn or error\n");
    return 2;
  }
  lockout::Logger::Default().SetLevel(level);
  if (!key_type.empty()) {
    auto t = lockout::signer::ParseKeyType(key_type);
    if (!t.ok()) {
      std::fprintf(stderr, "lockout-enclave: --key-type: %s\n",
                   std::string(t.status().message()).c_str());
      return 2;
    }
    config.key_type = *t;
  }
  if (!ephemeral.empty()) {
    auto t = lockout::signer::ParseKeyType(ephemeral);
    if (!t.ok()) {
      std::fprintf(stderr, "lockout-enclave: --ephemeral-key: %s\n",
                   std::string(t.status().message()).c_str());
      return 2;
    }
    config.ephemeral_key = *t;
  }
  config.load_mode = per_request         ? lockout::enclave::LoadMode::kPerRequest
                     : load_at == "boot" ? lockout::enclave::LoadMode::kBoot
                                         : lockout::enclave::LoadMode::kFirstRequest;
  config.use_encryption_context = context == "secret";
  config.idle_timeout = absl::Seconds(idle_seconds);
  config.forward_log = !no_forward_log;
  config.nsm = nsm_option->count() > 0 ? nsm_flag : lockout::nsm::DefaultNsmSpec();
  if (config.audit_required && !config.audit) {
    std::fprintf(stderr, "lockout-enclave: --audit-required needs --audit\n");
    return 2;
  }
  return Run(config);
}
