#pragma once

// A scripted RelayUpstream for the relay's unit and in-process server tests.

#include <map>
#include <string>

#include <sstream>

#include "absl/synchronization/mutex.h"
#include "src/common/logger.h"
#include "src/relay/relay_upstream.h"

namespace lockout::relay::testing {

// Canaries: values that must never appear in a log line or an error message.
inline constexpr char kCanarySecretKey[] = "CANARYsecretKEYwJalrXUtnFEMIK7MDENGbPxRfiCY";
inline constexpr char kCanaryToken[] = "CANARYsessionTOKENIQoJb3JpZ2luX2VjEJr";
inline constexpr char kCanaryCiphertext[] = "CANARYciphertextBYTES-0123456789";
inline constexpr char kAllowedSecret[] = "lockout/key";

class FakeUpstream final : public RelayUpstream {
 public:
  explicit FakeUpstream(absl::Time expiration) : expiration_(expiration) {
    secrets_[kAllowedSecret] = {awsclient::SecretKind::kBinary, kCanaryCiphertext};
  }

  absl::StatusOr<awsclient::RoleCredentials> GetCredentials() override {
    absl::MutexLock lock(&mu_);
    ++credential_calls_;
    if (!credentials_status_.ok()) return credentials_status_;
    awsclient::RoleCredentials c;
    c.access_key_id = "ASIAFAKEEXAMPLE";
    c.secret_access_key = SecretBytes::CopyFrom(std::string_view(kCanarySecretKey));
    c.session_token = SecretBytes::CopyFrom(std::string_view(kCanaryToken));
    c.expiration = expiration_;
    return c;
  }

  absl::StatusOr<awsclient::SecretValue> GetSecretValue(std::string_view secret_id) override {
    {
      absl::MutexLock gate(&gate_mu_);
      ++waiting_;
      gate_mu_.AwaitWithTimeout(absl::Condition(
                                    +[](bool* held) { return !*held; }, &held_),
                                absl::Seconds(20));
      --waiting_;
    }
    absl::MutexLock lock(&mu_);
    ++secret_calls_;
    if (!secret_status_.ok()) return secret_status_;
    auto it = secrets_.find(std::string(secret_id));
    if (it == secrets_.end()) return absl::NotFoundError("ResourceNotFoundException");
    awsclient::SecretValue v;
    v.name = it->first;
    v.version_id = "v1";
    v.kind = it->second.first;
    v.value = SecretBytes::CopyFrom(std::string_view(it->second.second));
    return v;
  }

  absl::StatusOr<std::string> PutSecret(std::string_view name, const SecretBytes& value,
                                        bool overwrite) override {
    absl::MutexLock lock(&mu_);
    ++put_calls_;
    if (!secret_status_.ok()) return secret_status_;
    auto it = secrets_.find(std::string(name));
    if (it != secrets_.end() && !overwrite) {
      return absl::AlreadyExistsError("ResourceExistsException");
    }
    secrets_[std::string(name)] = {awsclient::SecretKind::kBinary,
                                   std::string(value.RevealAsString())};
    return std::string("v") + std::to_string(put_calls_);
  }
  int put_calls() const {
    absl::MutexLock lock(&mu_);
    return put_calls_;
  }
  std::string StoredSecret(const std::string& name) const {
    absl::MutexLock lock(&mu_);
    auto it = secrets_.find(name);
    return it == secrets_.end() ? std::string() : it->second.second;
  }

  void SetSecret(const std::string& name, awsclient::SecretKind kind, const std::string& value) {
    absl::MutexLock lock(&mu_);
    secrets_[name] = {kind, value};
  }
  void FailCredentials(absl::Status s) {
    absl::MutexLock lock(&mu_);
    credentials_status_ = std::move(s);
  }
  void FailSecrets(absl::Status s) {
    absl::MutexLock lock(&mu_);
    secret_status_ = std::move(s);
  }
  // While held, GetSecretValue waits (at most 20 s) until Release(): a slow Secrets Manager.
  void Hold() {
    absl::MutexLock gate(&gate_mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock gate(&gate_mu_);
    held_ = false;
  }
  // Calls waiting in GetSecretValue now.
  int waiting() const {
    absl::MutexLock gate(&gate_mu_);
    return waiting_;
  }
  int credential_calls() const {
    absl::MutexLock lock(&mu_);
    return credential_calls_;
  }
  int secret_calls() const {
    absl::MutexLock lock(&mu_);
    return secret_calls_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time expiration_;
  std::map<std::string, std::pair<awsclient::SecretKind, std::string>> secrets_;
  absl::Status credentials_status_;
  absl::Status secret_status_;
  int credential_calls_ = 0;
  int secret_calls_ = 0;
  int put_calls_ = 0;
  mutable absl::Mutex gate_mu_;
  bool held_ ABSL_GUARDED_BY(gate_mu_) = false;
  int waiting_ ABSL_GUARDED_BY(gate_mu_) = 0;
};

// Captures the process-wide logger's output for the lifetime of the object.
class LogCapture {
 public:
  LogCapture() { Logger::Default().SetStream(&out_); }
  ~LogCapture() { Logger::Default().SetStream(nullptr); }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace lockout::relay::testing
