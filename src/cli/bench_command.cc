// `lockout bench`: a load generator for a running lockout-enclave (src/loadgen). This file only
// parses and checks arguments, finds the enclave's public key (v2 `public_key`, or --public-key),
// checks --key-type, runs the engine and prints the report.
//
// Exit status: 0 every request signed and every sampled signature verified; 1 errors (any
// request error, an unreachable enclave, a key-type mismatch, a signature that does not verify);
// 2 usage error.

#include <sched.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/cli/client_key_option.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/clock.h"
#include "src/common/file.h"
#include "src/loadgen/client_key_authenticator.h"
#include "src/loadgen/load_engine.h"
#include "src/loadgen/load_options.h"
#include "src/loadgen/load_report.h"
#include "src/loadgen/request_authenticator.h"
#include "src/net/blocking_stream.h"
#include "src/net/endpoint.h"
#include "src/operator/enclave_client.h"
#include "src/operator/signature_verify.h"

namespace lockout::cli {
namespace {

using cliutil::kExitFailed;
using cliutil::kExitOk;
using cliutil::kExitUsage;
constexpr size_t kMaxPublicKeyFile = 64 * 1024;
constexpr absl::Duration kPreflightTimeout = absl::Seconds(5);

struct BenchArgs {
  std::string connect;
  std::string protocol = "v2";
  uint32_t connections = 1;
  uint32_t pipeline = 64;
  double duration_s = 10;
  double warmup_s = 1;
  std::optional<double> rate;
  uint32_t threads = 1;
  std::string key_type;
  size_t message_size = 32;
  uint32_t verify_sample = 100;
  std::string public_key_file;
  double timeout_s = 10;
  bool json = false;
  std::string client_key_file;  // sign every v2 request (an enclave with a signing policy)
};

int Usage(std::string_view message) {
  std::cerr << "lockout: " << message << "\n";
  return kExitUsage;
}

int Fail(std::string_view message) {
  std::cerr << "lockout: " << message << "\n";
  return kExitFailed;
}

uint32_t CpuCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

bool KnownKeyType(std::string_view t) {
  return t == "p256" || t == "p384" || t == "p521" || t == "secp256k1" || t == "ed25519";
}

absl::Duration Seconds(double s) { return absl::Seconds(s); }

// The enclave's public key PEM: from --public-key FILE, else the v2 public_key op. Returns the
// exit code on failure (after printing why).
std::optional<std::string> FindPublicKey(const BenchArgs& a, const net::Endpoint& endpoint,
                                         const std::shared_ptr<const auth::ClientKey>& client_key,
                                         int& exit_code) {
  if (!a.public_key_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFileString(a.public_key_file, kMaxPublicKeyFile);
    if (!pem.ok()) {
      exit_code = Usage(absl::StrCat("--public-key: ", pem.status().message()));
      return std::nullopt;
    }
    if (absl::StatusOr<std::string> type = ops::PublicKeyType(*pem); !type.ok()) {
      exit_code = Usage(absl::StrCat("--public-key ", a.public_key_file,
                                     " is not a usable PEM public key: ", type.status().message()));
      return std::nullopt;
    }
    return *pem;
  }
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      ops::EnclaveV2Client::Connect(endpoint, kPreflightTimeout);
  if (!client.ok()) {
    exit_code = Fail(absl::StrCat("cannot reach the enclave at ", endpoint.ToString(), ": ",
                                  client.status().message(),
                                  "; is lockout-enclave running and listening there?"));
    return std::nullopt;
  }
  if (client_key != nullptr) (*client)->Authenticate(client_key);
  absl::StatusOr<ops::EnclavePublicKey> key = (*client)->PublicKey();
  if (!key.ok()) {
    exit_code = Fail(absl::StrCat(
        "cannot fetch the enclave's public key (v2 public_key): ", key.status().message(),
        "; for a v1-only server pass --public-key FILE, or --verify-sample 0 to skip checks"));
    return std::nullopt;
  }
  return key->public_key_pem;
}

int RunBench(const BenchArgs& a) {
  loadgen::LoadOptions o;
  if (a.connect.empty()) return Usage("bench needs --connect URI; see lockout bench --help");
  absl::StatusOr<net::Endpoint> endpoint = net::Endpoint::Parse(a.connect);
  if (!endpoint.ok()) return Usage(absl::StrCat("--connect: ", endpoint.status().message()));
  o.endpoint = *endpoint;
  o.protocol = a.protocol == "v1" ? loadgen::Protocol::kV1 : loadgen::Protocol::kV2;
  o.connections = a.connections;
  o.pipeline = a.pipeline;
  // Second counts are bounded before conversion so absl::Seconds never sees inf or nan.
  if (!(a.duration_s > 0 && a.duration_s <= 86400)) {
    return Usage("--duration must be more than 0 and at most 86400 seconds");
  }
  if (!(a.warmup_s >= 0 && a.warmup_s <= 86400)) return Usage("--warmup must be 0..86400 seconds");
  if (!(a.timeout_s > 0 && a.timeout_s <= 3600)) return Usage("--timeout must be 0..3600 seconds");
  o.duration = Seconds(a.duration_s);
  o.warmup = Seconds(a.warmup_s);
  o.request_timeout = Seconds(a.timeout_s);
  o.rate = a.rate;
  o.threads = a.threads;
  o.message_size = a.message_size;
  o.verify_sample = a.verify_sample;
  const uint32_t cpus = CpuCount();
  if (absl::Status s = loadgen::ValidateLoadOptions(o, cpus); !s.ok())
    return Usage(std::string(s.message()));
  if (!a.key_type.empty() && !KnownKeyType(a.key_type)) {
    return Usage("--key-type must be one of p256, p384, p521, secp256k1, ed25519");
  }

  std::shared_ptr<const auth::ClientKey> client_key;
  if (!a.client_key_file.empty()) {
    if (o.protocol != loadgen::Protocol::kV2) {
      return Usage("--client-key signs v2 requests; v1 (the seed's protocol) has no place for it");
    }
    absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
        LoadClientKeyOption(a.client_key_file, "lockout");
    if (!key.ok()) return Usage(std::string(key.status().message()));
    client_key = *std::move(key);
  }

  // Preflight: the key (when anything needs it) or at least one connection, so an unreachable
  // enclave is one clear error rather than a run full of connect failures.
  std::optional<std::string> pem;
  if (a.verify_sample > 0 || !a.key_type.empty()) {
    int exit_code = kExitOk;
    pem = FindPublicKey(a, *endpoint, client_key, exit_code);
    if (!pem.has_value()) return exit_code;
  }
  if (a.public_key_file.empty() && !pem.has_value()) {
    absl::StatusOr<net::BlockingStream> probe =
        net::BlockingStream::Connect(*endpoint, Clock::Real().Now() + kPreflightTimeout);
    if (!probe.ok()) {
      return Fail(absl::StrCat("cannot reach the enclave at ", endpoint->ToString(), ": ",
                               probe.status().message(),
                               "; is lockout-enclave running and listening there?"));
    }
  }
  if (!a.key_type.empty()) {
    absl::StatusOr<std::string> type = ops::PublicKeyType(*pem);
    if (!type.ok())
      return Fail(absl::StrCat("the enclave's public key: ", type.status().message()));
    if (*type != a.key_type) {
      return Fail(absl::StrCat("the enclave holds a ", *type, " key, not ", a.key_type,
                               " (--key-type); check which enclave --connect points at"));
    }
  }

  loadgen::NoAuthentication no_auth;
  std::optional<loadgen::ClientKeyAuthenticator> signed_requests;
  loadgen::LoadHooks hooks;
  hooks.authenticator = &no_auth;
  if (client_key != nullptr) hooks.authenticator = &signed_requests.emplace(client_key);
  if (pem.has_value() && a.verify_sample > 0) {
    hooks.verify = [key = *pem](ByteView message, ByteView signature) {
      return ops::VerifySignature(key, message, signature);
    };
  }
  absl::StatusOr<loadgen::LoadReport> report = loadgen::RunLoad(o, hooks, cpus);
  if (!report.ok()) return Fail(absl::StrCat("bench: ", report.status().message()));
  if (a.json) {
    std::cout << loadgen::ReportToJson(*report).dump() << "\n";
  } else {
    std::cout << loadgen::ReportToText(*report);
  }
  if (report->verify_failures > 0) {
    std::cerr << "lockout: " << report->verify_failures
              << " signature(s) did not verify against the enclave's public key ("
              << report->first_verify_failure << ")\n";
  } else if (report->error_count() > 0) {
    std::cerr << "lockout: " << report->error_count() << " request(s) failed; see errors above\n";
  } else if (report->signatures_ok == 0) {
    std::cerr << "lockout: no request completed\n";
  }
  return report->ok() ? kExitOk : kExitFailed;
}

}  // namespace

void RegisterBenchCommands(CLI::App& app, CommandContext& ctx) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench",
      "Load-test a running lockout-enclave: sign requests over v1 or v2, closed or open loop;\n"
      "report throughput, latency percentiles and errors, and verify a sample of signatures.");
  cmd->add_option("--connect", a->connect,
                  "The enclave: tcp://HOST:PORT, vsock://CID:PORT or unix:///PATH (required)")
      ->type_name("URI");
  cmd->add_option("--protocol", a->protocol,
                  "v2 (pipelined on long-lived connections) or v1 (the seed's: a new connection "
                  "per request)")
      ->check(CLI::IsMember({"v1", "v2"}))
      ->capture_default_str();
  cmd->add_option("--connections", a->connections,
                  "v2: connections kept open; v1: requests (connections) in flight at once")
      ->capture_default_str();
  cmd->add_option("--pipeline", a->pipeline, "v2: requests in flight per connection")
      ->capture_default_str();
  cmd->add_option("--duration", a->duration_s, "Seconds measured")->capture_default_str();
  cmd->add_option("--warmup", a->warmup_s, "Seconds run first and not counted")
      ->capture_default_str();
  cmd->add_option("--rate", a->rate,
                  "Open loop: start this many requests per second in all (latency counted from "
                  "each request's scheduled start). Without it: closed loop");
  cmd->add_option("--threads", a->threads, "Client threads (at most the CPU count)")
      ->capture_default_str();
  cmd->add_option("--key-type", a->key_type,
                  "Fail unless the enclave's key is this type (p256 p384 p521 secp256k1 ed25519)")
      ->type_name("TYPE");
  cmd->add_option("--message-size", a->message_size, "Bytes per message signed")
      ->capture_default_str();
  cmd->add_option("--verify-sample", a->verify_sample,
                  "Signatures to verify: a random sample of the run, checked after it (0: none)")
      ->capture_default_str();
  cmd->add_option("--public-key", a->public_key_file,
                  "PEM public key to verify with (default: ask the enclave with v2 public_key)")
      ->type_name("FILE");
  cmd->add_option("--timeout", a->timeout_s, "Seconds before an unanswered request is an error")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print one JSON object instead of the table");
  cmd->add_option("--client-key", a->client_key_file,
                  "v2: sign every request with this client key (lockout client-key create), for "
                  "an enclave with a signing policy; the signing is part of each latency")
      ->type_name("FILE");
  cmd->footer(
      "\nExamples:\n"
      "  # peak throughput over one pipelined v2 connection, then eight\n"
      "  lockout bench --connect tcp://127.0.0.1:5010 --duration 5\n"
      "  lockout bench --connect vsock://20:5010 --connections 8 --threads 2\n"
      "  # latency at a fixed arrival rate (open loop): use about half the peak\n"
      "  lockout bench --connect vsock://20:5010 --connections 8 --rate 20000 --json\n"
      "  # the seed's protocol, four connections at a time, against a v1-only server\n"
      "  lockout bench --connect tcp://127.0.0.1:5010 --protocol v1 --connections 4 \\\n"
      "                --public-key enclave.pem --key-type p521\n"
      "  # an enclave with a signing policy: every request signed by an authorized client\n"
      "  lockout bench --connect vsock://20:5010 --client-key gateway.key\n"
      "\nClosed loop keeps every connection's window full: it measures the most the enclave\n"
      "can do, and latency then includes queueing in the enclave. Open loop starts requests on a\n"
      "fixed schedule whatever the replies do and times each from its scheduled start, so a\n"
      "stall shows in the percentiles. See docs/PERFORMANCE.md.\n"
      "\nExit status: 0 all requests signed and every sampled signature verified; 1 any request\n"
      "error (the table lists them by reason: busy, timeout, connect: ...), an unreachable\n"
      "enclave, a key-type mismatch or a signature that does not verify; 2 usage error.");
  cmd->callback([a, &ctx] { ctx.exit_code = RunBench(*a); });
}

}  // namespace lockout::cli
