#pragma once

// Registration of the `lockout` CLI's subcommands. Each family of commands lives in its own
// file and adds itself to the app; its callback stores the process exit code in `exit_code`.
// Commands print results to stdout and one-line errors to stderr ("lockout: <what>; <next step>").

#include "CLI/CLI.hpp"

namespace lockout::cli {

struct CommandContext {
  int exit_code = 0;
};

// `lockout audit verify FILE ...` (src/cli/audit_command.cc)
void RegisterAuditCommands(CLI::App& app, CommandContext& ctx);
// `lockout attest verify FILE ...` (src/cli/attest_command.cc)
void RegisterAttestCommands(CLI::App& app, CommandContext& ctx);
// `lockout describe-eif FILE`, `lockout build-eif ...` (src/cli/eif_command.cc)
void RegisterEifCommands(CLI::App& app, CommandContext& ctx);
// `lockout nsm attest|describe-pcr|describe|random` (src/cli/nsm_command.cc)
void RegisterNsmCommands(CLI::App& app, CommandContext& ctx);
// `lockout run-enclave`, `lockout local-blobs` (src/cli/run_enclave_command.cc).
void RegisterRunEnclaveCommands(CLI::App& app, CommandContext& ctx);

// `lockout eth address|sign-tx|personal-sign|sign-typed-data` (src/cli/eth_command.cc)
void RegisterEthCommands(CLI::App& app, CommandContext& ctx);

// `lockout gateway --eth-rpc tcp://HOST:PORT --enclave URI` (src/cli/gateway_command.cc)
void RegisterGatewayCommands(CLI::App& app, CommandContext& ctx);

// `lockout demo [--serve]` (src/cli/demo_command.cc)
void RegisterDemoCommands(CLI::App& app, CommandContext& ctx);

// `lockout local-aws [env]` (src/cli/local_aws_command.cc)
void RegisterLocalAwsCommands(CLI::App& app, CommandContext& ctx);

// `lockout client-key create` (src/cli/client_key_command.cc)
void RegisterClientKeyCommands(CLI::App& app, CommandContext& ctx);

// `lockout bench --connect URI ...` (src/cli/bench_command.cc)
void RegisterBenchCommands(CLI::App& app, CommandContext& ctx);

// `lockout signing-policy hash FILE` (src/cli/signing_policy_command.cc)
void RegisterSigningPolicyCommands(CLI::App& app, CommandContext& ctx);

// `lockout create-key|policy [lint]|check-lockout|doctor|sign|verify` and the client mode
// `lockout attest --enclave URI` (src/cli/operator_commands.cc). Register after the attest family.
void RegisterOperatorCommands(CLI::App& app, CommandContext& ctx);

}  // namespace lockout::cli
