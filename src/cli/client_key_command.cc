// `lockout client-key create`: a key pair for a client of an enclave that runs with a signing
// policy (docs/PROTOCOL.md §2, "Authenticated requests"). Writes the private key file (0600) and
// prints the public half as the signing-policy entry to paste into the policy's "clients".
//
// Exit status: 0 written; 1 the file could not be written; 2 usage error.

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/encoding.h"
#include "src/operator/client_key_file.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::cli {
namespace {

using cliutil::kExitFailed;
using cliutil::kExitOk;
using cliutil::kExitUsage;

struct CreateArgs {
  std::string out;
  std::string algorithm = "ed25519";
  std::string name;
  std::vector<std::string> ops = {"sign"};
  std::vector<std::string> keys = {"*"};
  bool overwrite = false;
  bool json = false;
};

int Usage(std::string_view message) {
  std::cerr << "lockout: " << message << "\n";
  return kExitUsage;
}

// The client name: --name, else the file name without directory and extension.
std::string DefaultName(const std::string& out) {
  std::string base = out.substr(out.find_last_of('/') + 1);
  if (const size_t dot = base.find('.'); dot != std::string::npos && dot > 0) base.resize(dot);
  return base;
}

int RunCreate(const CreateArgs& a) {
  absl::StatusOr<auth::ClientKeyAlgorithm> algorithm = auth::ParseClientKeyAlgorithm(a.algorithm);
  if (!algorithm.ok()) return Usage("--algorithm must be ed25519 or p256");
  const std::string name = a.name.empty() ? DefaultName(a.out) : a.name;
  if (!auth::IsValidClientName(name)) {
    return Usage(absl::StrCat(
        a.name.empty() ? "the name taken from --out" : "--name",
        " must be 1 to 64 characters of A-Z a-z 0-9 . _ - (the client's name in the policy)"));
  }
  for (const std::string& op : a.ops) {
    bool known = false;
    for (std::string_view k : signpolicy::kKnownOps) known = known || op == k;
    if (!known) return Usage("--ops takes sign, public_key, attest, health");
  }
  absl::StatusOr<std::unique_ptr<auth::ClientKey>> key =
      auth::ClientKey::Generate(*algorithm, name);
  if (!key.ok()) {
    std::cerr << "lockout: client-key create: " << key.status().message() << "\n";
    return kExitFailed;
  }
  if (absl::Status written = ops::WriteClientKeyFile(a.out, **key, a.overwrite); !written.ok()) {
    std::cerr << "lockout: client-key create: " << written.message() << "\n";
    return absl::IsAlreadyExists(written) ? kExitUsage : kExitFailed;
  }
  std::vector<std::string> ops = a.ops, keys = a.keys;
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  nlohmann::ordered_json entry;
  entry["name"] = name;
  entry["algorithm"] = signpolicy::AlgorithmName(*algorithm);
  entry["public_key"] = HexEncode((*key)->public_key());
  entry["ops"] = ops;
  entry["keys"] = keys;
  if (a.json) {
    std::cout << entry.dump() << "\n";
    return kExitOk;
  }
  std::cout << "Client key \"" << name << "\" (" << signpolicy::AlgorithmName(*algorithm)
            << ") written to " << a.out << " (mode 0600).\n"
            << "Keep it secret: whoever holds the file can sign as \"" << name << "\".\n\n"
            << "Add this entry to the signing policy's \"clients\" list:\n\n"
            << "  " << entry.dump() << "\n\n"
            << "A new policy means a new PCR16: run `lockout signing-policy hash POLICY` and\n"
            << "update the key policy (`lockout policy --signing-policy POLICY`) before the\n"
            << "enclave boots with it. Then sign with:\n"
            << "  lockout sign --enclave URI --client-key " << a.out << " --message TEXT\n";
  return kExitOk;
}

}  // namespace

void RegisterClientKeyCommands(CLI::App& app, CommandContext& ctx) {
  auto* group = app.add_subcommand(
      "client-key",
      "Key pairs for the clients of an enclave that runs with a signing policy.\n"
      "Such an enclave serves only requests signed by a client its policy lists.");
  group->require_subcommand(1);
  auto a = std::make_shared<CreateArgs>();
  auto* cmd = group->add_subcommand(
      "create",
      "Generate a client key pair: write the private key file (0600) and print the public half\n"
      "as the entry to paste into the signing policy's \"clients\".");
  cmd->add_option("--out", a->out, "Where to write the private key file (must not exist)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--algorithm", a->algorithm,
                  "ed25519 (fast, small) or p256 (ECDSA P-256 with SHA-256, for HSMs and "
                  "platforms without Ed25519)")
      ->check(CLI::IsMember({"ed25519", "p256", "ecdsa-p256"}))
      ->capture_default_str();
  cmd->add_option("--name", a->name,
                  "The client's name in the policy, [A-Za-z0-9._-]{1,64} (default: the file name "
                  "without extension)");
  cmd->add_option("--ops", a->ops, "Ops the printed entry allows: sign, public_key, attest, health")
      ->capture_default_str();
  cmd->add_option("--keys", a->keys, "Key (secret) names the printed entry allows; * for every key")
      ->capture_default_str();
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing file");
  cmd->add_flag("--json", a->json, "Print only the policy entry, as one JSON object");
  cmd->footer(
      "\nExample:\n"
      "  lockout client-key create --out gateway.key --name gateway\n"
      "  # paste the printed entry into policy.json's \"clients\", then:\n"
      "  lockout signing-policy hash policy.json        # the PCR16 the key policy must pin\n"
      "  lockout sign --enclave vsock://20:5010 --client-key gateway.key --message hello\n"
      "\nThe key file (JSON: format, name, algorithm, private_key, public_key; docs/PROTOCOL.md\n"
      "\"Client key file\") is the client's secret. The enclave knows only the public key, from\n"
      "its policy; a request signed with this key, fresh (within the policy's replay window) and\n"
      "never seen before, is served if the entry allows its op and key.");
  cmd->callback([a, &ctx] { ctx.exit_code = RunCreate(*a); });
}

}  // namespace lockout::cli
