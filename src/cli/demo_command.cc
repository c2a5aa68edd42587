// `lockout demo [--serve [--ready-file FILE]]`: the complete local lock-out story
// (src/demo/demo.h). Ctrl-C / SIGTERM stop everything the demo started.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "src/cli/commands.h"
#include "src/demo/demo.h"
#include "src/operator/key_policy.h"

namespace lockout::cli {
namespace {

struct DemoFlags {
  std::string key_type = "p521";
  std::string policy_mode = "recommended";
  bool serve = false;
  bool seed_compatible = false;
  std::string ready_file;
  std::string bin_dir;
  std::string work_dir;
  bool keep = false;
};

int RunDemoCommand(const DemoFlags& flags) {
  absl::StatusOr<ops::PolicyMode> mode = ops::ParsePolicyMode(flags.policy_mode);
  if (!mode.ok()) {
    std::cerr << "lockout: --policy-mode: " << mode.status().message() << "\n";
    return 2;
  }
  if (!flags.ready_file.empty() && !flags.serve) {
    std::cerr << "lockout: --ready-file goes with --serve\n";
    return 2;
  }
  // SIGINT/SIGTERM are blocked in every thread (all start after this) and taken by sigwait() in
  // one watcher thread, which only sets the flag the demo polls.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!finished.load()) stop.store(true);
  });

  demo::DemoOptions options;
  options.key_type = flags.key_type;
  options.policy_mode = *mode;
  options.serve = flags.serve;
  // The seed tutorial's policy mode is the tutorial exactly: its unauthenticated protocol too.
  options.authenticated = !flags.seed_compatible && *mode != ops::PolicyMode::kSeed;
  options.ready_file = flags.ready_file;
  options.bin_dir = flags.bin_dir;
  options.work_parent = flags.work_dir;
  options.keep_work_dir = flags.keep;
  options.out = &std::cout;
  options.stop = &stop;
  const int code = demo::RunDemo(options);

  finished.store(true);
  pthread_kill(watcher.native_handle(), SIGTERM);  // wakes sigwait; blocked, so never delivered
  watcher.join();
  return code;
}

}  // namespace

void RegisterDemoCommands(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<DemoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run the complete lock-out story locally: local-aws, KMS key, signing key and secret, "
      "relay and enclave; authenticated requests (a client key and a signing policy sealed into "
      "PCR16): the seed's unauthenticated request refused, an authorized client's signature "
      "verified, a replay refused, and (recommended) root adding a client of its own refused "
      "the key by KMS; the seed tutorial's policy leaking the key "
      "through ReEncrypt; then (recommended, the default) the recommended policy closing every "
      "leak path check-lockout probes for root, the admin and the instance role; a modified "
      "binary and a debug-mode enclave refused. One line per step; exit 0 only if every step "
      "passed.");
  cmd->add_option("--key-type", flags->key_type, "p256, p384, p521, secp256k1 or ed25519")
      ->check(CLI::IsMember({"p256", "p384", "p521", "secp256k1", "ed25519"}))
      ->capture_default_str();
  cmd->add_option("--policy-mode", flags->policy_mode,
                  "recommended (the seed policy's leak, then the recommended policy) or seed "
                  "(the tutorial's step 9 only)")
      ->check(CLI::IsMember({"seed", "recommended"}))
      ->capture_default_str();
  cmd->add_flag("--serve", flags->serve,
                "Stop after the first signature and keep the stack running until SIGTERM/Ctrl-C");
  cmd->add_flag("--seed-compatible", flags->seed_compatible,
                "Run the enclave without a signing policy: the seed's unauthenticated protocol "
                "(v1 {\"bytes\": ...}$$$ and v2 without auth), for the seed's test client. "
                "--policy-mode seed implies it");
  cmd->add_option("--ready-file", flags->ready_file,
                  "With --serve: write the endpoints, public key, key ARN, PCR0, the local-aws "
                  "credentials and (authenticated) client_key, the client key file for lockout "
                  "sign --client-key, here as JSON (mode 0600)");
  cmd->add_option("--bin-dir", flags->bin_dir,
                  "Where lockout-enclave and lockout-relay are (default: beside lockout)");
  cmd->add_option("--work-dir", flags->work_dir,
                  "Make the temporary directory here (default: $TMPDIR or /tmp)");
  cmd->add_flag("--keep", flags->keep, "Keep the temporary directory (logs, state) afterwards");
  cmd->callback([flags, &ctx] { ctx.exit_code = RunDemoCommand(*flags); });
}

}  // namespace lockout::cli
