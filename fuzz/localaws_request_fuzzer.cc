// Fuzzes the local-aws request handlers: arbitrary bytes become the JSON body of a KMS or
// Secrets Manager operation (picked by the first byte) called by the account root, so every
// field validator and error path is reached. Invariant: a reply is always produced, and an
// error reply always has an AWS __type.
// The same bytes (after the first) are also a query-protocol form (aws_query.h) for STS, called
// by the admin user: a form that parses goes to StsService with its Action; every reply is an XML
// document or an error with a Code.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "src/common/json.h"
#include "src/common/logger.h"
#include "src/localaws/identity.h"
#include "src/localaws/kms_service.h"
#include "src/localaws/secrets_service.h"
#include "src/localaws/sts_service.h"

namespace {

using lockout::localaws::AwsResult;

struct Env {
  std::unique_ptr<lockout::localaws::IdentityStore> identity;
  std::unique_ptr<lockout::localaws::KmsService> kms;
  std::unique_ptr<lockout::localaws::SecretsService> secrets;
  std::unique_ptr<lockout::localaws::StsService> sts;
};

Env& Get() {
  static Env* env = [] {
    lockout::Logger::Default().SetLevel(lockout::LogLevel::kError);
    std::string tmpl = std::filesystem::temp_directory_path() / "lockout-fuzz-XXXXXX";
    std::string dir = mkdtemp(tmpl.data());
    auto* e = new Env;
    auto& clock = lockout::Clock::Real();
    e->identity = *lockout::localaws::IdentityStore::Open(dir, {}, clock);
    lockout::localaws::KmsOptions options;
    options.state_dir = dir;
    e->kms = *lockout::localaws::KmsService::Open(options, *e->identity, clock);
    e->secrets = *lockout::localaws::SecretsService::Open(dir, *e->identity, clock);
    e->sts = std::make_unique<lockout::localaws::StsService>(*e->identity, clock);
    return e;
  }();
  return *env;
}

constexpr const char* kKmsOps[] = {"CreateKey",
                                   "DescribeKey",
                                   "ListKeys",
                                   "CreateAlias",
                                   "ListAliases",
                                   "Encrypt",
                                   "Decrypt",
                                   "ReEncrypt",
                                   "GenerateDataKey",
                                   "GenerateRandom",
                                   "GetKeyPolicy",
                                   "PutKeyPolicy",
                                   "EnableKey",
                                   "DisableKey",
                                   "ScheduleKeyDeletion",
                                   "CancelKeyDeletion",
                                   "TagResource",
                                   "ListResourceTags",
                                   "GenerateDataKeyWithoutPlaintext"};
constexpr const char* kSecretsOps[] = {"CreateSecret",   "GetSecretValue", "PutSecretValue",
                                       "DescribeSecret", "ListSecrets",    "DeleteSecret"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Env& env = Get();
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<lockout::localaws::QueryParams> form = lockout::localaws::ParseQueryForm(rest);
  if (form.ok()) {
    auto action = form->find("Action");
    lockout::localaws::CallContext admin{env.identity->admin(), "fuzz", "fuzz-request"};
    lockout::localaws::QueryResult q = env.sts->Handle(
        action == form->end() ? std::string_view("GetCallerIdentity") : action->second, *form,
        admin);
    if (const auto* e = std::get_if<lockout::localaws::AwsError>(&q)) {
      if (e->type.empty()) std::abort();
    } else if (std::get<std::string>(q).find("Response xmlns=") == std::string::npos) {
      std::abort();
    }
  } else if (form.status().message().empty()) {
    std::abort();
  }
  auto body = lockout::ParseJson(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), 64 << 10);
  if (!body.ok() || !body->is_object()) return 0;
  lockout::localaws::CallContext ctx{env.identity->root(), "fuzz", "fuzz-request"};
  constexpr size_t kKms = sizeof(kKmsOps) / sizeof(kKmsOps[0]);
  constexpr size_t kAll = kKms + sizeof(kSecretsOps) / sizeof(kSecretsOps[0]);
  size_t op = data[0] % kAll;
  AwsResult r = op < kKms ? env.kms->Handle(kKmsOps[op], *body, ctx)
                          : env.secrets->Handle(kSecretsOps[op - kKms], *body, ctx);
  if (!r.ok() && r.error().type.empty()) std::abort();
  return 0;
}
