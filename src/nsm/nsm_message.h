#pragma once

// NSM (Nitro Security Module) request and response messages and their CBOR wire form.
//
// The wire form is what aws-nitro-enclaves-nsm-api's Request/Response enums serialise to with
// serde_cbor 0.11, and what /dev/nsm carries in NSM_IOCTL_RAW:
//   - unit variants are a text string ("DescribeNSM", "GetRandom", "LockPCR", ...);
//   - struct variants are a one-entry map {VariantName: {field: value, ...}}, fields in
//     declaration order; Error is the newtype variant {"Error": "<ErrorCodeName>"};
//   - Option::None is null (0xf6), byte buffers are byte strings, integers use the shortest form,
//     locked_pcrs (a BTreeSet<u16>) is an ascending array.
// Encode*() produces exactly those bytes. Decode*() accepts exactly one message of that shape and
// rejects anything else: unknown variants, wrong CBOR types, missing or unknown fields, duplicate
// keys, integers out of range and fields larger than the limits below. Like serde, decoders accept
// any field order and any integer width, and treat an absent Option field of an Attestation
// request as None; the encoders always write the canonical form, so for every value v,
// Decode(Encode(v)) == v, and for every accepted input b, Encode(Decode(b)) is canonical.
//
// Both directions exist for both message kinds: the enclave encodes requests and decodes
// responses; the local NSM service decodes requests and encodes responses.
//
// Errors are InvalidArgument with the offending variant/field name and sizes, never field bytes.
// All functions are thread-safe (no shared state).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::nsm {

// Sizes fixed by the kernel interface (include/uapi/linux/nsm.h).
inline constexpr size_t kMaxRequestSize = 0x1000;   // NSM_REQUEST_MAX_SIZE
inline constexpr size_t kMaxResponseSize = 0x3000;  // NSM_RESPONSE_MAX_SIZE

// Field limits of the NSM (AWS Nitro Enclaves documentation: user_data and nonce up to 512 bytes,
// public_key up to 1024 bytes).
inline constexpr size_t kMaxUserDataSize = 512;
inline constexpr size_t kMaxNonceSize = 512;
inline constexpr size_t kMaxPublicKeySize = 1024;
// ExtendPCR input: the NSM sets no separate limit, but it travels in one request.
inline constexpr size_t kMaxExtendDataSize = kMaxRequestSize;
// A PCR value is a digest: at most SHA-512 long.
inline constexpr size_t kMaxPcrSize = 64;
// Attestation documents and random bytes travel in one response.
inline constexpr size_t kMaxDocumentSize = kMaxResponseSize;
inline constexpr size_t kMaxRandomSize = kMaxResponseSize;
inline constexpr size_t kMaxModuleIdSize = 256;

// ErrorCode of the NSM API, in declaration order.
enum class ErrorCode {
  kSuccess,
  kInvalidArgument,
  kInvalidIndex,
  kInvalidResponse,
  kReadOnlyIndex,
  kInvalidOperation,
  kBufferTooSmall,
  kInputTooLarge,
  kInternalError,
};
// The wire name ("InvalidIndex").
std::string_view ErrorCodeName(ErrorCode code);

// Digest algorithm of the NSM (wire names "SHA256", "SHA384", "SHA512").
enum class Digest { kSha256, kSha384, kSha512 };
std::string_view DigestName(Digest digest);

// ---- Requests ----

struct DescribePcrRequest {
  uint16_t index = 0;
  bool operator==(const DescribePcrRequest&) const = default;
};
struct ExtendPcrRequest {
  uint16_t index = 0;
  Bytes data;  // at most kMaxExtendDataSize
  bool operator==(const ExtendPcrRequest&) const = default;
};
struct LockPcrRequest {
  uint16_t index = 0;
  bool operator==(const LockPcrRequest&) const = default;
};
struct LockPcrsRequest {
  uint16_t range = 0;  // locks PCRs [0, range)
  bool operator==(const LockPcrsRequest&) const = default;
};
struct DescribeNsmRequest {
  bool operator==(const DescribeNsmRequest&) const = default;
};
struct AttestationRequest {
  std::optional<Bytes> user_data;   // at most kMaxUserDataSize
  std::optional<Bytes> nonce;       // at most kMaxNonceSize
  std::optional<Bytes> public_key;  // at most kMaxPublicKeySize
  bool operator==(const AttestationRequest&) const = default;
};
struct GetRandomRequest {
  bool operator==(const GetRandomRequest&) const = default;
};

using NsmRequest =
    std::variant<DescribePcrRequest, ExtendPcrRequest, LockPcrRequest, LockPcrsRequest,
                 DescribeNsmRequest, AttestationRequest, GetRandomRequest>;

// ---- Responses ----

struct DescribePcrResponse {
  bool lock = false;
  Bytes data;  // the PCR value, at most kMaxPcrSize
  bool operator==(const DescribePcrResponse&) const = default;
};
struct ExtendPcrResponse {
  Bytes data;  // the new PCR value, at most kMaxPcrSize
  bool operator==(const ExtendPcrResponse&) const = default;
};
struct LockPcrResponse {
  bool operator==(const LockPcrResponse&) const = default;
};
struct LockPcrsResponse {
  bool operator==(const LockPcrsResponse&) const = default;
};
struct DescribeNsmResponse {
  uint16_t version_major = 0;
  uint16_t version_minor = 0;
  uint16_t version_patch = 0;
  std::string module_id;  // UTF-8, at most kMaxModuleIdSize bytes
  uint16_t max_pcrs = 0;
  std::set<uint16_t> locked_pcrs;
  Digest digest = Digest::kSha384;
  bool operator==(const DescribeNsmResponse&) const = default;
};
struct AttestationResponse {
  Bytes document;  // COSE_Sign1, at most kMaxDocumentSize
  bool operator==(const AttestationResponse&) const = default;
};
struct GetRandomResponse {
  Bytes random;  // at most kMaxRandomSize
  bool operator==(const GetRandomResponse&) const = default;
};
struct ErrorResponse {
  ErrorCode code = ErrorCode::kInternalError;
  bool operator==(const ErrorResponse&) const = default;
};

using NsmResponse =
    std::variant<DescribePcrResponse, ExtendPcrResponse, LockPcrResponse, LockPcrsResponse,
                 DescribeNsmResponse, AttestationResponse, GetRandomResponse, ErrorResponse>;

// ---- Codec ----

// Canonical serde_cbor bytes of `request`. InvalidArgument if a field exceeds its limit or the
// whole message would exceed kMaxRequestSize (so /dev/nsm would refuse it).
absl::StatusOr<Bytes> EncodeRequest(const NsmRequest& request);
// Parses one request. InvalidArgument on any deviation from the shapes above, on fields beyond
// their limits and on inputs larger than kMaxRequestSize.
absl::StatusOr<NsmRequest> DecodeRequest(ByteView cbor);

// Canonical serde_cbor bytes of `response`. InvalidArgument if a field exceeds its limit, the
// module id is not UTF-8, or the message would exceed kMaxResponseSize.
absl::StatusOr<Bytes> EncodeResponse(const NsmResponse& response);
// Parses one response; same rules as DecodeRequest, inputs up to kMaxResponseSize.
absl::StatusOr<NsmResponse> DecodeResponse(ByteView cbor);

// The wire variant name ("DescribePCR", "Attestation", "Error", ...), for logs and errors.
std::string_view VariantName(const NsmRequest& request);
std::string_view VariantName(const NsmResponse& response);

// A one-line description with field values that are not bytes and byte-field sizes only, e.g.
// "ExtendPCR{index=4, data=3B}". Safe to log (never prints byte contents).
std::string Describe(const NsmRequest& request);
std::string Describe(const NsmResponse& response);

}  // namespace lockout::nsm
