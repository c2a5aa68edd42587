#include <iostream>

#include "src/cli/commands.h"

namespace lockout::cli {

void RegisterEifCommands(CLI::App& app, CommandContext& ctx) {
  auto* describe = app.add_subcommand("describe-eif", "Measure an enclave image file (pending)");
  describe->callback([&ctx] {
    std::cerr << "lockout: describe-eif is not built yet\n";
    ctx.exit_code = 2;
  });
}

}  // namespace lockout::cli
