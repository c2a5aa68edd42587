#pragma once

// `lockout local-aws`: KMS, Secrets Manager, STS and IMDSv2 on one HTTP port, and the NSM service
// on a Unix socket, all state under one directory (ARCHITECTURE §2). Start() returns once
// everything serves; ReadyJson() is what --ready-file gets. Thread-safety: Start/Stop from one
// thread; the services run on their own threads.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/clock.h"
#include "src/localaws/identity.h"

namespace lockout::localaws {

struct LocalAwsOptions {
  std::string state_dir;
  std::string host = "127.0.0.1";
  uint16_t port = 0;        // 0: a free port
  std::string nsm_socket;   // default <state_dir>/nsm.sock
  bool debug_mode = false;  // the NSM service zeroes PCRs, as a Nitro debug-mode enclave
  // When set, a second NSM service in debug mode (same CA) serves this socket: a debug-mode
  // enclave beside a production one, for tests and demos that show it is refused.
  std::string debug_nsm_socket;
  bool trust_aws_root = true;  // KMS also accepts documents chained to the AWS Nitro root G1
  int threads = 0;
  // Abuse limits (docs/LOCAL-AWS.md "Limits").
  int max_connections = 512;     // HTTP connections open at once; more are closed at once
  int nsm_max_connections = 64;  // per NSM socket; a new client evicts the longest-idle one
  absl::Duration nsm_idle_timeout = absl::Seconds(300);  // NSM connection idle between requests
  IdentityOptions identity;
};

class LocalAws {
 public:
  static absl::StatusOr<std::unique_ptr<LocalAws>> Start(LocalAwsOptions options,
                                                         const Clock& clock);
  ~LocalAws();
  void Stop();

  // {region, account, kms_endpoint, secretsmanager_endpoint, sts_endpoint, imds_endpoint,
  //  nsm_socket, instance_role_arn, roles: {NAME: ARN} (the roles STS AssumeRole may assume),
  //  principals: {root|admin|instance: {arn, access_key_id, secret_access_key[, session_token]}},
  //  state_dir, nsm_root_sha256, nsm_root_cert}. Holds credentials: write it mode 0600.
  absl::StatusOr<nlohmann::ordered_json> ReadyJson();

  uint16_t port() const;

 private:
  struct Impl;
  explicit LocalAws(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The shell lines that point the AWS CLI, boto3 and lockout's binaries at a local-aws described
// by `ready` (its ready file), as `principal` ("root", "admin" or "instance").
absl::StatusOr<std::string> EnvExports(const nlohmann::json& ready, std::string_view principal);

}  // namespace lockout::localaws
