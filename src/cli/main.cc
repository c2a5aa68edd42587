// `lockout`: the operator and developer CLI.

#include <cstdio>
#include <optional>

#include "CLI/CLI.hpp"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"

int main(int argc, char** argv) {
  CLI::App app{
      "lockout: keep a signing key usable only inside one measured AWS Nitro Enclave.\n"
      "Run `lockout COMMAND --help` for what each command does."};
  app.require_subcommand(1);
  lockout::cliutil::AddVersionFlag(app, "lockout");
  lockout::cli::CommandContext ctx;
  lockout::cli::RegisterAttestCommands(app, ctx);
  lockout::cli::RegisterAuditCommands(app, ctx);
  lockout::cli::RegisterBenchCommands(app, ctx);
  lockout::cli::RegisterClientKeyCommands(app, ctx);
  lockout::cli::RegisterDemoCommands(app, ctx);
  lockout::cli::RegisterEifCommands(app, ctx);
  lockout::cli::RegisterEthCommands(app, ctx);
  lockout::cli::RegisterGatewayCommands(app, ctx);
  lockout::cli::RegisterLocalAwsCommands(app, ctx);
  lockout::cli::RegisterNsmCommands(app, ctx);
  lockout::cli::RegisterOperatorCommands(app, ctx);
  lockout::cli::RegisterRunEnclaveCommands(app, ctx);
  lockout::cli::RegisterSigningPolicyCommands(app, ctx);
  // --help and --version exit 0; every parse error is a usage error, exit 2 with the closest
  // command or flag (docs/CLI.md), like the commands' own argument checks.
  if (std::optional<int> done = lockout::cliutil::Parse(app, argc, argv, "lockout")) return *done;
  return ctx.exit_code;
}
