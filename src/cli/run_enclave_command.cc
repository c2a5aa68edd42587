// `lockout run-enclave --eif FILE`: boot an EIF locally under QEMU (src/qemu/run_enclave.h).
// `lockout local-blobs`: the blobs directory such images are built from (src/image/local_blobs.h).
// docs/RUN-ENCLAVE.md.

#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/commands.h"
#include "src/cliutil/cli_conventions.h"
#include "src/eif/measurements.h"
#include "src/image/local_blobs.h"
#include "src/nsm/open_nsm_device.h"
#include "src/qemu/run_enclave.h"

namespace lockout::cli {
namespace {

using cliutil::kExitFailed;
using cliutil::kExitOk;
using cliutil::kExitUsage;

// The file NAME beside this `lockout` executable.
std::string Sibling(const std::string& name) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return name;
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + name;
}

struct RunEnclaveArgs {
  std::string eif;
  std::string qemu = qemu::kDefaultQemu;
  uint32_t memory_mib = 0;
  uint32_t cpu_count = 1;
  std::vector<std::string> forwards;
  std::string nsm_socket;
  bool no_nsm = false;
};

int RunRunEnclave(const RunEnclaveArgs& a) {
  const auto usage = [](std::string_view message) {
    std::cerr << "lockout: run-enclave: " << message << " (see lockout run-enclave --help)\n";
    return kExitUsage;
  };
  if (a.eif.empty()) return usage("give the image: --eif FILE");
  qemu::RunEnclaveOptions o;
  o.eif_path = a.eif;
  o.qemu = a.qemu;
  o.memory_mib = a.memory_mib;
  o.cpu_count = a.cpu_count;
  for (const std::string& f : a.forwards) {
    absl::StatusOr<qemu::PortForward> parsed = qemu::ParsePortForward(f);
    if (!parsed.ok()) return usage(absl::StrCat("--forward: ", parsed.status().message()));
    o.forwards.push_back(*parsed);
  }
  if (!a.no_nsm) {
    std::string socket = a.nsm_socket;
    if (socket.empty()) {
      const std::string spec = nsm::DefaultNsmSpec();
      if (spec != "/dev/nsm") socket = spec;
    }
    if (socket.starts_with(nsm::kUnixDeviceScheme)) {
      socket = socket.substr(nsm::kUnixDeviceScheme.size());
    }
    if (socket.empty() || socket.front() != '/') {
      return usage(
          "the guest needs the local NSM service's socket: --nsm-socket PATH (or "
          "LOCKOUT_NSM_SOCKET, as `lockout local-aws env` exports it), or --no-nsm");
    }
    o.nsm_socket = socket;
  }
  if (cliutil::ParseOnly()) return kExitOk;
  absl::StatusOr<int> status = qemu::RunEnclave(o, [&o](const qemu::BootedEnclave& b) {
    std::cerr << "lockout: run-enclave: booting " << o.eif_path << " in QEMU (pid " << b.qemu_pid
              << ", " << b.memory_mib << " MiB, " << o.cpu_count << " CPU), PCR0 "
              << eif::PcrHex(b.pcrs.pcr0) << "\n";
  });
  if (!status.ok()) {
    std::cerr << "lockout: run-enclave: " << status.status().message() << "\n";
    return kExitFailed;
  }
  std::cerr << "lockout: run-enclave: QEMU exited with status " << *status << "\n";
  return *status == 0 ? kExitOk : kExitFailed;
}

struct LocalBlobsArgs {
  std::string kernel;
  std::string init;
  std::string output;
};

int RunLocalBlobs(const LocalBlobsArgs& a) {
  if (a.kernel.empty() || a.output.empty()) {
    std::cerr << "lockout: local-blobs: give --kernel DIR and --output DIR (see lockout "
                 "local-blobs --help)\n";
    return kExitUsage;
  }
  if (cliutil::ParseOnly()) return kExitOk;
  image::LocalBlobsSpec spec{.kernel_root = a.kernel,
                             .init = a.init.empty() ? Sibling("lockout-init") : a.init,
                             .output_dir = a.output};
  absl::StatusOr<image::LocalBlobs> blobs = image::WriteLocalBlobs(spec);
  if (!blobs.ok()) {
    std::cerr << "lockout: local-blobs: " << blobs.status().message() << "\n";
    return kExitFailed;
  }
  std::cout << "wrote " << a.output << ": kernel " << blobs->kernel_release << ", modules";
  for (const std::string& m : blobs->modules) std::cout << " " << m;
  std::cout << "\n";
  return kExitOk;
}

constexpr char kRunEnclaveHelp[] =
    R"(Boot an enclave image (EIF) locally: the analogue of `nitro-cli run-enclave`.

Boots the EIF's kernel, cmdline and ramdisks in qemu-system-x86_64 (TCG: no KVM or Nitro
hardware needed) with QEMU user-mode networking: the guest is 10.0.2.15, it reaches the host's
loopback at 10.0.2.2, and --forward HOST:GUEST makes 127.0.0.1:HOST reach the guest's port. Its
NSM is the local NSM service (`lockout local-aws`) at tcp://10.0.2.100:9000 inside the guest; the
service gives it the PCRs of this EIF, measured from the file as the Nitro hypervisor measures an
image at launch. The guest's console is printed on stdout. Ends when the enclave's process exits
(the guest reboots) or on SIGINT/SIGTERM. Build the image from `lockout local-blobs` blobs;
docs/RUN-ENCLAVE.md.

Example:
  lockout run-enclave --eif lockout-local.eif --forward 5010:5010 \
      --nsm-socket /tmp/stack/la/nsm.sock --memory 512)";

constexpr char kLocalBlobsHelp[] =
    R"(Write a blobs directory for images that boot locally under `lockout run-enclave`.

From a Debian linux-image-*-amd64 package unpacked with `dpkg -x` (scripts/fetch-kernel.sh):
bzImage and bzImage.config (Debian's kernel), cmdline (the Nitro one without pci=off and
nomodules), init (lockout-init, written from the AWS init's contract) and nsm.ko (a cpio archive
of the virtio NIC modules that lockout-init loads). docs/RUN-ENCLAVE.md.

Example:
  lockout local-blobs --kernel build/kernel --output build/local-blobs)";

}  // namespace

void RegisterRunEnclaveCommands(CLI::App& app, CommandContext& ctx) {
  auto a = std::make_shared<RunEnclaveArgs>();
  auto* run = app.add_subcommand("run-enclave", kRunEnclaveHelp);
  run->add_option("--eif", a->eif, "The enclave image file");
  run->add_option("--memory", a->memory_mib,
                  "Guest memory in MiB (default: 4 x the EIF size, at least 256)");
  run->add_option("--cpu-count", a->cpu_count, "Guest CPUs")->capture_default_str();
  run->add_option("--forward", a->forwards,
                  "HOSTPORT:GUESTPORT: 127.0.0.1:HOSTPORT reaches the guest's port; repeatable")
      ->allow_extra_args(false);  // one value per flag, repeatable (CLI11 2.1's expected(1)
                                  // would mean "at most once")
  run->add_option("--nsm-socket", a->nsm_socket,
                  "The local NSM service's socket (default: LOCKOUT_NSM_SOCKET)");
  run->add_flag("--no-nsm", a->no_nsm, "Boot without an NSM for the guest");
  run->add_option("--qemu", a->qemu, "The QEMU binary")->capture_default_str();
  run->callback([&ctx, a] { ctx.exit_code = RunRunEnclave(*a); });

  auto b = std::make_shared<LocalBlobsArgs>();
  auto* blobs = app.add_subcommand("local-blobs", kLocalBlobsHelp);
  blobs->add_option("--kernel", b->kernel, "An unpacked linux-image-*-amd64 package (dpkg -x)");
  blobs->add_option("--init", b->init, "lockout-init (default: beside this lockout)");
  blobs->add_option("--output", b->output, "The blobs directory to write");
  blobs->callback([&ctx, b] { ctx.exit_code = RunLocalBlobs(*b); });
}

}  // namespace lockout::cli
