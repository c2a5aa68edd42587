#pragma once

// The JSON `lockout describe-eif` prints, shaped like `nitro-cli describe-eif`
// (aws-nitro-enclaves-cli, EifDescribeInfo), keys in nitro-cli's order:
//   {
//     "EifVersion": 4,
//     "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": hex, "PCR1": hex,
//                      "PCR2": hex, "PCR8": hex (signed images only)},
//     "IsSigned": bool,
//     "CheckCRC": bool,
//     "SignatureCheck": bool (signed images only),
//     "ImageName", "ImageVersion", "Metadata" (images with an EifIdentityInfo metadata section)
//   }
// Metadata holds BuildTime, BuildTool, BuildToolVersion, OperatingSystem, KernelVersion,
// DockerInfo and the CustomMetadata object's keys merged in, as nitro-cli flattens them.
// nitro-cli's SigningCertificate details (issuer, validity) are not reproduced.
// Thread-safe (pure function).

#include "nlohmann/json.hpp"
#include "src/eif/eif_reader.h"

namespace lockout::eif {

// nitro-cli prints Rust's Debug form of its hasher.
inline constexpr char kNitroHashAlgorithm[] = "Sha384 { ... }";

nlohmann::ordered_json DescribeEif(const EifImage& image);

}  // namespace lockout::eif
