#include "src/enclave/enclave_app.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/kms_client.h"
#include "src/common/file.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/enclave/key_loader.h"
#include "src/enclave/request_handler.h"
#include "src/enclave/server.h"
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

}  // namespace

struct EnclaveApp::Impl {
  EnclaveConfig config;
  std::unique_ptr<nsm::NsmDevice> nsm;
  std::unique_ptr<relay::RelayClient> relay;
  std::shared_ptr<awsclient::StaticCredentialsProvider> credentials;
  std::unique_ptr<awsclient::KmsClient> kms;
  std::unique_ptr<KeyLoader> loader;
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<RequestHandler> handler;
  std::unique_ptr<Server> server;
  std::atomic<bool> stopping{false};
  std::thread ready_thread;
  bool stopped = false;

  void WriteReadyFile() {
    if (config.ready_file.empty()) return;
    const KeyHealth health = keys->Health();
    nlohmann::json j = {{"listen", server->local_endpoint().ToString()},
                        {"pid", static_cast<int64_t>(getpid())},
                        {"load_mode", LoadModeName(keys->mode())},
                        {"status", health.state}};
    if (const signer::Signer* s = keys->signer(); s != nullptr) {
      j["key_type"] = signer::KeyTypeName(s->key_type());
      j["public_key_pem"] = s->public_key_pem();
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

  if (config.ephemeral_key.has_value()) {
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
        KeyLoaderOptions{.secret_name = config.secret_name,
                         .key_type = config.key_type,
                         .use_encryption_context = config.use_encryption_context});
    KeyLoader* loader = impl->loader.get();
    impl->keys = std::make_unique<KeyManager>([loader](LoadFailure* f) { return loader->Load(f); },
                                              KeyManagerOptions{.mode = config.load_mode});
  }

  HandlerOptions handler_options;
  // What a policy's "keys" name: the secret the key comes from.
  handler_options.key_name =
      config.ephemeral_key.has_value() ? std::string(kEphemeralKeyName) : config.secret_name;
  if (config.signing_policy != nullptr) {
    ASSIGN_OR_RETURN(handler_options.verifier,
                     auth::RequestVerifier::Create(config.signing_policy, Clock::Real()));
    LogInfo("signing_policy",
            {{"clients", config.signing_policy->clients.size()},
             {"allow_unauthenticated_v1", config.signing_policy->allow_unauthenticated_v1}});
  } else {
    LogWarn("no_signing_policy",
            {{"warning", "no signing policy: anyone who can reach the listening port can sign"}});
  }
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
  impl->keys->Start();
  impl->WriteReadyFile();

  if (!config.ready_file.empty() && impl->keys->signer() == nullptr &&
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
  if (impl_->keys != nullptr) impl_->keys->Stop();
}

}  // namespace lockout::enclave
