// lockout-relay: runs on the parent instance and hands the enclave its encrypted key and the
// instance role's credentials (ARCHITECTURE §3, §4). Thin: flags, wiring, signals.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/aws_environment.h"
#include "src/awsclient/imds_client.h"
#include "src/cliutil/cli_conventions.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/http/http_server.h"
#include "src/net/endpoint.h"
#include "src/relay/audit_writer.h"
#include "src/relay/port_forwarder.h"
#include "src/relay/relay_metrics.h"
#include "src/relay/relay_server.h"
#include "src/relay/relay_service.h"
#include "src/relay/relay_upstream.h"
#include "src/relay/secret_allowlist.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::relay {
namespace {

struct Flags {
  std::string listen = std::string(net::kDefaultRelayListen);
  std::vector<std::string> allow_secrets;
  std::string region;
  std::string metrics;
  std::string ready_file;
  std::string log_level = "info";
  int max_connections = 64;
  double read_timeout_s = 10;
  double refresh_margin_s = 300;
  std::string signing_policy;
  std::string forward;
  int forward_max_connections = 256;
  double forward_idle_timeout_s = 300;
  double forward_connect_timeout_s = 5;
  std::string audit_log;
  bool allow_overwrite = false;
  double enclave_log_lines_per_second = EnclaveLogLimits{}.lines_per_second;
  double enclave_log_bytes_per_second = EnclaveLogLimits{}.bytes_per_second;
};

// A failure main() reports in one line, with what to do next.
absl::Status WithHint(const absl::Status& status, std::string_view hint) {
  return absl::Status(status.code(), absl::StrCat(status.message(), " (", Absl(hint), ")"));
}

// --region, else AWS_REGION / AWS_DEFAULT_REGION, else IMDS placement/region (as on EC2).
absl::StatusOr<std::string> ResolveRegion(const Flags& flags, const awsclient::AwsEnvironment& env,
                                          const awsclient::EndpointConfig& imds) {
  if (!flags.region.empty()) return flags.region;
  absl::StatusOr<std::string> from_env = env.Region();
  if (from_env.ok() || !absl::IsNotFound(from_env.status())) return from_env;
  ASSIGN_OR_RETURN(std::unique_ptr<awsclient::ImdsClient> client,
                   awsclient::ImdsClient::Create(imds));
  absl::StatusOr<std::string> region = client->GetMetadata("placement/region");
  if (!region.ok()) {
    return WithHint(region.status(),
                    "no region: pass --region or set AWS_REGION, or run on EC2 with IMDS");
  }
  return region;
}

std::string ServeMetricsHint() {
  return "--metrics takes tcp://HOST:PORT, e.g. tcp://127.0.0.1:9611";
}

// `usage_error` is true when the status is about the flags themselves (exit 2, not 1).
absl::Status Run(const Flags& flags, bool& usage_error) {
  usage_error = true;
  LogLevel level;
  if (!ParseLogLevel(flags.log_level, &level)) {
    return absl::InvalidArgumentError("--log-level must be debug, info, warn or error");
  }
  Logger::Default().SetLevel(level);
  if (flags.max_connections < 1)
    return absl::InvalidArgumentError("--max-connections must be >= 1");
  if (!(flags.read_timeout_s > 0) || !(flags.refresh_margin_s >= 0)) {
    return absl::InvalidArgumentError("--read-timeout must be > 0, --refresh-margin >= 0");
  }
  if (!(flags.enclave_log_lines_per_second > 0) || !(flags.enclave_log_bytes_per_second > 0) ||
      flags.enclave_log_lines_per_second > 1e6 || flags.enclave_log_bytes_per_second > 1e9) {
    return absl::InvalidArgumentError(
        "--enclave-log-lines-per-second must be in (0, 1e6], --enclave-log-bytes-per-second in "
        "(0, 1e9]");
  }

  ASSIGN_OR_RETURN(SecretAllowlist allowlist, SecretAllowlist::Create(flags.allow_secrets));
  absl::StatusOr<net::Endpoint> listen = net::Endpoint::Parse(flags.listen);
  if (!listen.ok())
    return WithHint(listen.status(),
                    "--listen takes vsock://CID:PORT, tcp://HOST:PORT or unix:///PATH");
  std::optional<ForwardSpec> forward;
  if (!flags.forward.empty()) {
    ASSIGN_OR_RETURN(forward, ParseForwardSpec(flags.forward));
    if (flags.forward_max_connections < 1) {
      return absl::InvalidArgumentError("--forward-max-connections must be >= 1");
    }
    if (!(flags.forward_idle_timeout_s > 0) || !(flags.forward_connect_timeout_s > 0)) {
      return absl::InvalidArgumentError(
          "--forward-idle-timeout and --forward-connect-timeout must be > 0");
    }
  }
  std::optional<net::Endpoint> metrics_endpoint;
  if (!flags.metrics.empty()) {
    absl::StatusOr<net::Endpoint> parsed = net::Endpoint::Parse(flags.metrics);
    if (!parsed.ok()) return WithHint(parsed.status(), ServeMetricsHint());
    if (!parsed->is_tcp()) return absl::InvalidArgumentError(ServeMetricsHint());
    metrics_endpoint = *parsed;
  }
  usage_error = false;

  const awsclient::AwsEnvironment env;
  ASSIGN_OR_RETURN(awsclient::EndpointConfig imds, env.ImdsEndpoint());
  ASSIGN_OR_RETURN(std::string region, ResolveRegion(flags, env, imds));
  ASSIGN_OR_RETURN(awsclient::EndpointConfig secrets_manager,
                   env.ServiceEndpoint(awsclient::kSecretsManagerService, region));

  RelayMetrics metrics;
  ForwardMetrics forward_metrics;
  AwsRelayUpstreamOptions upstream_options;
  upstream_options.refresh_margin = absl::Seconds(flags.refresh_margin_s);
  ASSIGN_OR_RETURN(
      std::unique_ptr<AwsRelayUpstream> upstream,
      AwsRelayUpstream::Create(imds, secrets_manager, region, upstream_options, &metrics));
  RelayService service(upstream.get(), allowlist, &metrics);
  if (!flags.signing_policy.empty()) {
    // Checked as the enclave will check it, so a typo is found here and not at the enclave's
    // boot; served as the file's text (the enclave hashes the canonical form, not these bytes).
    absl::StatusOr<std::string> text =
        ReadFileString(flags.signing_policy, kMaxServedSigningPolicySize);
    if (!text.ok()) return WithHint(text.status(), "--signing-policy FILE");
    absl::StatusOr<signpolicy::SigningPolicy> policy = signpolicy::ParseSigningPolicy(*text);
    if (!policy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signing-policy ", flags.signing_policy, ": ", policy.status().message()));
    }
    const auto pcr16 = signpolicy::ExpectedPcr16(*policy);
    LogInfo("signing_policy_served",
            {{"file", flags.signing_policy},
             {"clients", policy->clients.size()},
             {"expected_pcr16", HexEncode(ByteView(pcr16.data(), pcr16.size()))}});
    service.ServeSigningPolicy(*std::move(text));
  }

  service.AllowOverwrite(flags.allow_overwrite);
  service.LimitEnclaveLog({.lines_per_second = flags.enclave_log_lines_per_second,
                           .bytes_per_second = flags.enclave_log_bytes_per_second,
                           .burst_seconds = EnclaveLogLimits{}.burst_seconds});

  std::unique_ptr<AuditWriter> audit_writer;
  if (!flags.audit_log.empty()) {
    absl::StatusOr<std::unique_ptr<AuditWriter>> opened = AuditWriter::Open(flags.audit_log);
    if (!opened.ok())
      return WithHint(opened.status(), "--audit-log FILE: is its directory writable?");
    audit_writer = *std::move(opened);
    service.WriteAuditTo(audit_writer.get());
    LogInfo("audit_log_open", {{"file", flags.audit_log}});
  }

  // Signals are handled by sigwait() below: block them before any thread starts so that every
  // thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<http::HttpServer> metrics_server;
  std::string metrics_uri;
  if (metrics_endpoint.has_value()) {
    http::HttpServerOptions options;
    options.host = metrics_endpoint->host();
    options.port = static_cast<uint16_t>(metrics_endpoint->port());
    options.threads = 1;
    options.max_body_bytes = 1024;
    metrics_server = std::make_unique<http::HttpServer>(options);
    absl::Status started = metrics_server->Start([&](const aws::HttpRequest& request) {
      if (request.method != "GET") return http::HttpResponse::Text(405, "GET only\n");
      if (request.Path() != "/metrics") {
        return http::HttpResponse::Text(404, "lockout-relay: metrics are at /metrics\n");
      }
      http::HttpResponse response;
      response.headers.push_back({"Content-Type", "text/plain; version=0.0.4; charset=utf-8"});
      response.body = metrics.RenderPrometheus();
      if (forward.has_value()) response.body += forward_metrics.RenderPrometheus();
      return response;
    });
    if (!started.ok()) return WithHint(started, "is the --metrics port free?");
    ASSIGN_OR_RETURN(net::Endpoint bound,
                     net::Endpoint::Tcp(metrics_endpoint->host(), metrics_server->port()));
    metrics_uri = bound.ToString();
  }

  RelayServerOptions server_options;
  server_options.listen = *listen;
  server_options.read_timeout = absl::Seconds(flags.read_timeout_s);
  server_options.max_connections = flags.max_connections;
  // An append_audit batch may be up to 1 MiB (the enclave sends at most 256 KiB of lines, and
  // JSON escaping can double that); every other op stays within kMaxRequestSize, checked as the
  // frame arrives, and the small ops within kMaxSmallRequestSize (RelayService).
  if (audit_writer != nullptr) server_options.max_audit_request_size = kMaxAuditRequestSize;
  RelayServer server(&service, &metrics, server_options);
  absl::Status started = server.Start();
  if (!started.ok()) return WithHint(started, "is --listen free, and does this host have vsock?");
  const std::string listen_uri = server.local_endpoint().ToString();

  std::unique_ptr<PortForwarder> forwarder;
  std::string forward_uri;
  if (forward.has_value()) {
    PortForwarderOptions forward_options;
    forward_options.spec = *forward;
    forward_options.max_connections = flags.forward_max_connections;
    forward_options.idle_timeout = absl::Seconds(flags.forward_idle_timeout_s);
    forward_options.connect_timeout = absl::Seconds(flags.forward_connect_timeout_s);
    forwarder = std::make_unique<PortForwarder>(forward_options, &forward_metrics);
    absl::Status forwarding = forwarder->Start();
    if (!forwarding.ok()) {
      return WithHint(forwarding, "--forward: is its LISTEN port free and its TARGET valid?");
    }
    forward_uri = forwarder->local_endpoint().ToString();
    LogInfo("forward_started", {{"listen", forward_uri},
                                {"target", forward->target.ToString()},
                                {"max_connections", flags.forward_max_connections}});
  }

  // Fetch credentials once now: the expiry gauge is populated and an IMDS problem shows up at
  // start in the log; requests retry on their own if this fails.
  absl::StatusOr<awsclient::RoleCredentials> warmup = upstream->GetCredentials();

  LogInfo("relay_started", {{"listen", listen_uri},
                            {"metrics", metrics_uri},
                            {"region", region},
                            {"imds", imds.ToString()},
                            {"secrets_manager", secrets_manager.ToString()},
                            {"allowed_secrets", allowlist.names()},
                            {"credentials_ok", warmup.ok()},
                            {"pid", static_cast<int64_t>(getpid())}});

  if (!flags.ready_file.empty()) {
    nlohmann::json ready = {{"listen", listen_uri}, {"pid", static_cast<int64_t>(getpid())}};
    ready["metrics"] = metrics_uri.empty() ? nlohmann::json() : nlohmann::json(metrics_uri);
    if (!forward_uri.empty()) ready["forward"] = forward_uri;
    absl::Status written = WriteFileAtomic(flags.ready_file, AsBytes(ready.dump()), 0644);
    if (!written.ok()) return WithHint(written, "check --ready-file's directory");
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("relay_stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (forwarder) forwarder->Stop();
  server.Stop();
  if (metrics_server) metrics_server->Stop();
  if (!flags.ready_file.empty()) {
    absl::Status removed = RemoveFileIfPresent(flags.ready_file);
    if (!removed.ok())
      LogWarn("ready_file_not_removed", {{"error", std::string(removed.message())}});
  }
  LogInfo("relay_stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace lockout::relay

int main(int argc, char** argv) {
  // First thing: this process will hold the instance role's credentials.
  lockout::DisableCoreDumps();
  lockout::relay::Flags flags;
  CLI::App app{
      "lockout-relay: serves the enclave its encrypted key (Secrets Manager) and the instance\n"
      "role's credentials (IMDSv2), for allowlisted secret names only. AWS endpoints come from\n"
      "the standard variables (AWS_ENDPOINT_URL_SECRETS_MANAGER, "
      "AWS_EC2_METADATA_SERVICE_ENDPOINT,\n"
      "AWS_REGION, AWS_CA_BUNDLE). Stops cleanly on SIGTERM/SIGINT."};
  lockout::cliutil::AddVersionFlag(app, "lockout-relay");
  app.add_option("--listen", flags.listen,
                 "where the enclave connects: vsock://CID:PORT, tcp://HOST:PORT, unix:///PATH")
      ->capture_default_str();
  app.add_option("--allow-secret", flags.allow_secrets,
                 "a secret name (or ARN) the enclave may fetch, exactly as it asks; repeatable")
      ->required()
      ->take_all();
  app.add_flag("--allow-overwrite", flags.allow_overwrite,
               "put_secret (a key generated in the enclave) may replace an allowlisted secret that "
               "exists (PutSecretValue); without it a secret is written once (CreateSecret)");
  app.add_option("--region", flags.region,
                 "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then IMDS)");
  app.add_option(
      "--metrics", flags.metrics,
      "serve Prometheus metrics at http://HOST:PORT/metrics (tcp://HOST:PORT; off by default)");
  app.add_option(
      "--ready-file", flags.ready_file,
      "write {listen, metrics, pid, forward} as JSON here once serving (for scripts and tests)");
  app.add_option("--log-level", flags.log_level, "debug, info, warn or error")
      ->capture_default_str();
  app.add_option("--max-connections", flags.max_connections,
                 "connections served at once; one beyond this gets {\"error\": \"relay busy\"} "
                 "and is closed")
      ->capture_default_str();
  app.add_option("--read-timeout", flags.read_timeout_s,
                 "seconds a peer has to send a complete request; a connection idle this long "
                 "between requests is closed")
      ->capture_default_str();
  app.add_option("--refresh-margin", flags.refresh_margin_s,
                 "refresh role credentials this many seconds before they expire")
      ->capture_default_str();
  app.add_option("--signing-policy", flags.signing_policy,
                 "serve this signing policy file to an enclave started with "
                 "--signing-policy-from-relay (request get_signing_policy). The enclave seals "
                 "what it gets into PCR16: serving another policy only gets it refused by KMS");
  app.add_option("--forward", flags.forward,
                 "also forward a port on this host to the enclave, byte for byte: "
                 "LISTEN=TARGET, e.g. tcp://0.0.0.0:5010=vsock://16:5010 (LISTEN tcp:// or "
                 "unix://; TARGET vsock://CID:PORT, tcp:// or unix://). Off by default. The "
                 "forwarder can read what clients send but cannot forge, alter or replay an "
                 "authenticated request: the enclave verifies each one (docs/SECURITY.md). "
                 "Each connection buffers at most 64 KiB per direction (a side that does not "
                 "read stops the other being read). "
                 "Metrics: lockout_relay_forward_* on --metrics");
  app.add_option("--forward-max-connections", flags.forward_max_connections,
                 "forwarded clients served at once; one beyond is closed at once")
      ->capture_default_str();
  app.add_option("--forward-idle-timeout", flags.forward_idle_timeout_s,
                 "seconds without a byte moving either way after which a forwarded connection "
                 "is closed")
      ->capture_default_str();
  app.add_option("--forward-connect-timeout", flags.forward_connect_timeout_s,
                 "seconds to reach the TARGET; a client whose target cannot be reached is "
                 "closed")
      ->capture_default_str();
  app.add_option("--audit-log", flags.audit_log,
                 "append the enclave's audit trail (request append_audit; lockout-enclave "
                 "--audit) to this file as JSON lines, fdatasync'ed per batch before the enclave "
                 "is told it was written. Check it with `lockout audit verify FILE`: the relay "
                 "can drop or delay records, not alter or forge them undetected");
  app.add_option("--enclave-log-lines-per-second", flags.enclave_log_lines_per_second,
                 "write at most this many of the enclave's log lines (append_log) per second "
                 "into this log, with a burst of 5 s' worth; lines over it are not written but "
                 "counted (lockout_relay_enclave_log_lines_dropped_total) and summarized in one "
                 "warning (enclave_log_rate_limited) per 10 s. Anyone who reaches --listen can "
                 "send append_log: this bounds how fast they can grow the relay's log")
      ->capture_default_str();
  app.add_option("--enclave-log-bytes-per-second", flags.enclave_log_bytes_per_second,
                 "the same limit in bytes of the enclave's log lines per second (burst 5 s' "
                 "worth, at least 64 KiB)")
      ->capture_default_str();
  if (std::optional<int> done = lockout::cliutil::Parse(app, argc, argv, "lockout-relay")) {
    return *done;
  }
  bool usage_error = false;
  absl::Status status = lockout::relay::Run(flags, usage_error);
  if (!status.ok()) {
    std::fprintf(stderr, "lockout-relay: %s\n", std::string(status.message()).c_str());
    return usage_error ? lockout::cliutil::kExitUsage : lockout::cliutil::kExitFailed;
  }
  return lockout::cliutil::kExitOk;
}
