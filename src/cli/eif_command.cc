// `lockout describe-eif FILE`: measure an enclave image file and print nitro-cli-style JSON.

#include <iostream>
#include <memory>
#include <string>

#include "src/cli/commands.h"
#include "src/eif/eif_description.h"
#include "src/eif/eif_reader.h"

namespace lockout::cli {
namespace {

struct DescribeEifOptions {
  std::string path;
  bool allow_bad_crc = false;
};

int RunDescribeEif(const DescribeEifOptions& options) {
  eif::EifReadOptions read;
  read.require_valid_crc = !options.allow_bad_crc;
  absl::StatusOr<eif::EifImage> image = eif::EifReader::Open(options.path, read);
  if (!image.ok()) {
    std::cerr << "lockout: describe-eif: " << image.status().message()
              << "; check that the file is a complete EIF built by nitro-cli or lockout\n";
    return 1;
  }
  std::cout << eif::DescribeEif(*image).dump(2) << "\n";
  return 0;
}

}  // namespace

void RegisterEifCommands(CLI::App& app, CommandContext& ctx) {
  auto options = std::make_shared<DescribeEifOptions>();
  auto* describe = app.add_subcommand(
      "describe-eif",
      "Measure an enclave image file (EIF): prints JSON like `nitro-cli describe-eif` with\n"
      "EifVersion, Measurements (PCR0, PCR1, PCR2 and, for signed images, PCR8), IsSigned,\n"
      "CheckCRC and SignatureCheck. Exits 1 with a one-line error if the file is not a valid EIF.");
  describe->add_option("file,--eif-path", options->path, "Path of the .eif file")->required();
  describe->add_flag("--allow-bad-crc", options->allow_bad_crc,
                     "Report a CRC mismatch as \"CheckCRC\": false instead of failing");
  describe->callback([&ctx, options] { ctx.exit_code = RunDescribeEif(*options); });
}

}  // namespace lockout::cli
