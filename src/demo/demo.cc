#include "src/demo/demo.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/auth/client_key.h"
#include "src/auth/request_auth.h"
#include "src/awsclient/aws_call_error.h"
#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/kms_client.h"
#include "src/awsclient/secrets_client.h"
#include "src/common/clock.h"
#include "src/common/encoding.h"
#include "src/common/file.h"
#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/common/secret_bytes.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/demo/child_process.h"
#include "src/eth/address.h"
#include "src/eth/transaction.h"
#include "src/localaws/local_aws.h"
#include "src/net/frame_decoder.h"
#include "src/net/socket.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/open_nsm_device.h"
#include "src/nsm/unix_socket_nsm_device.h"
#include "src/operator/check_lockout.h"
#include "src/operator/create_key.h"
#include "src/operator/enclave_client.h"
#include "src/operator/measurement.h"
#include "src/operator/signature_verify.h"
#include "src/signer/signer.h"
#include "src/signpolicy/signing_policy.h"

namespace lockout::demo {
namespace {

namespace fs = std::filesystem;

constexpr char kSecretName[] = "lockout-demo-signing-key";
// The message the seed's test.py signs.
constexpr char kSeedTestMessage[] = "Hello, sign this message!";
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kRefusalTimeout = absl::Seconds(60);
// The authorized client of the authenticated configuration, and the client root adds.
constexpr char kClientName[] = "demo-client";
constexpr char kRootClientName[] = "root-client";

std::string Short(std::string_view hex, size_t n = 16) {
  if (hex.size() <= n) return std::string(hex);
  return absl::StrCat(Absl(hex.substr(0, n)), "…");
}

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

std::string Ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f ms", ms);
  return buf;
}

// obj[key] as a string: InvalidArgument naming `key` when absent or not a string.
absl::StatusOr<std::string> StringField(const nlohmann::ordered_json& obj, const char* key) {
  if (!obj.is_object()) return absl::InvalidArgumentError("local-aws ready JSON: not an object");
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("local-aws ready JSON: no string \"", key, "\""));
  }
  return it->get<std::string>();
}

// j[key] if it is a string, else "" (replies and ready files are checked, never trusted).
std::string StringOr(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Everything the demo made, in stop order (children first, then local-aws, then files).
class Demo {
 public:
  explicit Demo(const DemoOptions& options) : o_(options), out_(*options.out) {}
  ~Demo() { Cleanup(); }

  int Run();

 private:
  using Step = std::function<absl::StatusOr<std::string>()>;

  bool Stopping() const { return o_.stop->load(); }

  // Runs one step and prints its line. False if it failed (or the demo was interrupted).
  bool Do(std::string_view name, const Step& step) {
    if (Stopping()) {
      interrupted_ = true;
      return false;
    }
    absl::StatusOr<std::string> figure = step();
    if (Stopping() && !figure.ok()) interrupted_ = true;
    ++steps_;
    if (figure.ok()) {
      ++passed_;
      out_ << "✓ " << name << " — " << *figure << "\n";
    } else {
      out_ << "✗ " << name << " — " << figure.status().message() << "\n";
    }
    out_.flush();
    return figure.ok();
  }

  absl::Status MakeWorkDir();
  absl::StatusOr<std::string> StartLocalAws();
  absl::StatusOr<std::shared_ptr<awsclient::CredentialsProvider>> Credentials(
      std::string_view principal);
  absl::StatusOr<std::unique_ptr<awsclient::KmsClient>> Kms(std::string_view principal);
  absl::StatusOr<std::unique_ptr<awsclient::SecretsClient>> Secrets(std::string_view principal);
  absl::StatusOr<std::string> CreateKmsKey();
  absl::StatusOr<std::string> CreateSigningKey();
  absl::StatusOr<std::string> MeasureEnclave();
  absl::StatusOr<std::string> ApplyPolicy(ops::PolicyMode mode);
  absl::StatusOr<std::string> StartRelayAndEnclave();
  // Starts lockout-enclave (stopping a running one first) and waits until it loaded the key.
  absl::StatusOr<std::string> StartMainEnclave();
  absl::StatusOr<std::string> SignAndVerify();
  // The authenticated configuration (o_.authenticated): the client key and signing policies,
  // the seed's request refused, an authorized request signed, its replay refused.
  absl::StatusOr<std::string> CreateClientAndSigningPolicy();
  absl::StatusOr<std::string> RefuseUnauthenticatedV1();
  absl::StatusOr<std::string> AuthorizedSignAndVerify();
  absl::StatusOr<std::string> RefuseReplay();
  absl::StatusOr<std::string> RefuseRootsClient();
  // A v2 client of `endpoint`, signing its requests with the client key when authenticated.
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> Client(const net::Endpoint& endpoint);
  // Issue 14 item 8: an EIP-1559 transaction signed by a secp256k1 key in a lockout-enclave, its
  // sender recovered here from the raw transaction (src/eth's RecoverSender).
  absl::StatusOr<std::string> SignEthereumTransaction();
  // The enclave's count of refusals under `rule` (health, asked as the authorized client).
  absl::StatusOr<int64_t> Refusals(std::string_view rule);
  // Sends one v2 frame of `text` on a new connection to the enclave and returns the reply.
  absl::StatusOr<nlohmann::json> RawV2Call(const std::string& text);
  absl::StatusOr<std::string> CreateProbeKey();
  // lockout check-lockout's logic with `principal`'s credentials, the probe key and the debug NSM.
  absl::StatusOr<ops::CheckLockoutReport> CheckAs(std::string_view principal);
  absl::StatusOr<std::string> ShowSeedLeak();
  absl::StatusOr<std::string> ExpectEveryLeakClosed(std::string_view principal);
  absl::StatusOr<std::string> ExpectDecryptDenied(std::string_view principal);
  // Starts enclave `name` and shows KMS refusing it the key: its health, that it cannot sign,
  // and the PCR0 (and, if `expected_pcr16_hex` is given, PCR16) its log names.
  absl::StatusOr<std::string> ExpectRefused(std::string_view name, const std::string& binary,
                                            const std::string& nsm_socket,
                                            const std::string& expected_pcr0_hex,
                                            const std::string& policy_path,
                                            const std::string& expected_pcr16_hex = "");
  // The enclave's kms_access_denied log line, once it has written it.
  absl::StatusOr<nlohmann::json> LoggedDenial(const std::string& log_path);
  absl::Status WriteServeReadyFile();

  // Waits until `path` holds JSON for which `done` is true; fails if `child` exits first.
  absl::StatusOr<nlohmann::json> WaitForJson(const std::string& path, ChildProcess& child,
                                             std::string_view what,
                                             const std::function<bool(const nlohmann::json&)>& done,
                                             absl::Duration timeout);
  std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) const;
  absl::StatusOr<std::unique_ptr<ChildProcess>> StartEnclave(std::string_view name,
                                                             const std::string& binary,
                                                             const std::string& nsm_socket,
                                                             const std::string& policy_path,
                                                             std::string* ready_path);
  std::string LastLogLine(const std::string& path) const;
  void Cleanup();

  const DemoOptions& o_;
  std::ostream& out_;
  int steps_ = 0;
  int passed_ = 0;
  bool interrupted_ = false;

  std::string work_dir_;
  std::string bin_dir_;
  std::ofstream log_;
  bool log_redirected_ = false;
  RealClock clock_;
  std::unique_ptr<localaws::LocalAws> local_aws_;
  nlohmann::ordered_json ready_;
  // Fields of ready_, checked once in StartLocalAws.
  struct PrincipalKeys {
    std::string arn, access_key_id, secret_access_key, session_token;
  };
  std::map<std::string, PrincipalKeys, std::less<>> principals_;
  std::string kms_endpoint_, secretsmanager_endpoint_, imds_endpoint_, nsm_socket_;
  std::string instance_role_arn_;
  std::string region_;
  std::string debug_nsm_socket_;
  std::unique_ptr<ChildProcess> relay_;
  std::unique_ptr<ChildProcess> enclave_;
  std::string relay_uri_;
  std::string enclave_uri_;
  std::optional<net::Endpoint> enclave_endpoint_;

  std::string kms_key_arn_;
  std::string probe_key_arn_;
  std::string public_key_pem_;
  std::string public_key_sha256_;  // hex SHA-256 of the signing key's SubjectPublicKeyInfo
  std::string key_type_name_;
  std::string ethereum_address_;  // create-key's (secp256k1 only), computed from the new key
  crypto::Sha384Digest pcr0_{};
  std::string pcr0_hex_;

  // Authenticated configuration only.
  std::shared_ptr<const auth::ClientKey> client_key_;
  std::string client_key_path_;
  std::string signing_policy_path_;       // the authorized client's (sealed)
  std::string root_signing_policy_path_;  // the same plus a client of root's
  std::optional<crypto::Sha384Digest> pcr16_;
  std::string pcr16_hex_, root_pcr16_hex_;
  std::string signed_request_;  // the authorized client's signed request, replayed later
};

absl::Status Demo::MakeWorkDir() {
  std::string parent = o_.work_parent;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string templ = parent + "/lockout-demo-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a temporary directory in ", parent));
  }
  work_dir_ = templ;
  log_.open(work_dir_ + "/local-aws.log", std::ios::app);
  if (log_) {
    Logger::Default().SetStream(&log_);
    log_redirected_ = true;
  }
  if (!o_.bin_dir.empty()) {
    bin_dir_ = o_.bin_dir;
  } else {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return absl::InternalError("cannot read /proc/self/exe");
    bin_dir_ = self.parent_path().string();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Demo::StartLocalAws() {
  localaws::LocalAwsOptions options;
  options.state_dir = work_dir_ + "/state";
  options.nsm_socket = work_dir_ + "/nsm.sock";
  debug_nsm_socket_ = work_dir_ + "/nsm-debug.sock";
  options.debug_nsm_socket = debug_nsm_socket_;
  options.threads = 2;
  ASSIGN_OR_RETURN(local_aws_, localaws::LocalAws::Start(options, clock_));
  ASSIGN_OR_RETURN(ready_, local_aws_->ReadyJson());
  ASSIGN_OR_RETURN(region_, StringField(ready_, "region"));
  ASSIGN_OR_RETURN(kms_endpoint_, StringField(ready_, "kms_endpoint"));
  ASSIGN_OR_RETURN(secretsmanager_endpoint_, StringField(ready_, "secretsmanager_endpoint"));
  ASSIGN_OR_RETURN(imds_endpoint_, StringField(ready_, "imds_endpoint"));
  ASSIGN_OR_RETURN(nsm_socket_, StringField(ready_, "nsm_socket"));
  ASSIGN_OR_RETURN(instance_role_arn_, StringField(ready_, "instance_role_arn"));
  auto principals = ready_.find("principals");
  if (principals == ready_.end()) {
    return absl::InvalidArgumentError("local-aws ready JSON: no \"principals\"");
  }
  for (const char* name : {"root", "admin", "instance"}) {
    auto p = principals->find(name);
    if (p == principals->end()) {
      return absl::InvalidArgumentError(absl::StrCat("local-aws ready JSON: no principal ", name));
    }
    PrincipalKeys keys;
    ASSIGN_OR_RETURN(keys.arn, StringField(*p, "arn"));
    ASSIGN_OR_RETURN(keys.access_key_id, StringField(*p, "access_key_id"));
    ASSIGN_OR_RETURN(keys.secret_access_key, StringField(*p, "secret_access_key"));
    if (p->contains("session_token")) {
      ASSIGN_OR_RETURN(keys.session_token, StringField(*p, "session_token"));
    }
    principals_[name] = std::move(keys);
  }
  return absl::StrCat(kms_endpoint_, " (KMS, Secrets Manager, IMDS), NSM ", nsm_socket_);
}

absl::StatusOr<std::shared_ptr<awsclient::CredentialsProvider>> Demo::Credentials(
    std::string_view principal) {
  auto p = principals_.find(principal);
  if (p == principals_.end()) {
    return absl::InternalError(absl::StrCat("local-aws has no principal ", Absl(principal)));
  }
  aws::AwsCredentials credentials;
  credentials.access_key_id = p->second.access_key_id;
  credentials.secret_access_key = SecretBytes::CopyFrom(p->second.secret_access_key);
  credentials.session_token = SecretBytes::CopyFrom(p->second.session_token);
  return std::make_shared<awsclient::StaticCredentialsProvider>(std::move(credentials));
}

absl::StatusOr<std::unique_ptr<awsclient::KmsClient>> Demo::Kms(std::string_view principal) {
  ASSIGN_OR_RETURN(auto credentials, Credentials(principal));
  ASSIGN_OR_RETURN(awsclient::EndpointConfig endpoint,
                   awsclient::EndpointConfig::FromUrl(kms_endpoint_));
  return awsclient::KmsClient::Create(endpoint, credentials, region_);
}

absl::StatusOr<std::unique_ptr<awsclient::SecretsClient>> Demo::Secrets(
    std::string_view principal) {
  ASSIGN_OR_RETURN(auto credentials, Credentials(principal));
  ASSIGN_OR_RETURN(awsclient::EndpointConfig endpoint,
                   awsclient::EndpointConfig::FromUrl(secretsmanager_endpoint_));
  return awsclient::SecretsClient::Create(endpoint, credentials, region_);
}

absl::StatusOr<std::string> Demo::CreateKmsKey() {
  ASSIGN_OR_RETURN(auto kms, Kms("admin"));
  awsclient::CreateKeyRequest request;
  request.description = "lockout demo: encrypts the enclave's signing key";
  ASSIGN_OR_RETURN(awsclient::KeyMetadata key, kms->CreateKey(request));
  kms_key_arn_ = key.arn;
  return kms_key_arn_;
}

// The seed's create_key.py, run as the instance role: lockout create-key's logic (generate,
// KMS-encrypt the PKCS#8 form under {"lockout:secret": NAME}, store as SecretBinary, wipe).
absl::StatusOr<std::string> Demo::CreateSigningKey() {
  ASSIGN_OR_RETURN(signer::KeyType type, signer::ParseKeyType(o_.key_type));
  ASSIGN_OR_RETURN(auto kms, Kms("instance"));
  ASSIGN_OR_RETURN(auto secrets, Secrets("instance"));
  ops::CreateKeyOptions options;
  options.kms_key_id = kms_key_arn_;
  options.secret_name = kSecretName;
  options.key_type = type;
  ASSIGN_OR_RETURN(ops::CreateKeyResult key, ops::CreateSigningKey(*kms, *secrets, options));
  public_key_pem_ = key.public_key_pem;
  public_key_sha256_ = HexEncode(crypto::Sha256(key.public_key_der));
  key_type_name_ = std::string(signer::KeyTypeName(key.key_type));
  std::string figure =
      absl::StrCat(key_type_name_, " key, SPKI SHA-256 ", Short(public_key_sha256_), ", secret ",
                   kSecretName, " (", key.ciphertext_size, "-byte KMS ciphertext)");
  if (key.ethereum_address.has_value()) {
    ethereum_address_ = *key.ethereum_address;
    absl::StrAppend(&figure, ", address ", *key.ethereum_address);
  }
  return figure;
}

absl::StatusOr<std::string> Demo::MeasureEnclave() {
  const std::string binary = bin_dir_ + "/lockout-enclave";
  ASSIGN_OR_RETURN(pcr0_, ops::Pcr0OfEnclaveBinary(binary));
  pcr0_hex_ = HexEncode(pcr0_);
  return absl::StrCat("PCR0 ", pcr0_hex_);
}

absl::StatusOr<std::string> Demo::ApplyPolicy(ops::PolicyMode mode) {
  ops::KeyPolicyOptions options;
  options.mode = mode;
  options.admin_role_arn = principals_["admin"].arn;
  options.enclave_role_arn = instance_role_arn_;
  options.pcr0 = pcr0_;
  // The recommended policy seals the signing policy too: Decrypt only with its PCR16.
  const bool seal = mode == ops::PolicyMode::kRecommended && pcr16_.has_value();
  if (seal) options.pcr16 = pcr16_;
  ASSIGN_OR_RETURN(nlohmann::ordered_json policy, ops::BuildKeyPolicy(options));
  ASSIGN_OR_RETURN(auto kms, Kms("admin"));
  // Seed: the root statement is gone; recommended without a policy admin: nobody may
  // PutKeyPolicy afterwards. Either way KMS's lock-out safety check must be bypassed.
  const bool bypass = ops::NeedsLockoutSafetyBypass(options);
  RETURN_IF_ERROR(kms->PutKeyPolicy(kms_key_arn_, policy.dump(), bypass));
  const size_t statements = policy.contains("Statement") ? policy["Statement"].size() : 0;
  if (mode == ops::PolicyMode::kSeed) {
    return absl::StrCat("seed policy, ", statements, " statements, Decrypt only with PCR0 ",
                        Short(pcr0_hex_),
                        " (root removed: applied with BypassPolicyLockoutSafetyCheck)");
  }
  return absl::StrCat("recommended policy, ", statements, " statements, Decrypt only with PCR0 ",
                      Short(pcr0_hex_),
                      seal ? absl::StrCat(" and PCR16 ", Short(pcr16_hex_), " (the signing policy)")
                           : std::string(),
                      "; ReEncrypt, CreateGrant and PutKeyPolicy denied to everyone (immutable: "
                      "applied with BypassPolicyLockoutSafetyCheck)");
}

std::vector<std::string> Demo::ChildEnv(const std::vector<std::string>& extra) const {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("AWS_", 0) == 0) continue;  // only what we set below
    env.emplace_back(kv);
  }
  env.push_back("AWS_REGION=" + region_);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::string Demo::LastLogLine(const std::string& path) const {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  if (last.size() > 200) last = last.substr(0, 200) + "…";
  return last;
}

absl::StatusOr<nlohmann::json> Demo::WaitForJson(
    const std::string& path, ChildProcess& child, std::string_view what,
    const std::function<bool(const nlohmann::json&)>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  nlohmann::json last;
  while (absl::Now() < deadline) {
    if (Stopping()) return absl::CancelledError("interrupted");
    absl::StatusOr<std::string> text = ReadFileString(path);
    if (text.ok()) {
      absl::StatusOr<nlohmann::json> j = ParseJson(*text);
      if (j.ok()) {
        last = *j;
        if (done(last)) return last;
      }
    }
    if (!child.Running()) {
      return absl::UnavailableError(absl::StrCat(Absl(what), " exited (status ",
                                                 child.wait_status(),
                                                 "): ", LastLogLine(child.log_path())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      Absl(what), " not ready after ", absl::FormatDuration(timeout), "; see ", child.log_path()));
}

absl::StatusOr<std::unique_ptr<ChildProcess>> Demo::StartEnclave(std::string_view name,
                                                                 const std::string& binary,
                                                                 const std::string& nsm_socket,
                                                                 const std::string& policy_path,
                                                                 std::string* ready_path) {
  *ready_path = absl::StrCat(work_dir_, "/", Absl(name), ".json");
  std::error_code ec;
  fs::remove(*ready_path, ec);  // a restarted enclave must not be judged by its predecessor's
  std::vector<std::string> argv = {binary,
                                   "--listen",
                                   "tcp://127.0.0.1:0",
                                   "--relay",
                                   relay_uri_,
                                   "--nsm",
                                   "unix://" + nsm_socket,
                                   "--kms-endpoint",
                                   kms_endpoint_,
                                   "--region",
                                   region_,
                                   "--secret",
                                   std::string(kSecretName),
                                   "--key-type",
                                   key_type_name_,
                                   "--threads",
                                   "2",
                                   "--ready-file",
                                   *ready_path};
  if (!policy_path.empty()) {
    argv.push_back("--signing-policy");
    argv.push_back(policy_path);
  }
  return ChildProcess::Start(argv, ChildEnv({}), absl::StrCat(work_dir_, "/", Absl(name), ".log"));
}

absl::StatusOr<std::string> Demo::StartRelayAndEnclave() {
  const std::string relay_ready = work_dir_ + "/relay.json";
  std::vector<std::string> relay_argv = {bin_dir_ + "/lockout-relay",
                                         "--listen",
                                         "tcp://127.0.0.1:0",
                                         "--allow-secret",
                                         std::string(kSecretName),
                                         "--region",
                                         region_,
                                         "--ready-file",
                                         relay_ready};
  ASSIGN_OR_RETURN(relay_,
                   ChildProcess::Start(
                       relay_argv,
                       ChildEnv({"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds_endpoint_,
                                 "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + secretsmanager_endpoint_}),
                       work_dir_ + "/relay.log"));
  ASSIGN_OR_RETURN(
      nlohmann::json relay_ready_json,
      WaitForJson(
          relay_ready, *relay_, "lockout-relay",
          [](const nlohmann::json& j) { return !StringOr(j, "listen").empty(); }, kStartTimeout));
  relay_uri_ = StringOr(relay_ready_json, "listen");
  ASSIGN_OR_RETURN(std::string enclave, StartMainEnclave());
  return absl::StrCat("relay ", relay_uri_, ", ", enclave);
}

absl::StatusOr<std::string> Demo::StartMainEnclave() {
  if (enclave_ != nullptr) enclave_->Stop();
  enclave_.reset();
  enclave_endpoint_.reset();
  std::string enclave_ready;
  ASSIGN_OR_RETURN(enclave_, StartEnclave("enclave", bin_dir_ + "/lockout-enclave", nsm_socket_,
                                          signing_policy_path_, &enclave_ready));
  ASSIGN_OR_RETURN(nlohmann::json ready, WaitForJson(
                                             enclave_ready, *enclave_, "lockout-enclave",
                                             [](const nlohmann::json& j) {
                                               const std::string s = StringOr(j, "status");
                                               return s == "ok" || s == "failed";
                                             },
                                             kStartTimeout));
  if (StringOr(ready, "status") != "ok") {
    return absl::FailedPreconditionError(absl::StrCat("lockout-enclave could not load the key: ",
                                                      LastLogLine(enclave_->log_path())));
  }
  enclave_uri_ = StringOr(ready, "listen");
  ASSIGN_OR_RETURN(enclave_endpoint_, net::Endpoint::Parse(enclave_uri_));
  if (StringOr(ready, "public_key_pem") != public_key_pem_) {
    return absl::InternalError("the enclave loaded a different public key than create-key made");
  }
  return absl::StrCat("enclave ", enclave_uri_, " (", key_type_name_,
                      " key loaded through attested KMS Decrypt)");
}

absl::StatusOr<std::string> Demo::SignAndVerify() {
  if (!enclave_endpoint_.has_value()) return absl::FailedPreconditionError("no enclave");
  const ByteView message = AsBytes(kSeedTestMessage);
  const auto start = std::chrono::steady_clock::now();
  if (o_.authenticated) {
    ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Client(*enclave_endpoint_));
    ASSIGN_OR_RETURN(Bytes signature, client->Sign(message));
    const double ms = MillisSince(start);
    RETURN_IF_ERROR(ops::VerifySignature(public_key_pem_, message, signature));
    return absl::StrCat(kClientName, "'s signed request \"", Absl(kSeedTestMessage), "\" → 0x",
                        Short(HexEncode(signature), 24), " (", signature.size(),
                        " bytes, verified with OpenSSL), ", Ms(ms));
  }
  ASSIGN_OR_RETURN(std::string reply, ops::SignV1(*enclave_endpoint_, message));
  const double ms = MillisSince(start);
  ASSIGN_OR_RETURN(Bytes signature, ops::ParseV1SignReply(reply));
  RETURN_IF_ERROR(ops::VerifySignature(public_key_pem_, message, signature));
  return absl::StrCat("\"", Absl(kSeedTestMessage), "\" → 0x", Short(HexEncode(signature), 24),
                      " (", signature.size(), " bytes, verified with OpenSSL), ", Ms(ms));
}

// With --key-type secp256k1 the KMS-locked key signs; otherwise (the demo's key cannot sign
// Ethereum transactions) a second lockout-enclave with an ephemeral secp256k1 key, and the line
// says so. The sender is recovered here from the raw bytes, never taken from the reply, and
// compared with the address the enclave reports (eth_address) and, for the locked key, with the
// address create-key computed from the key it generated.
absl::StatusOr<std::string> Demo::SignEthereumTransaction() {
  std::unique_ptr<ChildProcess> ephemeral;
  std::optional<net::Endpoint> endpoint = enclave_endpoint_;
  const bool locked_key = key_type_name_ == "secp256k1";
  if (!locked_key) {
    const std::string ready_path = work_dir_ + "/enclave-secp256k1.json";
    ASSIGN_OR_RETURN(ephemeral,
                     ChildProcess::Start(
                         {bin_dir_ + "/lockout-enclave", "--listen", "tcp://127.0.0.1:0",
                          "--ephemeral-key", "secp256k1", "--nsm", "", "--ready-file", ready_path},
                         ChildEnv({}), work_dir_ + "/enclave-secp256k1.log"));
    ASSIGN_OR_RETURN(
        nlohmann::json ready,
        WaitForJson(
            ready_path, *ephemeral, "the secp256k1 enclave",
            [](const nlohmann::json& j) { return !StringOr(j, "listen").empty(); }, kStartTimeout));
    ASSIGN_OR_RETURN(endpoint, net::Endpoint::Parse(StringOr(ready, "listen")));
  }
  if (!endpoint.has_value()) return absl::FailedPreconditionError("no enclave");
  absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> client =
      locked_key ? Client(*endpoint) : ops::EnclaveV2Client::Connect(*endpoint);
  if (!client.ok()) return client.status();
  // 0.01 ETH on Sepolia, EIP-1559 fees.
  const nlohmann::json tx = {{"type", "0x2"},
                             {"chainId", "0xaa36a7"},
                             {"nonce", "0x0"},
                             {"to", "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                             {"value", "0x2386f26fc10000"},
                             {"gas", "0x5208"},
                             {"maxPriorityFeePerGas", "0x3b9aca00"},
                             {"maxFeePerGas", "0x77359400"}};
  ASSIGN_OR_RETURN(eth::Address reported, (*client)->EthAddress());
  ASSIGN_OR_RETURN(ops::EthSignedTransaction signed_tx, (*client)->EthSignTransaction(tx));
  ASSIGN_OR_RETURN(eth::SignedTransaction decoded, eth::DecodeSignedTransaction(signed_tx.raw));
  if (decoded.tx.type != eth::TransactionType::kDynamicFee) {
    return absl::InternalError("the raw transaction is not EIP-1559");
  }
  ASSIGN_OR_RETURN(eth::Address sender, eth::RecoverSender(signed_tx.raw));
  const std::string sender_text = eth::ChecksumAddress(sender);
  if (sender != reported) {
    return absl::InternalError(absl::StrCat("the sender recovered from the raw transaction, ",
                                            sender_text, ", is not the enclave's address ",
                                            eth::ChecksumAddress(reported)));
  }
  if (ephemeral != nullptr) ephemeral->Stop();
  if (locked_key) {
    if (sender_text != ethereum_address_) {
      return absl::InternalError(absl::StrCat("the sender ", sender_text,
                                              " is not the address create-key computed, ",
                                              ethereum_address_));
    }
    return absl::StrCat("the KMS-locked secp256k1 key signed ", signed_tx.raw.size(),
                        "-byte type-2 tx ", Short(HexEncode(ByteView(signed_tx.hash.data(), 32))),
                        "; sender recovered from the raw tx = ", sender_text,
                        " = the enclave's eth_address = create-key's address");
  }
  return absl::StrCat(
      "an ephemeral secp256k1 key in a second lockout-enclave (not KMS-locked: "
      "this demo's key is ",
      key_type_name_, "; --key-type secp256k1 uses the locked key) signed ", signed_tx.raw.size(),
      "-byte type-2 tx ", Short(HexEncode(ByteView(signed_tx.hash.data(), 32))),
      "; sender recovered from the raw tx = ", sender_text, " = the enclave's eth_address");
}

absl::StatusOr<std::unique_ptr<ops::EnclaveV2Client>> Demo::Client(const net::Endpoint& endpoint) {
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client,
                   ops::EnclaveV2Client::Connect(endpoint));
  if (o_.authenticated && client_key_ != nullptr) client->Authenticate(client_key_, clock_);
  return client;
}

absl::StatusOr<int64_t> Demo::Refusals(std::string_view rule) {
  if (!enclave_endpoint_.has_value()) return absl::FailedPreconditionError("no enclave");
  ASSIGN_OR_RETURN(std::unique_ptr<ops::EnclaveV2Client> client, Client(*enclave_endpoint_));
  ASSIGN_OR_RETURN(nlohmann::json health, client->Health());
  auto refusals = health.find("refusals");
  if (refusals == health.end() || !refusals->is_object()) {
    return absl::InvalidArgumentError("the enclave's health has no \"refusals\"");
  }
  auto n = refusals->find(std::string(rule));
  if (n == refusals->end() || !n->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the enclave's health counts no refusals of rule ", Absl(rule)));
  }
  return n->get<int64_t>();
}

absl::StatusOr<nlohmann::json> Demo::RawV2Call(const std::string& text) {
  if (!enclave_endpoint_.has_value()) return absl::FailedPreconditionError("no enclave");
  const absl::Time deadline = absl::Now() + ops::kDefaultEnclaveTimeout;
  ASSIGN_OR_RETURN(net::BlockingStream stream,
                   net::BlockingStream::Connect(*enclave_endpoint_, deadline));
  RETURN_IF_ERROR(net::WriteFrame(stream, net::FrameKind::kV2, text, deadline));
  net::FrameDecoder decoder;
  ASSIGN_OR_RETURN(std::optional<net::Frame> frame, net::ReadFrame(stream, decoder, deadline));
  if (!frame.has_value()) return absl::UnavailableError("the enclave closed without a reply");
  ASSIGN_OR_RETURN(nlohmann::json reply, ParseJson(frame->payload));
  if (!reply.is_object()) return absl::InvalidArgumentError("the reply is not a JSON object");
  return reply;
}

// Policy A names the authorized client; policy B is A with a client of root's added, what root
// on the parent would boot the enclave with to sign for itself. Both are validated as the
// enclave will read them, and their PCR16 computed as the enclave will extend it.
absl::StatusOr<std::string> Demo::CreateClientAndSigningPolicy() {
  using signpolicy::ClientKeyAlgorithm;
  ASSIGN_OR_RETURN(std::unique_ptr<auth::ClientKey> key,
                   auth::ClientKey::Generate(ClientKeyAlgorithm::kEd25519, kClientName));
  ASSIGN_OR_RETURN(std::unique_ptr<auth::ClientKey> root_key,
                   auth::ClientKey::Generate(ClientKeyAlgorithm::kEd25519, kRootClientName));
  client_key_path_ = absl::StrCat(work_dir_, "/", kClientName, ".key");
  {
    const SecretBytes file = key->ToFile();
    RETURN_IF_ERROR(WriteFileAtomic(client_key_path_, file.Reveal(), 0600));
  }
  client_key_ = std::move(key);
  auto entry = [](const auth::ClientKey& k) {
    return nlohmann::ordered_json{{"name", k.name()},
                                  {"algorithm", "ed25519"},
                                  {"public_key", HexEncode(k.public_key())},
                                  {"ops", {"health", "public_key", "sign"}},
                                  {"keys", {"*"}}};
  };
  nlohmann::ordered_json policy = {
      {"version", 1}, {"clients", {entry(*client_key_)}}, {"allow_unauthenticated_v1", false}};
  auto write = [&](const std::string& path,
                   std::string* pcr16_hex) -> absl::StatusOr<crypto::Sha384Digest> {
    const std::string text = policy.dump(2) + "\n";
    ASSIGN_OR_RETURN(signpolicy::SigningPolicy parsed, signpolicy::ParseSigningPolicy(text));
    RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(text), 0644));
    const crypto::Sha384Digest pcr16 = signpolicy::ExpectedPcr16(parsed);
    *pcr16_hex = HexEncode(pcr16);
    return pcr16;
  };
  signing_policy_path_ = work_dir_ + "/signing-policy.json";
  ASSIGN_OR_RETURN(pcr16_, write(signing_policy_path_, &pcr16_hex_));
  policy["clients"].push_back(entry(*root_key));
  root_signing_policy_path_ = work_dir_ + "/signing-policy-root.json";
  RETURN_IF_ERROR(write(root_signing_policy_path_, &root_pcr16_hex_).status());
  return absl::StrCat("client ", kClientName, " (ed25519, key file ", kClientName,
                      ".key, 0600) may sign, public_key, health; unauthenticated requests "
                      "refused; the policy seals into PCR16 ",
                      Short(pcr16_hex_));
}

absl::StatusOr<std::string> Demo::RefuseUnauthenticatedV1() {
  if (!enclave_endpoint_.has_value()) return absl::FailedPreconditionError("no enclave");
  ASSIGN_OR_RETURN(int64_t before, Refusals("unauthenticated"));
  ASSIGN_OR_RETURN(std::string reply, ops::SignV1(*enclave_endpoint_, AsBytes(kSeedTestMessage)));
  absl::StatusOr<Bytes> signature = ops::ParseV1SignReply(reply);
  if (signature.ok()) {
    return absl::PermissionDeniedError(
        "NOT refused: the enclave signed an unauthenticated request");
  }
  const std::string said(signature.status().message());
  if (said.find("unauthorized") == std::string::npos) {
    return absl::InternalError(absl::StrCat("refused, but not as unauthorized: ", said));
  }
  ASSIGN_OR_RETURN(int64_t after, Refusals("unauthenticated"));
  if (after != before + 1) {
    return absl::InternalError("the enclave's health did not count it under rule unauthenticated");
  }
  return absl::StrCat("the seed test.py's {\"bytes\": …}$$$ → \"", said,
                      "\" (rule unauthenticated in the enclave's count)");
}

absl::StatusOr<std::string> Demo::AuthorizedSignAndVerify() {
  const ByteView message = AsBytes(kSeedTestMessage);
  nlohmann::json request = {{"id", 1}, {"op", "sign"}, {"message", Base64Encode(message)}};
  RETURN_IF_ERROR(auth::SignRequest(*client_key_, clock_.Now(), request));
  signed_request_ = request.dump();
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(nlohmann::json reply, RawV2Call(signed_request_));
  const double ms = MillisSince(start);
  if (!reply.contains("ok") || reply["ok"] != true) {
    return absl::PermissionDeniedError(
        absl::StrCat("the enclave refused the authorized client: ", StringOr(reply, "error")));
  }
  ASSIGN_OR_RETURN(Bytes signature, HexDecode(StringOr(reply, "signature")));
  RETURN_IF_ERROR(ops::VerifySignature(public_key_pem_, message, signature));
  return absl::StrCat(kClientName, "'s signed v2 request \"", Absl(kSeedTestMessage), "\" → 0x",
                      Short(HexEncode(signature), 24), " (", signature.size(),
                      " bytes, verified with OpenSSL), ", Ms(ms));
}

// What a man in the middle (or root on the parent) who captured the request can do with it.
absl::StatusOr<std::string> Demo::RefuseReplay() {
  if (signed_request_.empty()) return absl::FailedPreconditionError("no signed request to replay");
  ASSIGN_OR_RETURN(int64_t before, Refusals("replayed_nonce"));
  ASSIGN_OR_RETURN(nlohmann::json reply, RawV2Call(signed_request_));
  if (reply.contains("ok") && reply["ok"] == true) {
    return absl::PermissionDeniedError("NOT refused: the enclave signed the replayed request");
  }
  const std::string error = StringOr(reply, "error");
  if (error != "unauthorized") {
    return absl::InternalError(absl::StrCat("refused, but not as unauthorized: ", error));
  }
  ASSIGN_OR_RETURN(int64_t after, Refusals("replayed_nonce"));
  if (after != before + 1) {
    return absl::InternalError("the enclave's health did not count it under rule replayed_nonce");
  }
  return "the same signed request, byte for byte, on a new connection → \"unauthorized\" (rule "
         "replayed_nonce in the enclave's count)";
}

absl::StatusOr<std::string> Demo::RefuseRootsClient() {
  if (root_pcr16_hex_ == pcr16_hex_) return absl::InternalError("the two policies seal the same");
  ASSIGN_OR_RETURN(std::string how,
                   ExpectRefused("enclave-root-client", bin_dir_ + "/lockout-enclave", nsm_socket_,
                                 pcr0_hex_, root_signing_policy_path_, root_pcr16_hex_));
  return absl::StrCat("the measured enclave booted with the policy plus ", kRootClientName,
                      ": PCR16 ", Short(root_pcr16_hex_), " ≠ the sealed ", Short(pcr16_hex_), "; ",
                      how);
}

// A key an attacker controls: the account may manage it, the instance role may re-encrypt to it
// and decrypt under it (the seed's instance role could be given such a key in any account).
absl::StatusOr<std::string> Demo::CreateProbeKey() {
  ASSIGN_OR_RETURN(auto kms, Kms("admin"));
  nlohmann::ordered_json account = {{"Sid", "Account"},
                                    {"Effect", "Allow"},
                                    {"Principal", {{"AWS", principals_["root"].arn}}},
                                    {"Action", "kms:*"},
                                    {"Resource", "*"}};
  nlohmann::ordered_json instance = {{"Sid", "InstanceRoleMayUse"},
                                     {"Effect", "Allow"},
                                     {"Principal", {{"AWS", instance_role_arn_}}},
                                     {"Action", {"kms:ReEncryptTo", "kms:Decrypt"}},
                                     {"Resource", "*"}};
  nlohmann::ordered_json policy = {{"Version", "2012-10-17"}, {"Statement", {account, instance}}};
  awsclient::CreateKeyRequest request;
  request.description = "lockout demo: a key the instance role may use (the attacker's)";
  request.policy = policy.dump();
  ASSIGN_OR_RETURN(awsclient::KeyMetadata key, kms->CreateKey(request));
  probe_key_arn_ = key.arn;
  return absl::StrCat(probe_key_arn_, " (the instance role may ReEncryptTo and Decrypt)");
}

absl::StatusOr<ops::CheckLockoutReport> Demo::CheckAs(std::string_view principal) {
  ASSIGN_OR_RETURN(auto kms, Kms(principal));
  ASSIGN_OR_RETURN(auto secrets, Secrets(principal));
  ASSIGN_OR_RETURN(std::unique_ptr<nsm::NsmDevice> nsm,
                   nsm::OpenNsmDevice(absl::StrCat("unix://", debug_nsm_socket_)));
  ops::CheckLockoutOptions options;
  options.kms_key_id = kms_key_arn_;
  options.secret_name = kSecretName;
  options.probe_key_id = probe_key_arn_;
  options.caller_arn =
      principal == "instance" ? instance_role_arn_ : principals_[std::string(principal)].arn;
  options.nsm = nsm.get();
  ops::CheckLockoutReport report = ops::CheckLockout(*kms, *secrets, options);
  if (!report.cleanup_failures.empty()) {
    return absl::InternalError(
        absl::StrCat("check-lockout left something behind: ", report.cleanup_failures.front()));
  }
  if (!report.secret_untouched) {
    return absl::InternalError("check-lockout could not show the secret untouched");
  }
  return report;
}

// "id, id" of the paths of `kind` in `state`.
std::string PathIds(const ops::CheckLockoutReport& report, ops::PathKind kind,
                    ops::PathState state) {
  std::vector<std::string> ids;
  for (const ops::PathResult& p : report.paths) {
    if (p.kind == kind && p.state == state) ids.push_back(p.id);
  }
  return absl::StrJoin(ids, ", ");
}

// The substitution paths, one word each: "put-secret-value OPEN, encrypt closed, ...".
std::string Substitution(const ops::CheckLockoutReport& report) {
  std::vector<std::string> parts;
  for (const ops::PathResult& p : report.paths) {
    if (p.kind == ops::PathKind::kSubstitution) {
      parts.push_back(absl::StrCat(p.id, " ", Absl(ops::PathStateName(p.state))));
    }
  }
  return absl::StrJoin(parts, ", ");
}

// The seed's leak, as the instance role: GetSecretValue -> ReEncrypt to the probe key -> Decrypt.
absl::StatusOr<std::string> Demo::ShowSeedLeak() {
  ASSIGN_OR_RETURN(ops::CheckLockoutReport report, CheckAs("instance"));
  const ops::PathResult* reencrypt = report.Find("reencrypt");
  if (reencrypt == nullptr || reencrypt->state != ops::PathState::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("the instance role could not re-encrypt the key: ",
                     reencrypt != nullptr ? reencrypt->detail : "no reencrypt path"));
  }
  if (report.recovered_public_key_sha256 != public_key_sha256_) {
    return absl::InternalError(absl::StrCat("the recovered key's public key (SHA-256 ",
                                            Short(report.recovered_public_key_sha256),
                                            ") is not the enclave's ", Short(public_key_sha256_)));
  }
  return absl::StrCat(
      "GetSecretValue → ReEncrypt to the probe key → Decrypt recovered the signing key: its public "
      "key's SHA-256 ",
      Short(report.recovered_public_key_sha256),
      " = the enclave's (key wiped, never printed); check-lockout as the instance role: OPEN ",
      PathIds(report, ops::PathKind::kLeak, ops::PathState::kOpen));
}

absl::StatusOr<std::string> Demo::ExpectEveryLeakClosed(std::string_view principal) {
  ASSIGN_OR_RETURN(ops::CheckLockoutReport report, CheckAs(principal));
  if (report.verdict() != ops::LockoutVerdict::kLockedOut) {
    std::vector<std::string> bad;
    for (const ops::PathResult& p : report.paths) {
      if (p.kind == ops::PathKind::kLeak && p.state != ops::PathState::kClosed) {
        bad.push_back(absl::StrCat(p.id, " ", Absl(ops::PathStateName(p.state)), ": ", p.detail));
      }
    }
    return absl::PermissionDeniedError(absl::StrJoin(bad, "; "));
  }
  return absl::StrCat("closed: ", PathIds(report, ops::PathKind::kLeak, ops::PathState::kClosed),
                      "; substitution: ", Substitution(report),
                      "; nothing left behind, secret untouched");
}

// Seed mode: only what the tutorial claims (Decrypt without attestation is refused), and what
// else check-lockout found open.
absl::StatusOr<std::string> Demo::ExpectDecryptDenied(std::string_view principal) {
  ASSIGN_OR_RETURN(ops::CheckLockoutReport report, CheckAs(principal));
  const ops::PathResult* decrypt = report.Find("decrypt");
  if (decrypt == nullptr || decrypt->state != ops::PathState::kClosed) {
    return absl::PermissionDeniedError(absl::StrCat(
        "Decrypt without attestation: ", decrypt != nullptr ? decrypt->detail : "not tried"));
  }
  const std::string open = PathIds(report, ops::PathKind::kLeak, ops::PathState::kOpen);
  return absl::StrCat(decrypt->aws_error, " on kms:Decrypt without attestation",
                      open.empty() ? "" : absl::StrCat("; but check-lockout finds OPEN: ", open));
}

absl::StatusOr<nlohmann::json> Demo::LoggedDenial(const std::string& log_path) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::ifstream in(log_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"kms_access_denied\"") == std::string::npos) continue;
      absl::StatusOr<nlohmann::json> j = ParseJson(line);
      if (j.ok() && j->is_object() && StringOr(*j, "event") == "kms_access_denied") return *j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::NotFoundError(absl::StrCat("no kms_access_denied line in ", log_path));
}

absl::StatusOr<std::string> Demo::ExpectRefused(std::string_view name, const std::string& binary,
                                                const std::string& nsm_socket,
                                                const std::string& expected_pcr0_hex,
                                                const std::string& policy_path,
                                                const std::string& expected_pcr16_hex) {
  std::string ready_path;
  ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child,
                   StartEnclave(name, binary, nsm_socket, policy_path, &ready_path));
  ASSIGN_OR_RETURN(
      nlohmann::json ready,
      WaitForJson(
          ready_path, *child, name,
          [](const nlohmann::json& j) { return !StringOr(j, "listen").empty(); }, kStartTimeout));
  ASSIGN_OR_RETURN(net::Endpoint endpoint, net::Endpoint::Parse(StringOr(ready, "listen")));
  const absl::Time deadline = absl::Now() + kRefusalTimeout;
  std::string status, reason;
  while (absl::Now() < deadline) {
    if (Stopping()) return absl::CancelledError("interrupted");
    if (!child->Running()) {
      return absl::UnavailableError(
          absl::StrCat(Absl(name), " exited: ", LastLogLine(child->log_path())));
    }
    absl::StatusOr<nlohmann::json> health = absl::UnavailableError("not connected");
    if (auto client = Client(endpoint); client.ok()) health = (*client)->Health();
    if (health.ok()) {
      status = StringOr(*health, "status");
      reason = StringOr(*health, "reason");
      if (status == "ok") {
        return absl::PermissionDeniedError(
            absl::StrCat("NOT refused: ", Absl(name), " loaded the key"));
      }
      if (reason == "kms access denied") break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (reason != "kms access denied") {
    return absl::DeadlineExceededError(absl::StrCat(
        Absl(name), " health never said \"kms access denied\" (last: ", status, " ", reason, ")"));
  }
  // And it cannot sign (asked as the authorized client when requests are authenticated).
  absl::StatusOr<Bytes> signature = absl::UnavailableError("no reply");
  if (o_.authenticated) {
    if (auto client = Client(endpoint); client.ok()) {
      signature = (*client)->Sign(AsBytes(kSeedTestMessage));
    } else {
      signature = client.status();
    }
  } else if (absl::StatusOr<std::string> reply = ops::SignV1(endpoint, AsBytes(kSeedTestMessage));
             reply.ok()) {
    signature = ops::ParseV1SignReply(*reply);
  } else {
    signature = reply.status();
  }
  if (signature.ok()) {
    return absl::PermissionDeniedError(absl::StrCat("NOT refused: ", Absl(name), " signed"));
  }
  // Its own log names the PCR0 (and PCR16) KMS refused: the ones we expect, not the policy's.
  ASSIGN_OR_RETURN(nlohmann::json denial, LoggedDenial(child->log_path()));
  const std::string logged = StringOr(denial, "pcr0");
  if (logged != expected_pcr0_hex) {
    return absl::InternalError(absl::StrCat(Absl(name), " logged PCR0 ", Short(logged),
                                            ", expected ", Short(expected_pcr0_hex)));
  }
  std::string pcr16_text;
  if (!expected_pcr16_hex.empty()) {
    const std::string logged16 = StringOr(denial, "pcr16");
    if (logged16 != expected_pcr16_hex) {
      return absl::InternalError(absl::StrCat(Absl(name), " logged PCR16 ", Short(logged16),
                                              ", expected ", Short(expected_pcr16_hex)));
    }
    pcr16_text = absl::StrCat(" and PCR16 ", Short(logged16));
  }
  child->Stop();
  return absl::StrCat("KMS AccessDenied: health \"", status, ": ", reason, "\", ",
                      o_.authenticated ? "sign" : "v1 sign", " \"", signature.status().message(),
                      "\", its log names PCR0 ", Short(logged), pcr16_text);
}

absl::Status Demo::WriteServeReadyFile() {
  nlohmann::ordered_json j = {{"enclave", enclave_uri_},
                              {"relay", relay_uri_},
                              {"public_key_pem", public_key_pem_},
                              {"key_type", key_type_name_},
                              {"kms_key_arn", kms_key_arn_},
                              {"secret_name", kSecretName},
                              {"pcr0", pcr0_hex_},
                              {"work_dir", work_dir_}};
  if (o_.authenticated) {
    // The authorized client's key file (lockout sign --client-key FILE) and its signing policy.
    j["client_key"] = client_key_path_;
    j["signing_policy"] = signing_policy_path_;
  }
  for (auto it = ready_.begin(); it != ready_.end(); ++it) {
    if (!j.contains(it.key())) j[it.key()] = it.value();
  }
  std::string text = j.dump(2) + "\n";  // holds local-aws's credentials
  absl::Status written = WriteFileAtomic(o_.ready_file, AsBytes(text), 0600);
  WipeString(text);
  return written;
}

void Demo::Cleanup() {
  if (enclave_ != nullptr) enclave_->Stop();
  if (relay_ != nullptr) relay_->Stop();
  enclave_.reset();
  relay_.reset();
  if (local_aws_ != nullptr) local_aws_->Stop();
  local_aws_.reset();
  if (log_redirected_) {
    Logger::Default().SetStream(&std::cerr);
    log_redirected_ = false;
  }
  log_.close();
  if (!work_dir_.empty()) {
    const bool keep = o_.keep_work_dir || passed_ != steps_;
    if (keep) {
      out_ << "  logs and state kept in " << work_dir_ << "\n";
    } else {
      std::error_code ec;
      fs::remove_all(work_dir_, ec);
    }
    work_dir_.clear();
  }
  out_.flush();
}

int Demo::Run() {
  absl::Status made = MakeWorkDir();
  if (!made.ok()) {
    out_ << "✗ prepare — " << made.message() << "\n";
    return 1;
  }
  const bool recommended = o_.policy_mode == ops::PolicyMode::kRecommended;
  // Without --serve, the recommended mode first shows the seed policy leaking the key.
  const bool show_seed_first = recommended && !o_.serve;
  const bool auth = o_.authenticated;
  bool ok =
      Do("start local-aws", [&] { return StartLocalAws(); }) &&
      Do("create the KMS key (admin)", [&] { return CreateKmsKey(); }) &&
      Do("create the signing key and secret (instance role)", [&] { return CreateSigningKey(); }) &&
      Do("measure lockout-enclave", [&] { return MeasureEnclave(); }) &&
      (!auth || Do("create an authorized client key and the signing policy naming it",
                   [&] { return CreateClientAndSigningPolicy(); })) &&
      (show_seed_first ? Do("apply the seed tutorial's policy (admin)",
                            [&] { return ApplyPolicy(ops::PolicyMode::kSeed); })
                       : Do("apply the lock-out policy (admin)",
                            [&] { return ApplyPolicy(o_.policy_mode); })) &&
      Do("start lockout-relay and lockout-enclave", [&] { return StartRelayAndEnclave(); }) &&
      (auth ? Do("the seed's unauthenticated request is refused",
                 [&] { return RefuseUnauthenticatedV1(); }) &&
                  Do("an authorized client's request is signed and the signature verifies",
                     [&] { return AuthorizedSignAndVerify(); })
            : Do("sign the seed's test message (protocol v1) and verify",
                 [&] { return SignAndVerify(); }));
  if (ok && o_.serve) {
    if (!o_.ready_file.empty()) {
      absl::Status written = WriteServeReadyFile();
      if (!written.ok()) {
        ++steps_;
        out_ << "✗ write the ready file — " << written.message() << "\n";
        Cleanup();
        return 1;
      }
    }
    if (auth) {
      out_ << "serving: enclave " << enclave_uri_
           << " (authenticated v2: lockout sign --client-key " << client_key_path_ << "), relay "
           << relay_uri_ << "; SIGTERM or Ctrl-C stops everything\n";
    } else {
      out_ << "serving: enclave " << enclave_uri_ << " (v1 and v2), relay " << relay_uri_
           << "; SIGTERM or Ctrl-C stops everything\n";
    }
    out_.flush();
    while (!Stopping()) {
      if (!enclave_->Running() || !relay_->Running()) {
        out_ << "✗ serve — " << (enclave_->Running() ? "lockout-relay" : "lockout-enclave")
             << " exited\n";
        ++steps_;
        Cleanup();
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Cleanup();
    out_ << "stopped\n";
    return 0;
  }
  if (ok && auth) {
    Do("a replay of that request is refused", [&] { return RefuseReplay(); });
  }
  if (ok) {
    ok = Do("create a key the instance role may use (admin, for the probes)",
            [&] { return CreateProbeKey(); });
  }
  if (ok) {
    if (recommended) {
      Do("the seed policy leaks the key through ReEncrypt (instance role)",
         [&] { return ShowSeedLeak(); });
      ok = Do("apply the recommended policy (admin)",
              [&] { return ApplyPolicy(ops::PolicyMode::kRecommended); }) &&
           Do("lockout-enclave reloads the key under the recommended policy",
              [&] { return StartMainEnclave(); });
      if (ok) {
        Do("root: every leak path check-lockout probes is closed",
           [&] { return ExpectEveryLeakClosed("root"); });
        Do("the admin: every leak path check-lockout probes is closed",
           [&] { return ExpectEveryLeakClosed("admin"); });
        Do("the instance role: every leak path check-lockout probes is closed",
           [&] { return ExpectEveryLeakClosed("instance"); });
        if (auth) {
          Do("root adds a client of its own to the signing policy: KMS refuses the key",
             [&] { return RefuseRootsClient(); });
        }
      }
    } else {
      Do("root: Decrypt without attestation is refused",
         [&] { return ExpectDecryptDenied("root"); });
      Do("the admin: Decrypt without attestation is refused",
         [&] { return ExpectDecryptDenied("admin"); });
      Do("the instance role: Decrypt without attestation is refused",
         [&] { return ExpectDecryptDenied("instance"); });
      Do("the seed policy leaks the key through ReEncrypt (instance role)",
         [&] { return ShowSeedLeak(); });
    }
  }
  if (ok) {
    const std::string modified = work_dir_ + "/lockout-enclave-modified";
    Do("a modified enclave binary is refused", [&]() -> absl::StatusOr<std::string> {
      std::error_code ec;
      fs::copy_file(bin_dir_ + "/lockout-enclave", modified, ec);
      if (ec) return absl::InternalError(absl::StrCat("copy: ", ec.message()));
      {
        std::ofstream f(modified, std::ios::binary | std::ios::app);
        f.put('\0');  // one byte more: same behaviour, another measurement
        if (!f) return absl::InternalError("cannot append to the copy");
      }
      chmod(modified.c_str(), 0700);
      ASSIGN_OR_RETURN(crypto::Sha384Digest other, ops::Pcr0OfEnclaveBinary(modified));
      if (other == pcr0_) return absl::InternalError("the copy measures the same");
      ASSIGN_OR_RETURN(std::string how, ExpectRefused("enclave-modified", modified, nsm_socket_,
                                                      HexEncode(other), signing_policy_path_));
      return absl::StrCat("its PCR0 ", Short(HexEncode(other)), " ≠ ", Short(pcr0_hex_), "; ", how);
    });
    Do("a debug-mode enclave is refused", [&]() -> absl::StatusOr<std::string> {
      // What a debug-mode enclave attests as PCR0 (the debug NSM measures any caller as zeros).
      ASSIGN_OR_RETURN(auto device, nsm::UnixSocketNsmDevice::Create(debug_nsm_socket_));
      nsm::NsmClient nsm_client(*device);
      ASSIGN_OR_RETURN(nsm::DescribePcrResponse pcr, nsm_client.DescribePcr(0));
      const Bytes debug_pcr0 = pcr.data;
      if (debug_pcr0 != Bytes(48, 0)) {
        return absl::InternalError("the debug-mode NSM does not report an all-zero PCR0");
      }
      ASSIGN_OR_RETURN(
          std::string how,
          ExpectRefused("enclave-debug", bin_dir_ + "/lockout-enclave", debug_nsm_socket_,
                        HexEncode(debug_pcr0), signing_policy_path_));
      return absl::StrCat("debug-mode PCR0 is all zeros; ", how);
    });
    Do("the running enclave still signs", [&] { return SignAndVerify(); });
    Do("an EIP-1559 transaction signed by a secp256k1 key: its sender, recovered from the raw "
       "transaction, is the enclave's address",
       [&] { return SignEthereumTransaction(); });
  }
  if (Stopping()) interrupted_ = true;
  const int steps = steps_, passed = passed_;
  Cleanup();
  if (interrupted_) {
    out_ << "✗ interrupted — everything the demo started is stopped\n";
    out_.flush();
    return 130;
  }
  if (passed == steps && ok) {
    if (recommended) {
      out_ << "demo: all " << steps
           << " steps passed — under the recommended policy every leak path check-lockout probes "
              "(Decrypt, debug-mode Decrypt, ReEncrypt, grants, PutKeyPolicy) is closed for root, "
              "the admin and the instance role, and of the enclaves tried only the measured one "
              "loaded "
              "the key"
           << (auth ? " with the sealed signing policy; unauthenticated and replayed requests were "
                      "refused"
                    : "")
           << "\n";
    } else {
      out_ << "demo: all " << steps
           << " steps passed — under the seed tutorial's policy Decrypt without attestation is "
              "refused, but the key is NOT locked out: the instance role recovered it through "
              "ReEncrypt (--policy-mode recommended closes that)\n";
    }
    out_.flush();
    return 0;
  }
  out_ << "demo: " << (steps - passed) << " of " << steps << " steps failed\n";
  out_.flush();
  return 1;
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  Demo demo(options);
  return demo.Run();
}

}  // namespace lockout::demo
