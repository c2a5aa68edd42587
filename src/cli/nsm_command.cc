// `lockout nsm ...`: talk to a Nitro Security Module — the real /dev/nsm inside an enclave, or
// the local NSM service of `lockout local-aws` on a Unix socket.
//
//   lockout nsm attest [--public-key-der FILE] [--user-data-hex HEX] [--nonce-hex HEX] --out FILE
//   lockout nsm describe-pcr INDEX
//   lockout nsm describe
//   lockout nsm random [--bytes N]
//
// Every command takes --nsm DEVICE: "unix:///PATH" (or a path to a socket) for the local
// service, or a device path such as /dev/nsm. Default: $LOCKOUT_NSM_SOCKET if set, else
// /dev/nsm. The local service measures the process that talks to it — this `lockout` binary —
// so `nsm attest` yields documents whose PCR0 is this binary's measurement.
//
// Exit status: 0 success; 1 the NSM failed or refused the request; 2 usage error.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/commands.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/strings.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/open_nsm_device.h"

namespace lockout::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxRandomBytes = 1 << 16;

struct NsmArgs {
  std::string nsm;
  // attest
  std::string public_key_path;
  std::string user_data_hex;
  std::string nonce_hex;
  std::string out;
  bool has_user_data = false;
  bool has_nonce = false;
  // describe-pcr
  int index = -1;
  // random
  size_t bytes = 256;
};

int Usage(std::string_view message) {
  std::cerr << "lockout: nsm: " << message << "\n";
  return kExitUsage;
}

int Failed(std::string_view what, const absl::Status& status) {
  std::cerr << "lockout: nsm " << what << ": " << status.message()
            << "; check --nsm (or LOCKOUT_NSM_SOCKET) and that the NSM service is running\n";
  return kExitFailed;
}

// The device named by --nsm, $LOCKOUT_NSM_SOCKET or /dev/nsm.
absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> OpenDevice(const std::string& flag) {
  return nsm::OpenNsmDevice(flag.empty() ? nsm::DefaultNsmSpec() : flag);
}

absl::StatusOr<std::optional<Bytes>> OptionalHex(bool given, const std::string& hex,
                                                 std::string_view flag) {
  if (!given) return std::optional<Bytes>();
  absl::StatusOr<Bytes> b = HexDecode(hex);
  if (!b.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(flag), " is not valid hex"));
  }
  return std::optional<Bytes>(*std::move(b));
}

std::optional<ByteView> ViewOf(const std::optional<Bytes>& b) {
  if (!b.has_value()) return std::nullopt;
  return ByteView(*b);
}

int RunAttest(const NsmArgs& args) {
  absl::StatusOr<std::optional<Bytes>> user_data =
      OptionalHex(args.has_user_data, args.user_data_hex, "--user-data-hex");
  if (!user_data.ok()) return Usage(Std(user_data.status().message()));
  absl::StatusOr<std::optional<Bytes>> nonce =
      OptionalHex(args.has_nonce, args.nonce_hex, "--nonce-hex");
  if (!nonce.ok()) return Usage(Std(nonce.status().message()));
  std::optional<Bytes> public_key;
  if (!args.public_key_path.empty()) {
    absl::StatusOr<Bytes> pk = ReadFile(args.public_key_path, 1 << 16);
    if (!pk.ok()) return Usage(absl::StrCat("--public-key-der: ", pk.status().message()));
    public_key = *std::move(pk);
  }
  absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> device = OpenDevice(args.nsm);
  if (!device.ok()) return Failed("attest", device.status());
  nsm::NsmClient client(**device);
  absl::StatusOr<Bytes> doc =
      client.Attestation(ViewOf(*user_data), ViewOf(*nonce), ViewOf(public_key));
  if (!doc.ok()) return Failed("attest", doc.status());
  absl::Status written = WriteFileAtomic(args.out, *doc, 0644);
  if (!written.ok()) return Usage(absl::StrCat("--out: ", written.message()));
  return kExitOk;
}

int RunDescribePcr(const NsmArgs& args) {
  absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> device = OpenDevice(args.nsm);
  if (!device.ok()) return Failed("describe-pcr", device.status());
  nsm::NsmClient client(**device);
  absl::StatusOr<nsm::DescribePcrResponse> pcr =
      client.DescribePcr(static_cast<uint16_t>(args.index));
  if (!pcr.ok()) return Failed("describe-pcr", pcr.status());
  nlohmann::ordered_json out = {
      {"index", args.index}, {"lock", pcr->lock}, {"data", HexEncode(pcr->data)}};
  std::cout << out.dump() << "\n";
  return kExitOk;
}

int RunDescribe(const NsmArgs& args) {
  absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> device = OpenDevice(args.nsm);
  if (!device.ok()) return Failed("describe", device.status());
  nsm::NsmClient client(**device);
  absl::StatusOr<nsm::DescribeNsmResponse> d = client.DescribeNsm();
  if (!d.ok()) return Failed("describe", d.status());
  nlohmann::ordered_json out = {
      {"module_id", d->module_id},
      {"version", absl::StrCat(d->version_major, ".", d->version_minor, ".", d->version_patch)},
      {"max_pcrs", d->max_pcrs},
      {"locked_pcrs", d->locked_pcrs},
      {"digest", std::string(nsm::DigestName(d->digest))}};
  std::cout << out.dump() << "\n";
  return kExitOk;
}

int RunRandom(const NsmArgs& args) {
  if (args.bytes < 1 || args.bytes > kMaxRandomBytes) {
    return Usage(absl::StrCat("--bytes must be 1..", kMaxRandomBytes));
  }
  absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> device = OpenDevice(args.nsm);
  if (!device.ok()) return Failed("random", device.status());
  nsm::NsmClient client(**device);
  std::string hex;
  size_t have = 0;
  while (have < args.bytes) {
    absl::StatusOr<SecretBytes> r = client.GetRandom();
    if (!r.ok()) return Failed("random", r.status());
    if (r->empty()) return Failed("random", absl::InternalError("the NSM returned no bytes"));
    const size_t take = std::min(r->size(), args.bytes - have);
    hex += HexEncode(r->Reveal().subspan(0, take));  // printing them is what was asked for
    have += take;
  }
  std::cout << hex << "\n";
  return kExitOk;
}

void AddNsmOption(CLI::App* cmd, NsmArgs* args) {
  cmd->add_option("--nsm", args->nsm,
                  "NSM to use: unix:///PATH (local NSM service) or a device such as /dev/nsm "
                  "(default: $LOCKOUT_NSM_SOCKET, else /dev/nsm)");
}

}  // namespace

void RegisterNsmCommands(CLI::App& app, CommandContext& ctx) {
  auto* nsm_cmd = app.add_subcommand(
      "nsm", "Talk to a Nitro Security Module (/dev/nsm or the local NSM service)");
  nsm_cmd->require_subcommand(1);

  auto attest_args = std::make_shared<NsmArgs>();
  auto* attest = nsm_cmd->add_subcommand(
      "attest",
      "Get an attestation document (raw COSE_Sign1 CBOR) and write it to --out. The local NSM "
      "service measures the calling process, i.e. this lockout binary, into PCR0");
  AddNsmOption(attest, attest_args.get());
  attest->add_option("--public-key-der", attest_args->public_key_path,
                     "File whose bytes become the document's public_key (at most 1024)");
  auto* user_data = attest->add_option("--user-data-hex", attest_args->user_data_hex,
                                       "user_data as hex (at most 512 bytes)");
  auto* nonce =
      attest->add_option("--nonce-hex", attest_args->nonce_hex, "nonce as hex (at most 512 bytes)");
  attest->add_option("--out", attest_args->out, "Where to write the document")->required();
  attest->callback([&ctx, attest_args, user_data, nonce] {
    attest_args->has_user_data = user_data->count() > 0;
    attest_args->has_nonce = nonce->count() > 0;
    ctx.exit_code = RunAttest(*attest_args);
  });

  auto pcr_args = std::make_shared<NsmArgs>();
  auto* describe_pcr = nsm_cmd->add_subcommand(
      "describe-pcr", "Print a PCR as JSON: {\"index\":N,\"lock\":bool,\"data\":\"hex\"}");
  AddNsmOption(describe_pcr, pcr_args.get());
  describe_pcr->add_option("INDEX", pcr_args->index, "PCR index (0..31)")
      ->required()
      ->check(CLI::Range(0, 65535));
  describe_pcr->callback([&ctx, pcr_args] { ctx.exit_code = RunDescribePcr(*pcr_args); });

  auto describe_args = std::make_shared<NsmArgs>();
  auto* describe = nsm_cmd->add_subcommand(
      "describe", "Print the NSM's description (DescribeNSM) as JSON: module_id, version, ...");
  AddNsmOption(describe, describe_args.get());
  describe->callback([&ctx, describe_args] { ctx.exit_code = RunDescribe(*describe_args); });

  auto random_args = std::make_shared<NsmArgs>();
  auto* random =
      nsm_cmd->add_subcommand("random", "Print random bytes from the NSM (GetRandom) as hex");
  AddNsmOption(random, random_args.get());
  random->add_option("--bytes", random_args->bytes, "How many bytes (default 256)");
  random->callback([&ctx, random_args] { ctx.exit_code = RunRandom(*random_args); });
}

}  // namespace lockout::cli
