#include "src/localaws/local_aws.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "src/attest/aws_nitro_root.h"
#include "src/common/encoding.h"
#include "src/common/logger.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/http/http_server.h"
#include "src/localaws/frontend.h"
#include "src/localaws/imds.h"
#include "src/localaws/kms_service.h"
#include "src/localaws/nsm_service.h"
#include "src/localaws/nsm_service_ca.h"
#include "src/localaws/secrets_service.h"
#include "src/localaws/sts_service.h"

namespace lockout::localaws {

struct LocalAws::Impl {
  LocalAwsOptions options;
  std::unique_ptr<IdentityStore> identity;
  std::unique_ptr<ImdsService> imds;
  std::unique_ptr<KmsService> kms;
  std::unique_ptr<SecretsService> secrets;
  std::unique_ptr<StsService> sts;
  std::unique_ptr<NsmService> nsm;
  std::unique_ptr<NsmService> debug_nsm;
  std::unique_ptr<Frontend> frontend;
  std::unique_ptr<http::HttpServer> server;
};

LocalAws::LocalAws(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalAws::~LocalAws() { Stop(); }

absl::StatusOr<std::unique_ptr<LocalAws>> LocalAws::Start(LocalAwsOptions options,
                                                          const Clock& clock) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("--state is required");
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create state directory ", options.state_dir, ": ", ec.message()));
  }
  chmod(options.state_dir.c_str(), 0700);
  if (options.nsm_socket.empty()) options.nsm_socket = options.state_dir + "/nsm.sock";

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  ASSIGN_OR_RETURN(impl->identity, IdentityStore::Open(options.state_dir, options.identity, clock));

  NsmServiceOptions nsm_options;
  nsm_options.state_dir = options.state_dir;
  nsm_options.socket_path = options.nsm_socket;
  nsm_options.instance_id = options.identity.instance_id;
  nsm_options.instance_role_arn = impl->identity->instance_role_arn();
  nsm_options.debug_mode = options.debug_mode;
  nsm_options.max_connections = options.nsm_max_connections;
  nsm_options.idle_timeout = options.nsm_idle_timeout;
  ASSIGN_OR_RETURN(impl->nsm, NsmService::Start(nsm_options, clock));
  if (!options.debug_nsm_socket.empty()) {
    nsm_options.socket_path = options.debug_nsm_socket;
    nsm_options.debug_mode = true;
    ASSIGN_OR_RETURN(impl->debug_nsm, NsmService::Start(nsm_options, clock));
  }

  KmsOptions kms_options;
  kms_options.state_dir = options.state_dir;
  kms_options.trusted_attestation_roots.push_back(impl->nsm->root_der());
  if (options.trust_aws_root) {
    kms_options.trusted_attestation_roots.push_back(attest::AwsNitroRootG1Der());
  }
  ASSIGN_OR_RETURN(impl->kms, KmsService::Open(kms_options, *impl->identity, clock));
  ASSIGN_OR_RETURN(impl->secrets, SecretsService::Open(options.state_dir, *impl->identity, clock));

  impl->sts = std::make_unique<StsService>(*impl->identity, clock);
  impl->imds = std::make_unique<ImdsService>(*impl->identity, clock);
  impl->frontend = std::make_unique<Frontend>(*impl->identity, impl->imds.get(), clock);
  impl->frontend->AddService(impl->kms.get());
  impl->frontend->AddService(impl->secrets.get());
  impl->frontend->AddQueryService(impl->sts.get());

  http::HttpServerOptions http_options;
  http_options.host = options.host;
  http_options.port = options.port;
  http_options.threads = options.threads;
  http_options.max_connections = options.max_connections;
  http_options.max_body_bytes = 1 << 20;
  http_options.error_response = &Frontend::ServerErrorResponse;
  impl->server = std::make_unique<http::HttpServer>(http_options);
  Frontend* frontend = impl->frontend.get();
  RETURN_IF_ERROR(impl->server->Start(
      [frontend](const aws::HttpRequest& request) { return frontend->Handle(request); }));
  LogInfo("local_aws_started", {{"port", impl->server->port()},
                                {"state_dir", options.state_dir},
                                {"nsm_socket", options.nsm_socket},
                                {"debug_mode", options.debug_mode}});
  return std::unique_ptr<LocalAws>(new LocalAws(std::move(impl)));
}

void LocalAws::Stop() {
  if (impl_ == nullptr) return;
  if (impl_->server) impl_->server->Stop();
  if (impl_->nsm) impl_->nsm->Stop();
  if (impl_->debug_nsm) impl_->debug_nsm->Stop();
}

uint16_t LocalAws::port() const { return impl_->server->port(); }

absl::StatusOr<nlohmann::ordered_json> LocalAws::ReadyJson() {
  const IdentityOptions& o = impl_->identity->options();
  std::string base = absl::StrCat("http://", impl_->options.host, ":", port());
  auto principal = [](const policy::Principal& p, const IssuedCredentials& c) {
    nlohmann::ordered_json j = {
        {"arn", p.arn},
        {"access_key_id", c.access_key_id},
        {"secret_access_key", std::string(c.secret_access_key.RevealAsString())}};
    if (!c.session_token.empty()) j["session_token"] = c.session_token;
    return j;
  };
  ASSIGN_OR_RETURN(IssuedCredentials instance, impl_->identity->InstanceCredentials());
  crypto::Sha256Digest root_hash = crypto::Sha256(impl_->nsm->root_der());
  nlohmann::ordered_json roles = nlohmann::ordered_json::object();
  for (const RoleInfo& r : impl_->identity->roles()) {
    if (r.arn != impl_->identity->instance_role_arn()) roles[r.name] = r.arn;
  }
  nlohmann::ordered_json j = {
      {"region", o.region},
      {"account", o.account},
      {"kms_endpoint", base},
      {"secretsmanager_endpoint", base},
      {"sts_endpoint", base},
      {"imds_endpoint", base},
      {"nsm_socket", impl_->options.nsm_socket},
      {"debug_nsm_socket", impl_->options.debug_nsm_socket},
      {"state_dir", impl_->options.state_dir},
      {"instance_id", o.instance_id},
      {"instance_role_arn", impl_->identity->instance_role_arn()},
      {"roles", roles},
      {"nsm_root_sha256", HexEncode(root_hash)},
      // The local NSM's root certificate (PEM): what verifiers of its attestation documents
      // trust in place of the AWS Nitro root (lockout attest verify --root FILE).
      {"nsm_root_cert", absl::StrCat(impl_->options.state_dir, "/nsm/", Absl(kNsmRootCertFile))},
      {"debug_mode", impl_->options.debug_mode},
      {"principals",
       {{"root", principal(impl_->identity->root(), impl_->identity->RootCredentials())},
        {"admin", principal(impl_->identity->admin(), impl_->identity->AdminCredentials())},
        {"instance", principal(impl_->identity->instance(), instance)}}}};
  return j;
}

absl::StatusOr<std::string> EnvExports(const nlohmann::json& ready, std::string_view principal) {
  try {
    const auto& p = ready.at("principals").at(std::string(principal));
    std::string out;
    auto line = [&out](std::string_view k, const std::string& v) {
      // Values are generated (URLs, base64, ids): single quotes are enough for a shell.
      absl::StrAppend(&out, "export ", Absl(k), "='", v, "'\n");
    };
    line("AWS_ENDPOINT_URL_KMS", ready.at("kms_endpoint").get<std::string>());
    line("AWS_ENDPOINT_URL_SECRETS_MANAGER",
         ready.at("secretsmanager_endpoint").get<std::string>());
    if (ready.contains("sts_endpoint")) {
      line("AWS_ENDPOINT_URL_STS", ready.at("sts_endpoint").get<std::string>());
    }
    line("AWS_EC2_METADATA_SERVICE_ENDPOINT", ready.at("imds_endpoint").get<std::string>() + "/");
    line("AWS_REGION", ready.at("region").get<std::string>());
    line("AWS_DEFAULT_REGION", ready.at("region").get<std::string>());
    line("AWS_ACCESS_KEY_ID", p.at("access_key_id").get<std::string>());
    line("AWS_SECRET_ACCESS_KEY", p.at("secret_access_key").get<std::string>());
    if (p.contains("session_token")) {
      line("AWS_SESSION_TOKEN", p.at("session_token").get<std::string>());
    } else {
      out += "unset AWS_SESSION_TOKEN\n";
    }
    line("LOCKOUT_NSM_SOCKET", ready.at("nsm_socket").get<std::string>());
    if (ready.contains("nsm_root_cert")) {
      line("LOCKOUT_NSM_ROOT_CERT", ready.at("nsm_root_cert").get<std::string>());
    }
    return out;
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ready file has no principal \"", Absl(principal),
                     "\" (use root, admin or instance) or is not a local-aws ready file"));
  }
}

}  // namespace lockout::localaws
