#pragma once

// Fakes for the enclave tests: an in-process NSM device, a relay speaking the real relay wire
// format on a Unix socket, a KMS on the real HTTP server that really encrypts to the attested RSA
// key, and a blocking protocol client.

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/attest/attestation_document.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/crypto/cms_envelope.h"
#include "src/crypto/openssl_util.h"
#include "src/crypto/rsa_key.h"
#include "src/http/http_server.h"
#include "src/net/socket.h"
#include "src/nsm/nsm_device.h"
#include "src/nsm/nsm_message.h"
#include "src/relay/relay_protocol.h"
#include "src/signer/signer.h"

namespace lockout::enclave::testing {

inline constexpr absl::Duration kIo = absl::Seconds(10);

inline std::string MakeTempDir(std::string_view prefix) {
  std::string templ = ::testing::TempDir() + std::string(prefix) + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return templ;
}

// Verifies with OpenSSL alone from the SPKI: ECDSA-SHA256 or PureEdDSA.
inline bool VerifySignature(ByteView spki_der, bool ed25519, ByteView message, ByteView sig) {
  const unsigned char* p = spki_der.data();
  crypto::EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (pub == nullptr) return false;
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr,
                           pub.get()) != 1) {
    return false;
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size());
  ERR_clear_error();
  return rc == 1;
}

// Verifies a DER ECDSA signature over a digest (any length; OpenSSL truncates one longer than the
// order, as the signer does) with OpenSSL alone from the SPKI.
inline bool VerifyDigestSignature(ByteView spki_der, ByteView digest, ByteView der) {
  const unsigned char* p = spki_der.data();
  crypto::EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (pub == nullptr) return false;
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pub.get(), nullptr));
  const bool ok =
      ctx != nullptr && EVP_PKEY_verify_init(ctx.get()) == 1 &&
      EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.data(), digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

// An NSM that answers DescribePCR and Attestation in-process. Documents are well-formed
// (ParseAttestationDocument accepts them) but unsigned: the fake KMS below does not verify.
class FakeNsmDevice final : public nsm::NsmDevice {
 public:
  absl::StatusOr<Bytes> Call(ByteView request_cbor) override {
    if (down.load()) return absl::UnavailableError("fake nsm is down");
    absl::StatusOr<nsm::NsmRequest> request = nsm::DecodeRequest(request_cbor);
    if (!request.ok()) return request.status();
    ++calls;
    if (std::holds_alternative<nsm::DescribePcrRequest>(*request)) {
      return nsm::EncodeResponse(nsm::DescribePcrResponse{.lock = true, .data = pcr0});
    }
    if (const auto* a = std::get_if<nsm::AttestationRequest>(&*request)) {
      // How many attestations are being made at once (a slow NSM shows the server's bounds).
      const int now = ++attesting;
      for (int peak = max_attesting.load(); now > peak;) {
        if (max_attesting.compare_exchange_weak(peak, now)) break;
      }
      if (const int ms = attest_delay_ms.load(); ms > 0) absl::SleepFor(absl::Milliseconds(ms));
      --attesting;
      {
        absl::MutexLock lock(&mu);
        last_attestation = *a;
      }
      attest::AttestationDocument doc;
      doc.module_id = "i-0123456789abcdef0-enc0123456789abcdef";
      doc.digest = "SHA384";
      doc.timestamp_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
      doc.pcrs[0] = pcr0;
      doc.pcrs[1] = Bytes(48, 0);
      doc.pcrs[2] = Bytes(48, 0);
      doc.certificate = Bytes(16, 0x30);
      doc.cabundle = {Bytes(16, 0x31)};
      doc.public_key = a->public_key;
      doc.user_data = a->user_data;
      doc.nonce = a->nonce;
      attest::CoseSign1 cose{.protected_header = attest::Es384ProtectedHeader(),
                             .payload = attest::EncodeAttestationPayload(doc),
                             .signature = Bytes(96, 0)};
      return nsm::EncodeResponse(
          nsm::AttestationResponse{.document = attest::EncodeCoseSign1(cose)});
    }
    if (std::holds_alternative<nsm::GetRandomRequest>(*request)) {
      ++random_calls;
      return nsm::EncodeResponse(nsm::GetRandomResponse{.random = Bytes(random_size, 0x42)});
    }
    return nsm::EncodeResponse(nsm::ErrorResponse{.code = nsm::ErrorCode::kInvalidOperation});
  }

  std::optional<nsm::AttestationRequest> LastAttestation() {
    absl::MutexLock lock(&mu);
    return last_attestation;
  }

  Bytes pcr0 = Bytes(48, 0x5a);
  std::atomic<bool> down{false};
  std::atomic<int> calls{0};
  // An attestation takes this long (a slow NSM: tests of requests that block).
  std::atomic<int> attest_delay_ms{0};
  std::atomic<int> attesting{0};
  std::atomic<int> max_attesting{0};
  // GetRandom: how many calls, and how many bytes each answers.
  std::atomic<int> random_calls{0};
  size_t random_size = 64;
  absl::Mutex mu;
  std::optional<nsm::AttestationRequest> last_attestation ABSL_GUARDED_BY(mu);
};

// The relay's side of get_secret, on a Unix socket, with the real wire format.
class FakeRelay {
 public:
  struct Config {
    Bytes secret{};
    std::string access_key_id = "ASIAFAKEKEYID";
    std::string secret_access_key = "fake-secret-access-key";
    std::string session_token = "fake-session-token";
    // When set, every request gets this error message instead.
    std::optional<std::string> error{};
  };

  FakeRelay(std::string path, Config config) : path_(std::move(path)), config_(std::move(config)) {}
  ~FakeRelay() { Stop(); }

  absl::Status Start() {
    absl::StatusOr<net::Endpoint> ep = net::Endpoint::Unix(path_);
    if (!ep.ok()) return ep.status();
    absl::StatusOr<net::Listener> l = net::Listen(*ep);
    if (!l.ok()) return l.status();
    listener_.emplace(*std::move(l));
    stop_ = false;
    thread_ = std::thread([this] { Serve(); });
    return absl::OkStatus();
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    listener_.reset();
  }
  net::Endpoint endpoint() const { return *net::Endpoint::Unix(path_); }
  int requests() const { return requests_.load(); }
  std::string last_secret_name() {
    absl::MutexLock lock(&mu_);
    return last_name_;
  }

 private:
  void Serve() {
    while (!stop_.load()) {
      absl::StatusOr<UniqueFd> fd = net::Accept(*listener_, absl::Milliseconds(50));
      if (!fd.ok()) continue;
      net::FrameDecoder decoder;
      absl::StatusOr<std::optional<net::Frame>> frame = net::ReadFrame(fd->get(), decoder, kIo);
      if (!frame.ok() || !frame->has_value()) continue;
      ++requests_;
      absl::StatusOr<relay::GetSecretRequest> req = relay::DecodeRequest((*frame)->payload);
      if (req.ok()) {
        absl::MutexLock lock(&mu_);
        last_name_ = req->secret_name;
      }
      if (config_.error.has_value() || !req.ok()) {
        const std::string reply = relay::EncodeErrorReplyFrame(
            config_.error.has_value() ? *config_.error : std::string(relay::kErrorBadRequest));
        (void)net::WriteAll(fd->get(), reply, kIo);
        continue;
      }
      SecretBytes sak = SecretBytes::CopyFrom(std::string_view(config_.secret_access_key));
      SecretBytes token = SecretBytes::CopyFrom(std::string_view(config_.session_token));
      relay::GetSecretReplyParts parts{.secret = config_.secret,
                                       .access_key_id = config_.access_key_id,
                                       .secret_access_key = &sak,
                                       .session_token = &token,
                                       .expiration = std::nullopt};
      absl::StatusOr<SecretBytes> reply = relay::EncodeGetSecretReplyFrame(parts);
      if (reply.ok()) (void)net::WriteAll(fd->get(), reply->Reveal(), kIo);
    }
  }

  std::string path_;
  Config config_;
  std::optional<net::Listener> listener_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  absl::Mutex mu_;
  std::string last_name_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// KMS Decrypt with Recipient on the real HTTP server: checks the target, the ciphertext blob,
// the encryption context and the session token, reads the RSA key out of the attestation
// document and answers with a real CMS envelope of `plaintext` for it.
class FakeKms {
 public:
  struct Config {
    Bytes ciphertext_blob{};
    Bytes plaintext{};  // what the blob "decrypts" to
    std::map<std::string, std::string> encryption_context{};
    std::string session_token = "fake-session-token";
  };

  explicit FakeKms(Config config)
      : config_(std::move(config)), server_(http::HttpServerOptions{}) {}

  absl::Status Start() {
    return server_.Start([this](const aws::HttpRequest& r) { return Handle(r); });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  int decrypts() const { return decrypts_.load(); }

  // Answer the next `n` Decrypts with ThrottlingException.
  std::atomic<int> throttle_next{0};
  std::atomic<bool> deny{false};

 private:
  static http::HttpResponse Error(int status, std::string_view type) {
    return http::HttpResponse::Json(
        status, nlohmann::json({{"__type", type}, {"message", "fake kms says no"}}).dump());
  }

  http::HttpResponse Handle(const aws::HttpRequest& r) {
    if (r.FindHeader("X-Amz-Target") != std::optional<std::string_view>("TrentService.Decrypt")) {
      return Error(400, "UnknownOperationException");
    }
    if (r.FindHeader("X-Amz-Security-Token") !=
        std::optional<std::string_view>(config_.session_token)) {
      return Error(400, "UnrecognizedClientException");
    }
    ++decrypts_;
    if (throttle_next.load() > 0) {
      --throttle_next;
      return Error(400, "ThrottlingException");
    }
    if (deny.load()) return Error(400, "AccessDeniedException");
    absl::StatusOr<nlohmann::json> body = ParseJson(r.body);
    if (!body.ok() || !body->is_object()) return Error(400, "SerializationException");
    const nlohmann::json& j = *body;
    if (!j.contains("CiphertextBlob") ||
        Base64Decode(j["CiphertextBlob"].get<std::string>()).value_or(Bytes{}) !=
            config_.ciphertext_blob) {
      return Error(400, "InvalidCiphertextException");
    }
    std::map<std::string, std::string> context;
    if (j.contains("EncryptionContext")) {
      context = j["EncryptionContext"].get<std::map<std::string, std::string>>();
    }
    if (context != config_.encryption_context) return Error(400, "InvalidCiphertextException");
    if (!j.contains("Recipient")) return Error(400, "ValidationException");
    const nlohmann::json& recipient = j["Recipient"];
    if (recipient.value("KeyEncryptionAlgorithm", "") != "RSAES_OAEP_SHA_256") {
      return Error(400, "ValidationException");
    }
    absl::StatusOr<Bytes> doc_bytes =
        Base64Decode(recipient.value("AttestationDocument", std::string()));
    if (!doc_bytes.ok()) return Error(400, "ValidationException");
    absl::StatusOr<attest::AttestationDocument> doc = attest::ParseAttestationDocument(*doc_bytes);
    if (!doc.ok() || !doc->public_key.has_value()) return Error(400, "ValidationException");
    absl::StatusOr<crypto::EvpPkeyPtr> rsa = crypto::RsaPublicKeyFromSpkiDer(*doc->public_key);
    if (!rsa.ok()) return Error(400, "ValidationException");
    absl::StatusOr<Bytes> envelope = crypto::BuildKmsEnvelope(rsa->get(), config_.plaintext);
    if (!envelope.ok()) return Error(500, "KMSInternalException");
    return http::HttpResponse::Json(
        200, nlohmann::json({{"KeyId", "arn:aws:kms:us-east-1:111122223333:key/fake"},
                             {"CiphertextForRecipient", Base64Encode(*envelope)},
                             {"EncryptionAlgorithm", "SYMMETRIC_DEFAULT"}})
                 .dump());
  }

  Config config_;
  http::HttpServer server_;
  std::atomic<int> decrypts_{0};
};

// A blocking client of the enclave protocols.
class Client {
 public:
  static Client Connect(const net::Endpoint& ep) {
    Client c;
    absl::StatusOr<UniqueFd> fd = net::Connect(ep, kIo);
    EXPECT_TRUE(fd.ok()) << fd.status();
    if (fd.ok()) c.fd_ = *std::move(fd);
    return c;
  }
  void Send(std::string_view bytes) {
    absl::Status s = net::WriteAll(fd_.get(), bytes, kIo);
    EXPECT_TRUE(s.ok()) << s;
  }
  void SendV2(const nlohmann::json& j) { Send(*net::EncodeV2(j.dump())); }
  // The next frame; nullopt at clean EOF.
  absl::StatusOr<std::optional<net::Frame>> Read() {
    return net::ReadFrame(fd_.get(), decoder_, kIo);
  }
  nlohmann::json ReadJson() {
    absl::StatusOr<std::optional<net::Frame>> f = Read();
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok() || !f->has_value()) return nullptr;
    return nlohmann::json::parse((*f)->payload, nullptr, /*allow_exceptions=*/false);
  }
  // True if the server closed the connection (EOF) with nothing more to read.
  bool ReadsEof() {
    absl::StatusOr<std::optional<net::Frame>> f = Read();
    return f.ok() && !f->has_value();
  }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  net::FrameDecoder decoder_;
};

}  // namespace lockout::enclave::testing
