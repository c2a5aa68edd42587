// `lockout gateway --eth-rpc tcp://127.0.0.1:8545 --enclave URI [--client-key FILE]`: an
// Ethereum remote-signer JSON-RPC API (the methods Web3Signer's eth1 mode and clef serve) in
// front of the enclave's eth ops (src/gateway; docs/WALLET.md, "JSON-RPC gateway").
//
// It keeps up to --enclave-connections persistent v2 connections to the enclave and reuses them
// across calls (gateway::EnclaveEthBackend: reconnects with backoff; an unreachable enclave is a
// JSON-RPC -32000 error). It asks the enclave for its address once, prints one JSON line on stdout
// ({"eth_rpc": "http://HOST:PORT", "address": "0x.."}) when it serves, and runs until SIGTERM or
// SIGINT. It listens only on the address given: anyone who can reach it can ask for signatures,
// bounded by the enclave's wallet rules and the identity of the gateway's client key.
//
// Exit status (docs/CLI.md): 0 stopped by a signal; 1 the enclave could not be asked for its
// address, or the port could not be bound; 2 usage.

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/cli/client_key_option.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/logger.h"
#include "src/common/strings.h"
#include "src/gateway/enclave_eth_backend.h"
#include "src/gateway/eth_gateway.h"
#include "src/gateway/json_rpc.h"
#include "src/http/http_server.h"
#include "src/net/endpoint.h"

namespace lockout::cli {
namespace {

struct GatewayArgs {
  std::string eth_rpc = "tcp://127.0.0.1:8545";
  std::string enclave;
  std::string client_key;
  double timeout_s = 10;
  int threads = 2;
  int enclave_connections = 2;
};

int Usage(std::string_view message) {
  return cliutil::ReportUsageError("lockout gateway", message);
}

int Fail(std::string_view message) { return cliutil::ReportFailure("lockout gateway", message); }

int RunGateway(const GatewayArgs& a) {
  absl::StatusOr<net::Endpoint> listen = net::Endpoint::Parse(a.eth_rpc);
  if (!listen.ok() || !listen->is_tcp()) {
    return Usage("--eth-rpc must be tcp://HOST:PORT (an IP address, e.g. tcp://127.0.0.1:8545)");
  }
  absl::StatusOr<net::Endpoint> enclave = net::Endpoint::Parse(a.enclave);
  if (!enclave.ok()) return Usage(absl::StrCat("--enclave: ", enclave.status().message()));
  if (a.timeout_s <= 0) return Usage("--timeout must be positive");
  if (a.threads < 1 || a.threads > 64) return Usage("--threads must be 1..64");
  if (a.enclave_connections < 1 || a.enclave_connections > gateway::kMaxEnclaveConnections) {
    return Usage(
        absl::StrCat("--enclave-connections must be 1..", gateway::kMaxEnclaveConnections));
  }
  absl::StatusOr<std::shared_ptr<const auth::ClientKey>> key =
      LoadClientKeyOption(a.client_key, "lockout gateway");
  if (!key.ok()) return Usage(std::string(key.status().message()));
  const std::shared_ptr<const auth::ClientKey> client_key = *std::move(key);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  gateway::EnclavePoolOptions pool;
  pool.connections = a.enclave_connections;
  pool.timeout = absl::Milliseconds(a.timeout_s * 1000);
  pool.busy_timeout = pool.timeout;
  auto backend = std::make_shared<gateway::EnclaveEthBackend>(*enclave, pool, client_key);
  absl::StatusOr<eth::Address> address = backend->Address();
  if (!address.ok()) {
    return Fail(absl::StrCat("cannot ask the enclave for its address: ", address.status().message(),
                             client_key == nullptr ? " (an enclave with a signing policy needs "
                                                     "--client-key FILE)"
                                                   : ""));
  }
  auto gw = std::make_shared<gateway::EthGateway>(*address, backend);

  http::HttpServerOptions options;
  options.host = listen->host();
  options.port = static_cast<uint16_t>(listen->port());
  options.threads = a.threads;
  options.max_body_bytes = gateway::kMaxRpcBody;
  options.max_connections = 64;
  options.error_response = [](http::HttpServerError e) {
    gateway::RpcError error{nullptr, gateway::kInvalidRequest,
                            e == http::HttpServerError::kBodyTooLarge
                                ? absl::StrCat("request body over ", gateway::kMaxRpcBody, " bytes")
                                : "malformed HTTP request"};
    return http::HttpResponse::Json(e == http::HttpServerError::kBodyTooLarge ? 413 : 400,
                                    gateway::RpcErrorReply(error), "application/json");
  };
  http::HttpServer server(options);
  absl::Status started = server.Start([gw](const aws::HttpRequest& request) {
    if (request.method != "POST") {
      return http::HttpResponse::Text(405, "POST JSON-RPC 2.0 requests\n");
    }
    return http::HttpResponse::Json(200, gw->Handle(request.body), "application/json");
  });
  if (!started.ok()) return Fail(absl::StrCat("--eth-rpc: ", started.message()));

  const std::string host = listen->host().find(':') != std::string::npos
                               ? absl::StrCat("[", listen->host(), "]")
                               : listen->host();
  nlohmann::ordered_json ready;
  ready["eth_rpc"] = absl::StrCat("http://", host, ":", server.port());
  ready["address"] = eth::ChecksumAddress(*address);
  std::cout << ready.dump() << std::endl;
  LogInfo("gateway_ready", {{"eth_rpc", ready["eth_rpc"].get<std::string>()}});
  int sig = 0;
  sigwait(&signals, &sig);
  LogInfo("gateway_stopping", {{"signal", sig}});
  server.Stop();
  return cliutil::kExitOk;
}

}  // namespace

void RegisterGatewayCommands(CLI::App& app, CommandContext& ctx) {
  auto a = std::make_shared<GatewayArgs>();
  auto* cmd = app.add_subcommand(
      "gateway",
      "Serve an Ethereum remote-signer JSON-RPC API (eth_accounts, eth_sign, personal_sign, "
      "eth_signTransaction, eth_signTypedData_v4) backed by the enclave's secp256k1 key. "
      "Anyone who can reach the port can ask for signatures, bounded by the enclave's wallet "
      "rules and the client key's identity: listen on loopback (docs/WALLET.md).\n"
      "Example: lockout gateway --eth-rpc tcp://127.0.0.1:8545 --enclave vsock://20:5010 "
      "--client-key gw.key");
  cmd->add_option("--eth-rpc", a->eth_rpc,
                  "Where to serve JSON-RPC over HTTP: tcp://IP:PORT (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--enclave", a->enclave,
                  "The enclave (vsock://CID:PORT, tcp://HOST:PORT, unix://PATH); its key must be "
                  "secp256k1")
      ->required();
  cmd->add_option("--client-key", a->client_key,
                  "Sign every enclave request with this client key (lockout client-key create): "
                  "required by an enclave with a signing policy (\"sign\" and \"public_key\")")
      ->type_name("FILE");
  cmd->add_option("--timeout", a->timeout_s,
                  "Seconds per enclave request (and per connect, and the longest wait for a free "
                  "enclave connection)")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "HTTP worker threads")->capture_default_str();
  cmd->add_option("--enclave-connections", a->enclave_connections,
                  "Persistent enclave connections the gateway keeps and reuses across calls "
                  "(1..16): at most this many enclave requests in flight")
      ->capture_default_str();
  cmd->callback([a, &ctx] { ctx.exit_code = RunGateway(*a); });
}

}  // namespace lockout::cli
