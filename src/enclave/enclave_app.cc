#include "src/enclave/enclave_app.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/audit/audit_sink.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/kms_client.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/enclave/key_generation.h"
#include "src/enclave/key_loader.h"
#include "src/enclave/log_forwarder.h"
#include "src/enclave/policy_seal.h"
#include "src/enclave/request_handler.h"
#include "src/enclave/server.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/open_nsm_device.h"
#include "src/relay/relay_client.h"

namespace lockout::enclave {
namespace {

constexpr std::string_view kDefaultKmsVia = "vsock://3:8000";
// The key name of an --ephemeral-key enclave (for a request's "key" and a policy's "keys").
constexpr std::string_view kEphemeralKeyName = "ephemeral";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

absl::StatusOr<awsclient::EndpointConfig> KmsEndpoint(const EnclaveConfig& config,
                                                      const std::string& region) {
  std::string url = config.kms_endpoint;
  if (url.empty()) url = Env("AWS_ENDPOINT_URL_KMS");
  if (url.empty()) url = Env("AWS_ENDPOINT_URL");
  const bool explicit_endpoint = !url.empty();
  if (!explicit_endpoint) url = absl::StrCat("https://kms.", region, ".amazonaws.com");
  std::optional<net::Endpoint> via;
  if (config.kms_via == "direct") {
    via = std::nullopt;
  } else if (!config.kms_via.empty()) {
    ASSIGN_OR_RETURN(via, net::Endpoint::Parse(config.kms_via));
  } else if (!explicit_endpoint) {
    // Production: TLS to kms.REGION.amazonaws.com through the parent's vsock-proxy.
    ASSIGN_OR_RETURN(via, net::Endpoint::Parse(kDefaultKmsVia));
  }
  std::string ca = config.ca_bundle;
  if (ca.empty()) ca = Env("AWS_CA_BUNDLE");
  if (ca.empty()) ca = std::string(awsclient::kDefaultCaBundlePath);
  return awsclient::EndpointConfig::FromUrl(url, via, ca);
}

// The signing policy of `config`: the parsed one, or the file's; null when there is none.
absl::StatusOr<std::shared_ptr<const signpolicy::SigningPolicy>> ResolveSigningPolicy(
    const EnclaveConfig& config) {
  const int ways = (config.signing_policy != nullptr ? 1 : 0) +
                   (config.signing_policy_file.empty() ? 0 : 1) +
                   (config.signing_policy_from_relay ? 1 : 0);
  if (ways > 1) {
    return absl::InvalidArgumentError(
        "give the signing policy one way: --signing-policy FILE or --signing-policy-from-relay");
  }
  if (config.signing_policy_file.empty()) return config.signing_policy;
  absl::StatusOr<signpolicy::SigningPolicy> policy =
      signpolicy::ReadSigningPolicyFile(config.signing_policy_file);
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat("--signing-policy ", policy.status().message()));
  }
  return std::make_shared<const signpolicy::SigningPolicy>(*std::move(policy));
}

// The relay's signing policy (get_signing_policy), parsed; retried every 500 ms while the relay is
// unreachable or busy, for up to `config.signing_policy_wait`.
absl::StatusOr<signpolicy::SigningPolicy> FetchSigningPolicyFromRelay(const EnclaveConfig& config) {
  ASSIGN_OR_RETURN(net::Endpoint relay_ep, net::Endpoint::Parse(config.relay));
  const relay::RelayClient relay(relay::RelayClientOptions{.endpoint = relay_ep});
  const absl::Time deadline = absl::Now() + config.signing_policy_wait;
  absl::StatusOr<std::string> text = relay.GetSigningPolicy();
  while (!text.ok() && absl::IsUnavailable(text.status()) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(500));
    text = relay.GetSigningPolicy();
  }
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("signing policy from the relay: ", text.status().message()));
  }
  absl::StatusOr<signpolicy::SigningPolicy> policy = signpolicy::ParseSigningPolicy(*text);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing policy from the relay: ", policy.status().message()));
  }
  return policy;
}

// The audit trail: a fresh audit key (attested when there is an NSM: a failure to attest is a
// failure to start, never a silently unattested trail) and the sink that ships it to the relay.
absl::StatusOr<std::unique_ptr<audit::AuditSink>> StartAudit(
    const EnclaveConfig& config, nsm::NsmDevice* nsm,
    std::unique_ptr<relay::RelayClient>& relay_out) {
  ASSIGN_OR_RETURN(net::Endpoint relay_ep, net::Endpoint::Parse(config.relay));
  // Short deadlines: a stuck relay must not hold the sender (and with it shutdown) for long.
  relay_out = std::make_unique<relay::RelayClient>(relay::RelayClientOptions{
      .endpoint = relay_ep, .connect_timeout = absl::Seconds(2), .timeout = absl::Seconds(5)});
  audit::AttestFunction attest;
  if (nsm != nullptr) {
    attest = [nsm](ByteView user_data, ByteView public_key) {
      nsm::NsmClient client(*nsm);
      return client.Attestation(user_data, std::nullopt, public_key);
    };
  }
  absl::StatusOr<std::unique_ptr<audit::AuditChain>> chain =
      audit::AuditChain::Create(attest, Clock::Real());
  if (!chain.ok()) {
    return absl::Status(
        chain.status().code(),
        absl::StrCat("--audit: cannot start the audit trail: ", chain.status().message()));
  }
  LogInfo("audit_started", {{"audit_key", HexEncode((*chain)->audit_key())},
                            {"attested", nsm != nullptr},
                            {"required", config.audit_required},
                            {"buffer_kib", config.audit_buffer_kib}});
  if (nsm == nullptr) {
    LogWarn("audit_not_attested", {{"warning",
                                    "no NSM: the audit trail's genesis carries no "
                                    "attestation document, so a verifier cannot tie "
                                    "it to a measured enclave"}});
  }
  const relay::RelayClient* relay = relay_out.get();
  audit::AuditSinkOptions options;
  options.max_buffer_bytes = config.audit_buffer_kib << 10;
  options.flush_interval = config.audit_flush_interval;
  options.required = config.audit_required;
  return audit::AuditSink::Start(options, *std::move(chain),
                                 [relay](const std::vector<std::string>& lines) {
                                   return relay->AppendAudit(lines).status();
                                 });
}

}  // namespace

struct EnclaveApp::Impl {
  EnclaveConfig config;
  std::unique_ptr<nsm::NsmDevice> nsm;
  std::unique_ptr<relay::RelayClient> relay;
  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials;
  std::unique_ptr<awsclient::KmsClient> kms;
  std::unique_ptr<KeyLoader> loader;
  std::unique_ptr<KeyManager> keys;
  // generate_key (key_generation.h): with a relay and KMS, i.e. not for an ephemeral key.
  std::unique_ptr<RelayKmsBackend> keygen_backend;
  std::unique_ptr<KeyGenerator> keygen;
  std::shared_ptr<const signpolicy::SigningPolicy> signing_policy;  // null: none
  std::string pcr16_hex;  // PCR16 once the policy is sealed; empty otherwise
  std::unique_ptr<relay::RelayClient> audit_relay;
  std::unique_ptr<audit::AuditSink> audit;  // outlives handler and server (destroyed after)
  std::unique_ptr<RequestHandler> handler;
  std::unique_ptr<Server> server;
  std::atomic<bool> stopping{false};
  std::thread ready_thread;
  bool stopped = false;
  // The handler once serving, for the forwarder's counters (read on its thread).
  std::atomic<const RequestHandler*> counters_source{nullptr};
  std::unique_ptr<relay::RelayClient> log_relay;
  // Last: destroyed (its thread joined) before everything its counters read.
  std::unique_ptr<LogForwarder> log_forwarder;

  // The log and counters go to the relay from here on (log_forwarder.h), so that what happens
  // next — sealing, key loading — reaches an operator who cannot see this enclave's console.
  void StartLogForwarding(const net::Endpoint& relay_endpoint) {
    log_relay = std::make_unique<relay::RelayClient>(
        relay::RelayClientOptions{.endpoint = relay_endpoint,
                                  .connect_timeout = absl::Seconds(2),
                                  .timeout = absl::Seconds(5)});
    const relay::RelayClient* client = log_relay.get();
    LogForwarderOptions options;
    options.interval = config.log_forward_interval;
    log_forwarder = LogForwarder::Start(
        options, [client](const relay::AppendLogRequest& r) { return client->AppendLog(r); },
        [this] {
          const RequestHandler* serving = counters_source.load(std::memory_order_acquire);
          return serving == nullptr ? std::vector<std::pair<std::string, uint64_t>>{}
                                    : HealthCounters(serving->Health());
        });
    Logger::Default().SetTee(log_forwarder->Tee());
  }

  void WriteReadyFile() {
    if (config.ready_file.empty()) return;
    const KeyHealth health = keys->Health();
    nlohmann::json j = {{"listen", server->local_endpoint().ToString()},
                        {"pid", static_cast<int64_t>(getpid())},
                        {"load_mode", LoadModeName(keys->mode())},
                        {"status", health.state},
                        {"auth", signing_policy == nullptr ? "none" : "policy"}};
    if (!pcr16_hex.empty()) j["pcr16"] = pcr16_hex;
    if (const signer::Signer* s = keys->primary(); s != nullptr) {
      j["key_type"] = signer::KeyTypeName(s->key_type());
      j["public_key_pem"] = s->public_key_pem();  // an HD seed's: the master m's
      if (keys->hd() != nullptr) j["hd"] = true;
    }
    const std::string text = j.dump(2) + "\n";
    absl::Status st = WriteFileAtomic(config.ready_file, AsBytes(text), 0644);
    if (!st.ok()) {
      LogError("ready_file_failed",
               {{"path", config.ready_file}, {"error", std::string(st.message())}});
    }
  }
};

EnclaveApp::EnclaveApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EnclaveApp::~EnclaveApp() { Stop(); }

const net::Endpoint& EnclaveApp::local_endpoint() const { return impl_->server->local_endpoint(); }
KeyManager& EnclaveApp::keys() { return *impl_->keys; }

absl::StatusOr<std::unique_ptr<EnclaveApp>> EnclaveApp::Start(const EnclaveConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  ASSIGN_OR_RETURN(net::Endpoint listen, net::Endpoint::Parse(config.listen));
  if (config.forward_log) {
    absl::StatusOr<net::Endpoint> relay_endpoint = net::Endpoint::Parse(config.relay);
    if (!relay_endpoint.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--relay: ", relay_endpoint.status().message()));
    }
    impl->StartLogForwarding(*relay_endpoint);
  }

  if (!config.nsm.empty()) {
    absl::StatusOr<std::unique_ptr<nsm::NsmDevice>> nsm = nsm::OpenNsmDevice(config.nsm);
    if (!nsm.ok() && config.ephemeral_key.has_value()) {
      // An ephemeral key needs no NSM; attest then answers "attestation unavailable".
      LogWarn("nsm_unavailable",
              {{"nsm", config.nsm}, {"error", std::string(nsm.status().message())}});
    } else if (!nsm.ok()) {
      return absl::Status(
          nsm.status().code(),
          absl::StrCat("cannot open the NSM (--nsm ", config.nsm, "): ", nsm.status().message()));
    }
    if (nsm.ok()) impl->nsm = *std::move(nsm);
  }

  // The signing policy, sealed into PCR16 before anything asks KMS for the key. A failure to seal
  // is not a failure to start: the server comes up, health reports why, and the key is never
  // requested (an enclave whose PCR16 is not the sealed value must not present itself to KMS).
  ASSIGN_OR_RETURN(impl->signing_policy, ResolveSigningPolicy(config));
  std::optional<absl::Status> seal_failure;
  if (config.signing_policy_from_relay) {
    absl::StatusOr<signpolicy::SigningPolicy> fetched = FetchSigningPolicyFromRelay(config);
    if (fetched.ok()) {
      impl->signing_policy = std::make_shared<const signpolicy::SigningPolicy>(*std::move(fetched));
    } else {
      seal_failure = fetched.status();
    }
  }
  if (seal_failure.has_value()) {
    // Nothing to seal: the failure is logged below and the key is never requested.
  } else if (impl->signing_policy == nullptr) {
    LogWarn("no_signing_policy",
            {{"warning",
              "no --signing-policy: requests are not authenticated, anyone who can reach the "
              "listening port can have anything signed"}});
  } else if (impl->nsm == nullptr) {
    seal_failure = absl::FailedPreconditionError("sealing the signing policy needs an NSM (--nsm)");
  } else {
    absl::StatusOr<std::array<uint8_t, 48>> pcr16 =
        SealSigningPolicy(*impl->nsm, *impl->signing_policy);
    if (pcr16.ok()) {
      impl->pcr16_hex = HexEncode(ByteView(pcr16->data(), pcr16->size()));
      const std::array<uint8_t, 48> digest = signpolicy::PolicyDigest(*impl->signing_policy);
      LogInfo("signing_policy_sealed",
              {{"clients", impl->signing_policy->clients.size()},
               {"policy_digest", HexEncode(ByteView(digest.data(), digest.size()))},
               {"pcr16", impl->pcr16_hex}});
    } else {
      seal_failure = pcr16.status();
    }
  }
  if (seal_failure.has_value()) {
    LogError("signing_policy_not_sealed",
             {{"error", std::string(seal_failure->message())},
              {"consequence", "the key will not be requested from KMS"}});
  }

  if (seal_failure.has_value()) {
    // Never a KMS call: the only load "attempt" reports why, fatally (no retry).
    const absl::Status failure = *seal_failure;
    impl->keys = std::make_unique<KeyManager>(
        [failure](LoadFailure* f) -> absl::StatusOr<LoadedKey> {
          if (f != nullptr) {
            *f = LoadFailure{.status = failure,
                             .reason = "signing policy not sealed",
                             .retry = RetryClass::kFatal};
          }
          return failure;
        },
        KeyManagerOptions{.mode = config.load_mode});
  } else if (config.ephemeral_key.has_value()) {
    if (impl->signing_policy != nullptr && impl->signing_policy->key.has_value()) {
      return absl::InvalidArgumentError(
          "the signing policy pins a key (\"key\"), which a fresh --ephemeral-key cannot match: "
          "remove the pin, or load the pinned key (--secret)");
    }
    ASSIGN_OR_RETURN(std::unique_ptr<signer::Signer> signer,
                     signer::Signer::Generate(*config.ephemeral_key));
    impl->keys = KeyManager::WithSigner(std::move(signer));
  } else {
    if (config.secret_name.empty()) {
      return absl::InvalidArgumentError("--secret NAME is required (the secret the relay serves)");
    }
    if (impl->nsm == nullptr) {
      return absl::InvalidArgumentError("loading the key needs an NSM (--nsm)");
    }
    ASSIGN_OR_RETURN(net::Endpoint relay_ep, net::Endpoint::Parse(config.relay));
    impl->relay =
        std::make_unique<relay::RelayClient>(relay::RelayClientOptions{.endpoint = relay_ep});
    std::string region = config.region;
    if (region.empty()) region = Env("AWS_REGION");
    if (region.empty()) region = Env("AWS_DEFAULT_REGION");
    if (region.empty()) region = "us-east-1";
    ASSIGN_OR_RETURN(awsclient::EndpointConfig kms_endpoint, KmsEndpoint(config, region));
    impl->credentials =
        std::make_shared<awsclient::StaticCredentialsProvider>(aws::AwsCredentials{});
    ASSIGN_OR_RETURN(impl->kms,
                     awsclient::KmsClient::Create(kms_endpoint, impl->credentials, region));
    LogInfo("kms_endpoint", {{"endpoint", kms_endpoint.ToString()}, {"region", region}});
    impl->loader = std::make_unique<KeyLoader>(
        *impl->relay, *impl->nsm, *impl->kms, impl->credentials,
        KeyLoaderOptions{
            .secret_name = config.secret_name,
            .key_type = config.key_type,
            .use_encryption_context = config.use_encryption_context,
            .key_pin = impl->signing_policy != nullptr ? impl->signing_policy->key : std::nullopt});
    KeyLoader* loader = impl->loader.get();
    impl->keys =
        std::make_unique<KeyManager>([loader](LoadFailure* f) { return loader->LoadKey(f); },
                                     KeyManagerOptions{.mode = config.load_mode});
    impl->keygen_backend =
        std::make_unique<RelayKmsBackend>(*impl->relay, *impl->kms, impl->credentials);
    impl->keygen = std::make_unique<KeyGenerator>(config.secret_name, *impl->keygen_backend,
                                                  *impl->nsm, *impl->keys);
  }

  if (config.audit) {
    ASSIGN_OR_RETURN(impl->audit, StartAudit(config, impl->nsm.get(), impl->audit_relay));
  }

  HandlerOptions handler_options;
  handler_options.audit = impl->audit.get();
  handler_options.key_generator = impl->keygen.get();
  handler_options.signing_policy = impl->signing_policy;
  handler_options.pcr16_hex = impl->pcr16_hex;
  handler_options.attested_replies = {.rate_per_second = config.attested_replies_per_second,
                                      .burst = config.attested_replies_burst};
  // What a request's "key" and a policy's "keys" name: the secret the key comes from.
  handler_options.key_name =
      config.ephemeral_key.has_value() ? std::string(kEphemeralKeyName) : config.secret_name;
  impl->handler =
      std::make_unique<RequestHandler>(*impl->keys, impl->nsm.get(), std::move(handler_options));
  ServerOptions server_options;
  server_options.listen = listen;
  server_options.threads = config.threads > 0 ? config.threads : AvailableCpus();
  server_options.max_frame_size = config.max_frame_size;
  server_options.max_connections = config.max_connections;
  server_options.memory_budget = config.memory_budget_mib << 20;
  server_options.idle_timeout = config.idle_timeout;
  server_options.blocking_threads = config.blocking_threads;
  server_options.blocking_queue = config.blocking_queue;
  ASSIGN_OR_RETURN(impl->server, Server::Start(server_options, *impl->handler));
  impl->counters_source.store(impl->handler.get(), std::memory_order_release);
  impl->keys->Start();
  impl->WriteReadyFile();

  if (!config.ready_file.empty() && !impl->keys->loaded() &&
      impl->keys->mode() != LoadMode::kPerRequest) {
    Impl* raw = impl.get();
    impl->ready_thread = std::thread([raw] {
      while (!raw->stopping.load()) {
        if (raw->keys->WaitUntilLoaded(absl::Milliseconds(200))) {
          raw->WriteReadyFile();
          return;
        }
        if (raw->keys->Health().state == "failed") {
          raw->WriteReadyFile();
          return;
        }
      }
    });
  }
  return std::unique_ptr<EnclaveApp>(new EnclaveApp(std::move(impl)));
}

void EnclaveApp::Stop() {
  if (impl_ == nullptr || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping.store(true);
  if (impl_->ready_thread.joinable()) impl_->ready_thread.join();
  if (impl_->server != nullptr) impl_->server->Stop();
  if (impl_->audit != nullptr) impl_->audit->Stop();  // after the last request: one last batch
  if (impl_->keys != nullptr) impl_->keys->Stop();
  // A stopped enclave leaves no ready file behind to be mistaken for a running one.
  if (!impl_->config.ready_file.empty()) {
    absl::Status removed = RemoveFileIfPresent(impl_->config.ready_file);
    if (!removed.ok()) {
      LogWarn("ready_file_not_removed", {{"error", std::string(removed.message())}});
    }
  }
  if (impl_->log_forwarder != nullptr) {
    // One last report (the lines of the shutdown), then this enclave's log is its own again.
    impl_->log_forwarder->Stop();
    Logger::Default().SetTee(nullptr);
  }
}

}  // namespace lockout::enclave
