#include "src/operator/measurement.h"

#include "absl/strings/str_cat.h"
#include "src/common/encoding.h"
#include "src/common/strings.h"
#include "src/eif/eif_reader.h"
#include "src/measure/local_pcr0.h"

namespace lockout::ops {
namespace {

constexpr crypto::Sha384Digest kZeroPcr{};

}  // namespace

absl::StatusOr<crypto::Sha384Digest> ParsePcrHex(std::string_view hex, std::string_view what) {
  absl::StatusOr<Bytes> bytes = HexDecodeAllowPrefix(hex);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(what), " is not hex: ", bytes.status().message()));
  }
  crypto::Sha384Digest out;
  if (bytes->size() != out.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(what), " must be 48 bytes (96 hex digits); got ", bytes->size(), " bytes"));
  }
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

absl::StatusOr<crypto::Sha384Digest> Pcr0OfEnclaveBinary(const std::string& path) {
  absl::StatusOr<crypto::Sha384Digest> pcr0 = measure::LocalPcr0OfFile(path);
  if (!pcr0.ok()) {
    return absl::Status(pcr0.status().code(),
                        absl::StrCat("enclave binary: ", pcr0.status().message()));
  }
  return pcr0;
}

absl::StatusOr<crypto::Sha384Digest> Pcr0OfEif(const std::string& path) {
  absl::StatusOr<eif::EifImage> image = eif::EifReader::Open(path);
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        absl::StrCat("cannot measure EIF ", path, ": ", image.status().message()));
  }
  return image->measurements.pcr0;
}

crypto::Sha384Digest Pcr3OfRole(std::string_view role_arn) {
  return crypto::ExtendPcr(kZeroPcr, AsBytes(role_arn));
}

absl::StatusOr<crypto::Sha384Digest> ResolvePcr0(const Pcr0Source& source) {
  const int given = (source.pcr0_hex.empty() ? 0 : 1) + (source.eif_path.empty() ? 0 : 1) +
                    (source.enclave_binary_path.empty() ? 0 : 1);
  if (given != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --pcr0 HEX, --eif FILE or --enclave-binary FILE");
  }
  if (!source.pcr0_hex.empty()) return ParsePcrHex(source.pcr0_hex, "--pcr0");
  if (!source.eif_path.empty()) return Pcr0OfEif(source.eif_path);
  return Pcr0OfEnclaveBinary(source.enclave_binary_path);
}

}  // namespace lockout::ops
