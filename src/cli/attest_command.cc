#include <iostream>

#include "src/cli/commands.h"

namespace lockout::cli {

void RegisterAttestCommands(CLI::App& app, CommandContext& ctx) {
  auto* attest = app.add_subcommand("attest", "Verify and inspect Nitro attestation documents");
  attest->require_subcommand(1);
  auto* verify = attest->add_subcommand("verify", "Verify an attestation document (pending)");
  verify->callback([&ctx] {
    std::cerr << "lockout: attest verify is not built yet\n";
    ctx.exit_code = 2;
  });
}

}  // namespace lockout::cli
