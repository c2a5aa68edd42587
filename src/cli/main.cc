// `lockout`: the operator and developer CLI.

#include <cstdio>
#include <exception>

#include "CLI/CLI.hpp"
#include "src/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "lockout: keep a signing key usable only inside one measured AWS Nitro Enclave.\n"
      "Run `lockout COMMAND --help` for what each command does."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lockout 0.1.0");
  lockout::cli::CommandContext ctx;
  lockout::cli::RegisterAttestCommands(app, ctx);
  lockout::cli::RegisterAuditCommands(app, ctx);
  lockout::cli::RegisterBenchCommands(app, ctx);
  lockout::cli::RegisterClientKeyCommands(app, ctx);
  lockout::cli::RegisterDemoCommands(app, ctx);
  lockout::cli::RegisterEifCommands(app, ctx);
  lockout::cli::RegisterLocalAwsCommands(app, ctx);
  lockout::cli::RegisterNsmCommands(app, ctx);
  lockout::cli::RegisterOperatorCommands(app, ctx);
  lockout::cli::RegisterSigningPolicyCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse error is a usage error, exit 2 like the
    // commands' own argument checks (CLI11's own codes, 100-120, would mean nothing to scripts).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return ctx.exit_code;
}
