// `lockout local-aws`: run the local AWS (KMS, Secrets Manager, IMDSv2, NSM) until SIGTERM, and
// `lockout local-aws env` to print the variables that point clients at it.

#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "src/cli/commands.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/localaws/local_aws.h"

namespace lockout::cli {
namespace {

struct LocalAwsFlags {
  localaws::LocalAwsOptions options;
  std::string ready_file;
  std::string env_ready_file;
  std::string env_as = "instance";
  std::string log_level = "info";
  int64_t nsm_idle_timeout_s = 300;
};

int RunLocalAws(LocalAwsFlags& flags) {
  LogLevel level;
  if (!ParseLogLevel(flags.log_level, &level)) {
    std::cerr << "lockout: --log-level must be debug, info, warn or error\n";
    return 2;
  }
  Logger::Default().SetLevel(level);
  if (flags.nsm_idle_timeout_s < 1) {
    std::cerr << "lockout: --nsm-idle-timeout must be at least 1 second\n";
    return 2;
  }
  flags.options.nsm_idle_timeout = absl::Seconds(flags.nsm_idle_timeout_s);
  // Block the stop signals in every thread; this thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto local = localaws::LocalAws::Start(flags.options, Clock::Real());
  if (!local.ok()) {
    std::cerr << "lockout: local-aws cannot start: " << local.status().message() << "\n";
    return 1;
  }
  auto ready = (*local)->ReadyJson();
  if (!ready.ok()) {
    std::cerr << "lockout: local-aws: " << ready.status().message() << "\n";
    return 1;
  }
  if (!flags.ready_file.empty()) {
    std::string text = ready->dump(2) + "\n";
    absl::Status s = WriteFileAtomic(flags.ready_file, AsBytes(text), 0600);
    WipeString(text);
    if (!s.ok()) {
      std::cerr << "lockout: cannot write --ready-file: " << s.message() << "\n";
      return 1;
    }
  }
  // The log is JSON lines only (one object per line), this line included.
  LogInfo("local_aws_ready", {{"endpoint", (*ready)["kms_endpoint"].get<std::string>()},
                              {"nsm_socket", (*ready)["nsm_socket"].get<std::string>()},
                              {"ready_file", flags.ready_file},
                              {"stop", "SIGTERM or Ctrl-C"}});
  int sig = 0;
  sigwait(&signals, &sig);
  LogInfo("local_aws_stopping", {{"signal", sig}});
  (*local)->Stop();
  if (!flags.ready_file.empty()) {
    absl::Status removed = RemoveFileIfPresent(flags.ready_file);
    if (!removed.ok())
      LogWarn("ready_file_not_removed", {{"error", std::string(removed.message())}});
  }
  return 0;
}

int RunEnv(const LocalAwsFlags& flags) {
  auto text = ReadFileString(flags.env_ready_file, 1 << 20);
  if (!text.ok()) {
    std::cerr << "lockout: cannot read the ready file: " << text.status().message() << "\n";
    return 1;
  }
  auto ready = ParseJson(*text);
  if (!ready.ok()) {
    std::cerr << "lockout: " << flags.env_ready_file << " is not a local-aws ready file\n";
    return 1;
  }
  auto exports = localaws::EnvExports(*ready, flags.env_as);
  if (!exports.ok()) {
    std::cerr << "lockout: " << exports.status().message() << "\n";
    return 1;
  }
  std::cout << *exports;
  return 0;
}

}  // namespace

void RegisterLocalAwsCommands(CLI::App& app, CommandContext& ctx) {
  auto flags = std::make_shared<LocalAwsFlags>();
  auto* cmd = app.add_subcommand(
      "local-aws",
      "Run a local AWS for lockout: KMS (with key policies and Nitro attestation), Secrets "
      "Manager, IMDSv2 and an NSM service, faithful enough for the AWS CLI and boto3.\n"
      "Example:\n"
      "  lockout local-aws --state /tmp/la --ready-file /tmp/la/ready.json &\n"
      "  eval \"$(lockout local-aws env --ready-file /tmp/la/ready.json --as admin)\"\n"
      "  aws kms create-key --description demo");
  cmd->add_option("--state", flags->options.state_dir,
                  "Directory for all state (keys, secrets, CA); created if missing")
      ->required();
  cmd->add_option("--port", flags->options.port,
                  "HTTP port for KMS, Secrets Manager and IMDS (0: any free port)");
  cmd->add_option("--host", flags->options.host, "Address to bind")->capture_default_str();
  cmd->add_option(
      "--ready-file", flags->ready_file,
      "Write endpoints and principals' credentials here (JSON, mode 0600) once serving");
  cmd->add_option("--nsm-socket", flags->options.nsm_socket,
                  "Unix socket for the NSM service (default STATE/nsm.sock)");
  cmd->add_option("--debug-nsm-socket", flags->options.debug_nsm_socket,
                  "Also serve a debug-mode NSM (zero PCRs, same CA) on this Unix socket");
  cmd->add_flag("--debug-mode", flags->options.debug_mode,
                "NSM documents carry zero PCRs, as a Nitro enclave in debug mode");
  cmd->add_option("--account", flags->options.identity.account, "Account id")
      ->capture_default_str();
  cmd->add_option("--region", flags->options.identity.region, "Region")->capture_default_str();
  cmd->add_option("--threads", flags->options.threads, "HTTP worker threads (0: one per core)");
  cmd->add_option("--max-connections", flags->options.max_connections,
                  "HTTP connections open at once; one beyond this is closed at once")
      ->capture_default_str();
  cmd->add_option("--nsm-max-connections", flags->options.nsm_max_connections,
                  "connections per NSM socket; a new one closes the one longest without an answer")
      ->capture_default_str();
  cmd->add_option("--nsm-idle-timeout", flags->nsm_idle_timeout_s,
                  "seconds an NSM connection may stay idle between requests before it is closed")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "debug, info, warn or error")
      ->capture_default_str();
  cmd->require_subcommand(0, 1);

  auto* env = cmd->add_subcommand(
      "env",
      "Print the export lines that point the AWS CLI, boto3 and lockout at a running local-aws.\n"
      "Example: eval \"$(lockout local-aws env --ready-file ready.json --as instance)\"");
  env->add_option("--ready-file", flags->env_ready_file, "The ready file local-aws wrote")
      ->required();
  env->add_option("--as", flags->env_as, "Principal: root, admin or instance")
      ->check(CLI::IsMember({"root", "admin", "instance"}))
      ->capture_default_str();
  env->callback([flags, &ctx] { ctx.exit_code = RunEnv(*flags); });
  // --state is only needed to run the server, not for `env`.
  env->preparse_callback([cmd](size_t) { cmd->get_option("--state")->required(false); });
  cmd->callback([flags, env, &ctx] {
    if (env->parsed()) return;
    ctx.exit_code = RunLocalAws(*flags);
  });
}

}  // namespace lockout::cli
