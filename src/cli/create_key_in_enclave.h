#pragma once

// `lockout create-key --in-enclave`: the options it adds to create-key and what it runs
// (src/operator/enclave_key_generation.h). Kept out of operator_commands.cc so create-key's
// other modes and this one change independently.

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace lockout::cli {

struct InEnclaveArgs {
  bool enabled = false;  // --in-enclave
  std::string enclave;
  std::vector<std::string> roots;
  std::string client_key;
  std::string key_type;  // --key-type (create-key's --type otherwise)
  double timeout_s = 60;
};

// Adds --in-enclave, --enclave, --root-cert, --client-key, --key-type and --timeout to `cmd`.
void AddInEnclaveOptions(CLI::App* cmd, InEnclaveArgs& args);

// Runs create-key --in-enclave; the process exit code (0 ok, 1 failed, 2 usage).
// `hd`: create-key --hd (an HD seed; secp256k1 unless --key-type/--type say p256 or ed25519).
int RunCreateKeyInEnclave(const InEnclaveArgs& args, const std::string& kms_key,
                          const std::string& secret, const std::string& type, bool hd, bool json);

}  // namespace lockout::cli
