// local-aws throughput: KMS Encrypt, Decrypt and Decrypt with Recipient (attestation document +
// CMS envelope), each over one keep-alive connection, against an in-process `lockout local-aws`.
// Run: build/release/bench/local_aws_bench (see docs/PERFORMANCE.md).

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "src/awsclient/credentials_provider.h"
#include "src/awsclient/endpoint_config.h"
#include "src/awsclient/kms_client.h"
#include "src/common/logger.h"
#include "src/crypto/rsa_key.h"
#include "src/localaws/local_aws.h"
#include "src/nsm/nsm_client.h"
#include "src/nsm/unix_socket_nsm_device.h"

namespace lockout {
namespace {

struct Fixture {
  std::string dir;
  std::unique_ptr<localaws::LocalAws> local;
  std::unique_ptr<awsclient::KmsClient> kms;
  std::string key_id;
  Bytes blob;
  Bytes document;
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    Logger::Default().SetLevel(LogLevel::kError);
    std::string tmpl = std::filesystem::temp_directory_path() / "lockout-bench-XXXXXX";
    fx->dir = mkdtemp(tmpl.data());
    localaws::LocalAwsOptions options;
    options.state_dir = fx->dir;
    auto local = localaws::LocalAws::Start(options, Clock::Real());
    if (!local.ok()) std::abort();
    fx->local = *std::move(local);
    auto ready = fx->local->ReadyJson();
    const auto& root = (*ready)["principals"]["root"];
    aws::AwsCredentials creds{root["access_key_id"].get<std::string>(),
                              SecretBytes::CopyFrom(root["secret_access_key"].get<std::string>()),
                              SecretBytes()};
    auto endpoint = awsclient::EndpointConfig::FromUrl((*ready)["kms_endpoint"].get<std::string>());
    auto kms = awsclient::KmsClient::Create(
        *endpoint, std::make_shared<awsclient::StaticCredentialsProvider>(std::move(creds)),
        (*ready)["region"].get<std::string>());
    if (!kms.ok()) std::abort();
    fx->kms = *std::move(kms);
    auto key = fx->kms->CreateKey({});
    if (!key.ok()) std::abort();
    fx->key_id = key->key_id;
    auto enc = fx->kms->Encrypt(fx->key_id, SecretBytes(32));
    if (!enc.ok()) std::abort();
    fx->blob = enc->ciphertext_blob;
    auto rsa = crypto::GenerateRsa2048Key();
    auto spki = crypto::PublicKeyToSpkiDer(rsa->get());
    auto device = nsm::UnixSocketNsmDevice::Create((*ready)["nsm_socket"].get<std::string>());
    nsm::NsmClient client(**device);
    auto doc = client.Attestation(std::nullopt, std::nullopt, ByteView(*spki));
    if (!doc.ok()) std::abort();
    fx->document = *doc;
    return fx;
  }();
  return *f;
}

void BM_Encrypt(benchmark::State& state) {
  Fixture& f = Get();
  SecretBytes plaintext(32);
  for (auto _ : state) {
    auto r = f.kms->Encrypt(f.key_id, plaintext);
    if (!r.ok()) state.SkipWithError("Encrypt failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Encrypt)->UseRealTime();

void BM_Decrypt(benchmark::State& state) {
  Fixture& f = Get();
  awsclient::DecryptRequest request;
  request.ciphertext_blob = f.blob;
  for (auto _ : state) {
    auto r = f.kms->Decrypt(request);
    if (!r.ok()) state.SkipWithError("Decrypt failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decrypt)->UseRealTime();

void BM_DecryptWithRecipient(benchmark::State& state) {
  Fixture& f = Get();
  awsclient::DecryptRequest request;
  request.ciphertext_blob = f.blob;
  request.recipient = awsclient::KmsRecipient{.attestation_document = f.document};
  for (auto _ : state) {
    auto r = f.kms->Decrypt(request);
    if (!r.ok()) state.SkipWithError("Decrypt with Recipient failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecryptWithRecipient)->UseRealTime();

}  // namespace
}  // namespace lockout

BENCHMARK_MAIN();
