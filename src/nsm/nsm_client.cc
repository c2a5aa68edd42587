#include "src/nsm/nsm_client.h"

#include <openssl/crypto.h>

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::nsm {

absl::Status NsmErrorToStatus(ErrorCode code, std::string_view request) {
  const std::string msg =
      absl::StrCat("nsm: ", Absl(request), " failed: ", Absl(ErrorCodeName(code)));
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidIndex:
    case ErrorCode::kInputTooLarge:
      return absl::InvalidArgumentError(msg);
    case ErrorCode::kReadOnlyIndex:
    case ErrorCode::kInvalidOperation:
      return absl::FailedPreconditionError(msg);
    case ErrorCode::kBufferTooSmall:
      return absl::ResourceExhaustedError(msg);
    case ErrorCode::kSuccess:
    case ErrorCode::kInvalidResponse:
    case ErrorCode::kInternalError:
      break;
  }
  return absl::InternalError(msg);
}

absl::StatusOr<NsmResponse> NsmClient::Call(const NsmRequest& request) {
  ASSIGN_OR_RETURN(Bytes request_cbor, EncodeRequest(request));
  ASSIGN_OR_RETURN(Bytes response_cbor, device_.Call(request_cbor));
  absl::StatusOr<NsmResponse> response = DecodeResponse(response_cbor);
  // GetRandom responses carry secret-grade bytes: do not leave the raw copy behind.
  OPENSSL_cleanse(response_cbor.data(), response_cbor.size());
  if (!response.ok()) {
    return absl::InternalError(absl::StrCat("nsm: undecodable response to ",
                                            Absl(VariantName(request)), ": ",
                                            response.status().message()));
  }
  if (const auto* error = std::get_if<ErrorResponse>(&*response)) {
    return NsmErrorToStatus(error->code, VariantName(request));
  }
  return response;
}

template <typename T>
absl::StatusOr<T> NsmClient::CallExpecting(const NsmRequest& request) {
  ASSIGN_OR_RETURN(NsmResponse response, Call(request));
  if (T* typed = std::get_if<T>(&response)) return std::move(*typed);
  return absl::InternalError(absl::StrCat("nsm: ", Absl(VariantName(request)),
                                          " request answered with a ", Absl(VariantName(response)),
                                          " response"));
}

absl::StatusOr<DescribePcrResponse> NsmClient::DescribePcr(uint16_t index) {
  return CallExpecting<DescribePcrResponse>(DescribePcrRequest{index});
}

absl::StatusOr<Bytes> NsmClient::ExtendPcr(uint16_t index, ByteView data) {
  ASSIGN_OR_RETURN(ExtendPcrResponse r, CallExpecting<ExtendPcrResponse>(ExtendPcrRequest{
                                            index, Bytes(data.begin(), data.end())}));
  return std::move(r.data);
}

absl::Status NsmClient::LockPcr(uint16_t index) {
  return CallExpecting<LockPcrResponse>(LockPcrRequest{index}).status();
}

absl::Status NsmClient::LockPcrs(uint16_t range) {
  return CallExpecting<LockPcrsResponse>(LockPcrsRequest{range}).status();
}

absl::StatusOr<DescribeNsmResponse> NsmClient::DescribeNsm() {
  return CallExpecting<DescribeNsmResponse>(DescribeNsmRequest{});
}

absl::StatusOr<SecretBytes> NsmClient::GetRandom() {
  ASSIGN_OR_RETURN(GetRandomResponse r, CallExpecting<GetRandomResponse>(GetRandomRequest{}));
  SecretBytes out = SecretBytes::CopyFrom(r.random);
  OPENSSL_cleanse(r.random.data(), r.random.size());
  return out;
}

absl::StatusOr<Bytes> NsmClient::Attestation(std::optional<ByteView> user_data,
                                             std::optional<ByteView> nonce,
                                             std::optional<ByteView> public_key) {
  auto copy = [](const std::optional<ByteView>& v) -> std::optional<Bytes> {
    if (!v) return std::nullopt;
    return Bytes(v->begin(), v->end());
  };
  ASSIGN_OR_RETURN(AttestationResponse r, CallExpecting<AttestationResponse>(AttestationRequest{
                                              copy(user_data), copy(nonce), copy(public_key)}));
  return std::move(r.document);
}

}  // namespace lockout::nsm
