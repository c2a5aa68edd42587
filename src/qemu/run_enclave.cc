#include "src/qemu/run_enclave.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/bytes.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/common/unique_fd.h"
#include "src/eif/eif_boot.h"
#include "src/image/enclave_image.h"
#include "src/qemu/guest_measure.h"

namespace lockout::qemu {
namespace {

constexpr int kSeals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;

absl::Status Errno(std::string_view what) {
  return absl::InternalError(absl::StrCat(Absl(what), ": ", std::strerror(errno)));
}

absl::StatusOr<UniqueFd> SealedMemfd(const char* name, ByteView data) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return Errno("memfd_create");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("writing a memfd");
    done += static_cast<size_t>(n);
  }
  if (::fcntl(fd.get(), F_ADD_SEALS, kSeals) != 0) return Errno("sealing a memfd");
  return fd;
}

}  // namespace

uint32_t DefaultMemoryMiB(uint64_t eif_size) {
  return static_cast<uint32_t>(std::max<uint64_t>(256, image::MinimumEnclaveMemoryMiB(eif_size)));
}

absl::StatusOr<int> RunEnclave(const RunEnclaveOptions& options,
                               const std::function<void(const BootedEnclave&)>& on_boot) {
  ASSIGN_OR_RETURN(Bytes eif, ReadFile(options.eif_path, kMaxGuestEifSize));
  absl::StatusOr<eif::EifBootFiles> boot = eif::EifBootFilesOf(eif);
  if (!boot.ok()) {
    return absl::Status(boot.status().code(),
                        absl::StrCat(options.eif_path, ": ", boot.status().message()));
  }
  const uint32_t floor = DefaultMemoryMiB(eif.size());
  QemuLaunch launch;
  launch.memory_mib = options.memory_mib == 0 ? floor : options.memory_mib;
  if (launch.memory_mib < floor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--memory ", launch.memory_mib, " MiB is less than the ", floor,
        " MiB the image needs (4 x the EIF size, at least 256 MiB, as nitro-cli requires)"));
  }
  launch.cpu_count = options.cpu_count;
  launch.cmdline = boot->cmdline;
  launch.nsm_socket = options.nsm_socket;
  launch.forwards = options.forwards;
  RETURN_IF_ERROR(ValidateLaunch(launch));
  if (::access(options.qemu.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(options.qemu, " is not an executable (",
                                                      std::strerror(errno),
                                                      "); install qemu-system-x86 (make deps)"));
  }

  ASSIGN_OR_RETURN(UniqueFd eif_fd, SealedMemfd("lockout-eif", eif));
  ASSIGN_OR_RETURN(UniqueFd kernel_fd, SealedMemfd("lockout-eif-kernel", boot->kernel));
  ASSIGN_OR_RETURN(UniqueFd initrd_fd, SealedMemfd("lockout-eif-initrd", boot->initrd));
  BootedEnclave booted{.qemu_pid = 0, .pcrs = boot->measurements, .memory_mib = launch.memory_mib};
  eif.clear();
  eif.shrink_to_fit();
  boot->kernel = Bytes();
  boot->initrd = Bytes();

  // Everything the child needs is prepared before fork (only async-signal-safe calls after it).
  std::vector<std::string> args = QemuArguments(launch);
  args.insert(args.begin(), options.qemu);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  sigset_t handled, previous;
  sigemptyset(&handled);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  if (::pthread_sigmask(SIG_BLOCK, &handled, &previous) != 0) return Errno("sigprocmask");

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return Errno("fork");
  }
  if (pid == 0) {
    // Above every descriptor 3..5 first, then onto 3, 4, 5 (dup2 clears close-on-exec).
    const int e = ::fcntl(eif_fd.get(), F_DUPFD, 10);
    const int k = ::fcntl(kernel_fd.get(), F_DUPFD, 10);
    const int i = ::fcntl(initrd_fd.get(), F_DUPFD, 10);
    if (e < 0 || k < 0 || i < 0 || ::dup2(e, kEifFd) < 0 || ::dup2(k, kKernelFd) < 0 ||
        ::dup2(i, kInitrdFd) < 0) {
      _exit(126);
    }
    ::close(e);
    ::close(k);
    ::close(i);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  eif_fd.reset();
  kernel_fd.reset();
  initrd_fd.reset();
  booted.qemu_pid = pid;
  if (on_boot) on_boot(booted);

  int status = 0;
  bool stopping = false;
  for (;;) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno != EINTR) {
      ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
      return Errno("waitpid");
    }
    siginfo_t info{};
    const timespec timeout{.tv_sec = stopping ? 10 : 1, .tv_nsec = 0};
    const int sig = ::sigtimedwait(&handled, &info, &timeout);
    if ((sig == SIGINT || sig == SIGTERM) && !stopping) {
      stopping = true;
      ::kill(pid, SIGTERM);
    } else if (sig < 0 && errno == EAGAIN && stopping) {
      ::kill(pid, SIGKILL);
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace lockout::qemu
