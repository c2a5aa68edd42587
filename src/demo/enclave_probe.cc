#include "src/demo/enclave_probe.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/json.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/crypto/hash.h"
#include "src/crypto/openssl_util.h"
#include "src/net/frame_decoder.h"
#include "src/net/socket.h"

namespace lockout::demo {
namespace {

absl::StatusOr<std::string> ReadOneFrame(int fd, absl::Duration timeout) {
  net::FrameDecoder decoder;
  ASSIGN_OR_RETURN(std::optional<net::Frame> frame, net::ReadFrame(fd, decoder, timeout));
  if (!frame.has_value()) {
    return absl::UnavailableError("the enclave closed the connection without a reply");
  }
  return std::move(frame->payload);
}

absl::StatusOr<crypto::EvpPkeyPtr> ParsePublicKeyPem(std::string_view pem) {
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return crypto::OpenSslError("BIO_new_mem_buf");
  crypto::EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return crypto::OpenSslError("public key PEM");
  return key;
}

}  // namespace

absl::StatusOr<Bytes> SignV1(const net::Endpoint& enclave, ByteView message,
                             absl::Duration timeout) {
  ASSIGN_OR_RETURN(net::UniqueFd fd, net::Connect(enclave, timeout));
  const nlohmann::json request = {{"bytes", Base64Encode(message)}};
  RETURN_IF_ERROR(net::WriteAll(fd.get(), request.dump() + "$$$", timeout));
  ASSIGN_OR_RETURN(std::string payload, ReadOneFrame(fd.get(), timeout));
  ASSIGN_OR_RETURN(nlohmann::json reply, ParseJson(payload));
  if (!reply.is_object() || !reply.contains("success") || !reply["success"].is_string()) {
    return absl::InvalidArgumentError("v1 reply without \"success\"");
  }
  if (reply["success"] != "True") {
    std::string error = reply.value("error", std::string("no error given"));
    return absl::FailedPreconditionError(absl::StrCat("enclave: ", Absl(error)));
  }
  if (!reply.contains("data") || !reply["data"].is_string()) {
    return absl::InvalidArgumentError("v1 reply without \"data\"");
  }
  const std::string data = reply["data"].get<std::string>();
  if (data.rfind("0x", 0) != 0) return absl::InvalidArgumentError("v1 \"data\" lacks 0x");
  return HexDecode(std::string_view(data).substr(2));
}

absl::StatusOr<nlohmann::json> RequestV2(const net::Endpoint& enclave, nlohmann::json request,
                                         absl::Duration timeout) {
  if (!request.contains("id")) request["id"] = "demo";
  ASSIGN_OR_RETURN(net::UniqueFd fd, net::Connect(enclave, timeout));
  RETURN_IF_ERROR(net::WriteFrame(fd.get(), net::FrameKind::kV2, request.dump(), timeout));
  ASSIGN_OR_RETURN(std::string payload, ReadOneFrame(fd.get(), timeout));
  ASSIGN_OR_RETURN(nlohmann::json reply, ParseJson(payload));
  if (!reply.is_object() || !reply.contains("ok") || !reply["ok"].is_boolean()) {
    return absl::InvalidArgumentError("v2 reply without \"ok\"");
  }
  if (!reply["ok"].get<bool>()) {
    std::string error = reply.value("error", std::string("no error given"));
    return absl::FailedPreconditionError(absl::StrCat("enclave: ", Absl(error)));
  }
  return reply;
}

absl::Status VerifySignature(std::string_view public_key_pem, ByteView message,
                             ByteView signature) {
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, ParsePublicKeyPem(public_key_pem));
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return crypto::OpenSslError("EVP_MD_CTX_new");
  const bool ed25519 = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr,
                           key.get()) != 1) {
    return crypto::OpenSslError("EVP_DigestVerifyInit");
  }
  const int ok = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                  message.size());
  if (ok != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("signature (", signature.size(), " bytes) does not verify"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PublicKeyFingerprint(std::string_view public_key_pem) {
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr key, ParsePublicKeyPem(public_key_pem));
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) return crypto::OpenSslError("i2d_PUBKEY");
  const Bytes spki(der, der + n);
  OPENSSL_free(der);
  return HexEncode(crypto::Sha256(spki));
}

}  // namespace lockout::demo
