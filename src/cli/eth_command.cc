// `lockout eth address|sign-tx|personal-sign|sign-typed-data --enclave URI`: the enclave's
// Ethereum ops (docs/PROTOCOL.md §2, "Ethereum ops"; docs/WALLET.md) for a secp256k1 key.
//
// Each prints one JSON object. What the enclave returns is checked here with src/eth before it is
// printed: a signed transaction's sender is recovered from its raw bytes and must be the reply's
// "from"; a message signature's signer is recovered from the digest computed here and printed as
// "signer". Inputs are validated here first (the same parsers the enclave runs), so a malformed
// transaction or typed-data file is a usage error and nothing is sent.
//
// Exit status (docs/CLI.md): 0 done; 1 the enclave refused or could not be reached, or its reply
// did not check; 2 usage (flags, an unreadable or malformed input file).

#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/client_key_option.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/strings.h"
#include "src/eth/address.h"
#include "src/eth/eip712.h"
#include "src/eth/personal_message.h"
#include "src/eth/recover.h"
#include "src/eth/transaction.h"
#include "src/gateway/eth_gateway.h"
#include "src/hd/derivation_path.h"
#include "src/net/endpoint.h"
#include "src/operator/enclave_client.h"

namespace lockout::cli {
namespace {

using cliutil::kExitFailed;
using cliutil::kExitOk;
using cliutil::kExitUsage;
constexpr size_t kMaxInputFile = 1 << 20;

int Usage(std::string_view message) { return cliutil::ReportUsageError("lockout eth", message); }

int Fail(std::string_view message) { return cliutil::ReportFailure("lockout eth", message); }

using cliutil::ParseOnly;

enum class EthOp { kAddress, kSignTx, kPersonalSign, kSignTypedData };

struct EthArgs {
  EthOp op = EthOp::kAddress;
  std::string enclave;
  double timeout_s = 10;
  std::string client_key;
  bool json = false;        // accepted: every eth command prints one JSON object
  std::string file;         // sign-tx, sign-typed-data: the JSON; - for standard input
  std::string message;      // personal-sign
  std::string message_hex;  // personal-sign
  std::string message_file;
  std::string path;  // an HD seed's derivation path ("": none)
};

std::string Hex0x(ByteView data) { return absl::StrCat("0x", HexEncode(data)); }

// The hint after an enclave error.
std::string Hint(absl::string_view error, bool have_client_key) {
  if (absl::StrContains(error, "unauthorized")) {
    return have_client_key
               ? "; the enclave's log names the rule (eth ops need the \"sign\" permission, "
                 "eth address \"public_key\")"
               : "; the enclave has a signing policy: add --client-key FILE";
  }
  if (absl::StrContains(error, "bad request")) {
    return "; the enclave's key must be secp256k1, and a transaction's \"from\" its address "
           "(the enclave's log says which)";
  }
  return "";
}

// The message personal-sign signs: --message TEXT, --message-hex 0xHEX or --message-file FILE.
absl::StatusOr<Bytes> PersonalMessage(const EthArgs& a) {
  const int given = !a.message.empty() + !a.message_hex.empty() + !a.message_file.empty();
  if (given != 1) {
    return absl::InvalidArgumentError(
        "give the message as exactly one of --message TEXT, --message-hex 0xHEX, "
        "--message-file FILE");
  }
  if (!a.message.empty()) return ToBytes(a.message);
  if (!a.message_hex.empty()) {
    absl::StatusOr<Bytes> bytes = HexDecodeAllowPrefix(a.message_hex);
    if (!bytes.ok()) return absl::InvalidArgumentError("--message-hex is not hex (0x allowed)");
    return bytes;
  }
  absl::StatusOr<std::string> text = cliutil::ReadInput(a.message_file, kMaxInputFile);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--message-file: ", text.status().message()));
  }
  return ToBytes(*text);
}

// The address a wallet signature over `digest` recovers to, checksummed.
absl::StatusOr<std::string> Signer(const crypto::Keccak256Digest& digest,
                                   const eth::RecoverableSignature& sig) {
  absl::StatusOr<eth::Address> who = eth::RecoverAddress(digest, sig);
  if (!who.ok()) return who.status();
  return eth::ChecksumAddress(*who);
}

int RunEth(const EthArgs& a) {
  if (a.enclave.empty()) return Usage("--enclave URI is required (e.g. vsock://20:5010)");
  absl::StatusOr<net::Endpoint> endpoint = net::Endpoint::Parse(a.enclave);
  if (!endpoint.ok()) return Usage(absl::StrCat("--enclave: ", endpoint.status().message()));
  if (a.timeout_s <= 0) return Usage("--timeout must be positive");

  // Inputs first: a malformed file is a usage error and nothing is sent.
  nlohmann::json document;
  Bytes message;
  std::optional<crypto::Keccak256Digest> digest;  // for the signer check
  if (a.op == EthOp::kSignTx || a.op == EthOp::kSignTypedData) {
    absl::StatusOr<std::string> text = cliutil::ReadInput(a.file, kMaxInputFile);
    if (!text.ok()) return Usage(absl::StrCat(a.file, ": ", text.status().message()));
    absl::StatusOr<nlohmann::json> json = ParseJsonStrict(*text);
    if (!json.ok() || !json->is_object()) {
      return Usage(absl::StrCat(a.file, ": not a JSON object",
                                json.ok() ? "" : absl::StrCat(" (", json.status().message(), ")")));
    }
    document = *std::move(json);
    if (a.op == EthOp::kSignTx) {
      absl::StatusOr<eth::Transaction> tx = eth::TransactionFromJson(document);
      if (!tx.ok()) return Usage(absl::StrCat(a.file, ": ", tx.status().message()));
    } else {
      absl::StatusOr<eth::TypedData> typed = eth::TypedData::Create(document);
      if (!typed.ok()) return Usage(absl::StrCat(a.file, ": ", typed.status().message()));
      digest = typed->digest();
    }
  }
  if (a.op == EthOp::kPersonalSign) {
    absl::StatusOr<Bytes> m = PersonalMessage(a);
    if (!m.ok()) return Usage(Std(m.status().message()));
    message = *std::move(m);
    digest = eth::PersonalMessageHash(message);
  }
  absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
      LoadClientKeyOption(a.client_key, "lockout eth");
  if (!key.ok()) return Usage(std::string(key.status().message()));
  const std::shared_ptr<const auth::ClientKey> client_key = *std::move(key);
  if (!a.path.empty()) {
    absl::StatusOr<hd::DerivationPath> path = hd::DerivationPath::Parse(a.path);
    if (!path.ok()) return Usage(absl::StrCat("--path: ", path.status().message()));
  }
  if (ParseOnly()) return kExitOk;

  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      ops::EnclaveV2Client::Connect(*endpoint, absl::Seconds(a.timeout_s));
  if (!client.ok()) return Fail(Std(client.status().message()));
  if (client_key != nullptr) (*client)->Authenticate(client_key);
  (*client)->UsePath(a.path);

  nlohmann::ordered_json out;
  if (!a.path.empty()) out["path"] = a.path;
  absl::Status error;
  switch (a.op) {
    case EthOp::kAddress: {
      absl::StatusOr<eth::Address> address = (*client)->EthAddress();
      if (!address.ok()) {
        error = address.status();
        break;
      }
      out["address"] = eth::ChecksumAddress(*address);
      break;
    }
    case EthOp::kSignTx: {
      absl::StatusOr<ops::EthSignedTransaction> tx = (*client)->EthSignTransaction(document);
      if (!tx.ok()) {
        error = tx.status();
        break;
      }
      out["raw"] = Hex0x(tx->raw);
      out["hash"] = Hex0x(ByteView(tx->hash.data(), tx->hash.size()));
      out["from"] = eth::ChecksumAddress(tx->from);  // recovered from raw (enclave_client)
      break;
    }
    case EthOp::kPersonalSign:
    case EthOp::kSignTypedData: {
      absl::StatusOr<eth::RecoverableSignature> sig = a.op == EthOp::kPersonalSign
                                                          ? (*client)->EthPersonalSign(message)
                                                          : (*client)->EthSignTypedData(document);
      if (!sig.ok()) {
        error = sig.status();
        break;
      }
      absl::StatusOr<std::string> signer = Signer(*digest, *sig);
      if (!signer.ok()) {
        return Fail(absl::StrCat("the enclave's signature recovers to no key: ",
                                 signer.status().message()));
      }
      out["signature"] = gateway::WalletSignatureHex(*sig);
      out["signer"] = *signer;
      break;
    }
  }
  if (!error.ok()) {
    return Fail(absl::StrCat(error.message(), Hint(error.message(), client_key != nullptr)));
  }
  std::cout << out.dump() << "\n";
  return kExitOk;
}

CLI::App* AddEthCommand(CLI::App* eth, CommandContext& ctx, EthOp op, const char* name,
                        const char* description) {
  auto a = std::make_shared<EthArgs>();
  a->op = op;
  auto* cmd = eth->add_subcommand(name, description);
  cmd->add_option("--enclave", a->enclave,
                  "The enclave (vsock://CID:PORT, tcp://HOST:PORT, unix://PATH); its key must be "
                  "secp256k1")
      ->required();
  cmd->add_option("--timeout", a->timeout_s, "Seconds per request")->capture_default_str();
  cmd->add_option("--client-key", a->client_key,
                  "Sign the request with this client key (lockout client-key create): required "
                  "by an enclave with a signing policy, whose client needs the \"sign\" "
                  "permission (eth address: \"public_key\")")
      ->type_name("FILE");
  cmd->add_flag("--json", a->json, "JSON output (the default: one JSON object on stdout)");
  cmd->add_option("--path", a->path,
                  "Derivation path of the enclave's HD seed (create-key --hd), e.g. "
                  "m/44'/60'/0'/0/0: required with an HD seed secret, an error with a single key")
      ->option_text("PATH");
  if (op == EthOp::kSignTx || op == EthOp::kSignTypedData) {
    cmd->add_option("file", a->file, "The JSON file; - for standard input (<= 1 MiB)")
        ->type_name("FILE")
        ->required();
  }
  if (op == EthOp::kPersonalSign) {
    cmd->add_option("--message", a->message, "The message, as text (its UTF-8 bytes)");
    cmd->add_option("--message-hex", a->message_hex,
                    "The message, as hex (0x allowed): what wallets pass to personal_sign");
    cmd->add_option("--message-file", a->message_file,
                    "The message: this file's bytes (<= 1 MiB); - for standard input")
        ->type_name("FILE");
  }
  cmd->callback([a, &ctx] { ctx.exit_code = RunEth(*a); });
  return cmd;
}

}  // namespace

void RegisterEthCommands(CLI::App& app, CommandContext& ctx) {
  auto* eth = app.add_subcommand(
      "eth",
      "Ethereum with the enclave's secp256k1 key: its address, signed transactions, "
      "personal_sign and EIP-712 signatures (docs/WALLET.md)");
  eth->require_subcommand(1);
  AddEthCommand(eth, ctx, EthOp::kAddress, "address",
                "Print the key's EIP-55 address: {\"address\": \"0x..\"}\n"
                "Example: lockout eth address --enclave vsock://20:5010\n"
                "Example: lockout eth address --enclave vsock://20:5010 --path "
                "\"m/44'/60'/0'/0/0\"");
  AddEthCommand(eth, ctx, EthOp::kSignTx, "sign-tx",
                "Sign a transaction given as eth_signTransaction JSON (legacy with EIP-155, "
                "EIP-2930 or EIP-1559; \"from\", if given, must be the key's address). Prints "
                "{\"raw\", \"hash\", \"from\"}: raw is eth_sendRawTransaction's input; from is "
                "recovered here from raw and checked against the enclave's.\n"
                "Example: lockout eth sign-tx --enclave vsock://20:5010 tx.json")
      ->footer(
          "\ntx.json, e.g. (quantities as 0x hex or decimal strings; type inferred from the "
          "fee fields):\n"
          "  {\"type\": \"0x2\", \"chainId\": \"0x1\", \"nonce\": \"0x0\", \"to\": \"0x...\",\n"
          "   \"value\": \"0x2386f26fc10000\", \"gas\": \"0x5208\",\n"
          "   \"maxPriorityFeePerGas\": \"0x3b9aca00\", \"maxFeePerGas\": \"0x77359400\"}");
  AddEthCommand(eth, ctx, EthOp::kPersonalSign, "personal-sign",
                "Sign a message as personal_sign does (EIP-191: keccak256(\"\\x19Ethereum Signed "
                "Message:\\n\" + length + message)). Prints {\"signature\": \"0x\" r||s||v "
                "(v 27/28), \"signer\": the address it recovers to, computed here}.\n"
                "Example: lockout eth personal-sign --enclave vsock://20:5010 --message hello");
  AddEthCommand(eth, ctx, EthOp::kSignTypedData, "sign-typed-data",
                "Sign EIP-712 typed data (eth_signTypedData_v4's JSON: types, primaryType, "
                "domain, message). Prints {\"signature\", \"signer\"} as personal-sign.\n"
                "Example: lockout eth sign-typed-data --enclave vsock://20:5010 mail.json");
}

}  // namespace lockout::cli
