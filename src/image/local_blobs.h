#pragma once

// `lockout local-blobs`: a blobs directory (the layout `lockout build-eif --blobs` reads) for
// images that boot under QEMU on a development machine (docs/RUN-ENCLAVE.md):
//   bzImage         Debian's kernel (boot/vmlinuz-* of an unpacked linux-image-*-amd64 package)
//   bzImage.config  its config (for the metadata's kernel version)
//   cmdline         kLocalCmdline
//   init            lockout-init (src/init), the project's init written from the AWS init's
//   contract nsm.ko          a newc cpio archive of the kernel modules the guest's NIC needs
//   (virtio_net,
//                   virtio_pci and what they depend on, from each module's "depends="), in load
//                   order; lockout-init loads them in place of the Nitro NSM driver
// Everything lands in the bootstrap ramdisk, so the image stays self-contained and PCR1/PCR0
// cover the modules. Written with fixed modes; the same inputs give the same bytes.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::image {

// The production x86-64 cmdline without pci=off (virtio-net is a PCI device) and nomodules (the
// NIC drivers are modules in Debian's kernel), panicking at once rather than after 30 s.
inline constexpr std::string_view kLocalCmdline =
    "reboot=k panic=1 console=ttyS0 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "
    "random.trust_cpu=on quiet";

struct LocalBlobsSpec {
  std::string kernel_root;  // a linux-image-*-amd64 package unpacked with dpkg -x
  std::string init;         // the lockout-init executable
  std::string output_dir;   // created if missing; the five files are replaced
};

struct LocalBlobs {
  std::string kernel_release;        // e.g. 6.1.0-57-cloud-amd64
  std::vector<std::string> modules;  // in load order
};

// Errors: NotFound (no kernel, config or module; each named), FailedPrecondition (more than one
// kernel release in the tree, a dependency cycle), InvalidArgument (a module without .modinfo
// depends), I/O errors.
absl::StatusOr<LocalBlobs> WriteLocalBlobs(const LocalBlobsSpec& spec);

}  // namespace lockout::image
