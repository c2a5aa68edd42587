#pragma once

// The kernel version of an image's blobs, for the image's metadata.
//
// From bzImage.config (what nitro-cli reads): the line
//   "# Linux/x86 4.14.256-118.488.amzn2.x86_64 Kernel Configuration"
// gives "4.14.256-118.488.amzn2.x86_64" (the first such line among the first 64 lines).
// From the bzImage itself (x86 boot protocol >= 2.00, Documentation/arch/x86/boot.rst): the
// setup header's kernel_version field (offset 0x20E) points, 0x200 bytes on, at a NUL-terminated
// string "6.1.0-18-cloud-amd64 (debian-kernel@...) #1 SMP ..."; its first word is the version.
// Both return nullopt when the input does not carry a version (a synthetic test kernel, a config
// without the header line): the metadata then says "KernelVersion": "unknown". Every offset is
// checked against the input; the version is at most 256 printable ASCII characters.
// Thread-safe (pure).

#include <optional>
#include <string>
#include <string_view>

#include "src/common/bytes.h"

namespace lockout::image {

std::optional<std::string> KernelVersionFromConfig(std::string_view config);
std::optional<std::string> KernelVersionFromBzImage(ByteView bzimage);

}  // namespace lockout::image
