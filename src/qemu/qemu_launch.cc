#include "src/qemu/qemu_launch.h"

#include <algorithm>
#include <charconv>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"

namespace lockout::qemu {
namespace {

constexpr size_t kMaxArguments = 256;
constexpr size_t kMaxForwards = 64;
constexpr std::string_view kChardevPrefix = "socket,id=nsm,path=";
constexpr std::string_view kChardevSuffix = ",reconnect=1";
constexpr std::string_view kNetdevPrefix = "user,id=net0";
constexpr std::string_view kGuestfwd = ",guestfwd=tcp:10.0.2.100:9000-chardev:nsm";
constexpr std::string_view kHostfwdPrefix = ",hostfwd=tcp:127.0.0.1:";

// QemuOpts values: a comma is written as ",,".
std::string EscapeOptValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    out.push_back(c);
    if (c == ',') out.push_back(',');
  }
  return out;
}

absl::StatusOr<std::string> UnescapeOptValue(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ',') {
      if (i + 1 >= v.size() || v[i + 1] != ',') {
        return absl::InvalidArgumentError("qemu arguments: unexpected option in -chardev");
      }
      ++i;
    }
    out.push_back(v[i]);
  }
  return out;
}

template <typename T>
absl::StatusOr<T> ParseDecimal(std::string_view text, T min, T max, std::string_view what) {
  T value{};
  if (text.empty() || text.size() > 10 || (text.size() > 1 && text[0] == '0') ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": not a decimal number"));
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(what), " must be ", min, "..", max));
  }
  return value;
}

}  // namespace

absl::Status ValidateLaunch(const QemuLaunch& l) {
  if (l.memory_mib < 64 || l.memory_mib > 65536) {
    return absl::InvalidArgumentError("memory must be 64..65536 MiB");
  }
  if (l.cpu_count < 1 || l.cpu_count > 64) {
    return absl::InvalidArgumentError("cpu count must be 1..64");
  }
  if (l.cmdline.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("the kernel command line contains a NUL byte");
  }
  if (!l.nsm_socket.empty() &&
      (l.nsm_socket.front() != '/' || l.nsm_socket.find('\0') != std::string::npos)) {
    return absl::InvalidArgumentError("the NSM socket must be an absolute path");
  }
  if (l.forwards.size() > kMaxForwards) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", kMaxForwards, " port forwards"));
  }
  absl::flat_hash_set<uint16_t> host_ports;
  for (const PortForward& f : l.forwards) {
    if (f.host_port == 0 || f.guest_port == 0) {
      return absl::InvalidArgumentError("a forwarded port must be 1..65535");
    }
    if (!host_ports.insert(f.host_port).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("host port ", f.host_port, " is forwarded twice"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> QemuArguments(const QemuLaunch& l) {
  std::vector<std::string> a = {"-nodefaults",
                                "-no-user-config",
                                "-display",
                                "none",
                                "-no-reboot",
                                "-accel",
                                "tcg",
                                "-machine",
                                "q35",
                                "-cpu",
                                "max",
                                "-m",
                                absl::StrCat(l.memory_mib),
                                "-smp",
                                absl::StrCat(l.cpu_count),
                                "-serial",
                                "stdio",
                                "-kernel",
                                absl::StrCat("/proc/self/fd/", kKernelFd),
                                "-initrd",
                                absl::StrCat("/proc/self/fd/", kInitrdFd),
                                "-append",
                                l.cmdline};
  std::string netdev(kNetdevPrefix);
  if (!l.nsm_socket.empty()) {
    a.push_back("-chardev");
    a.push_back(
        absl::StrCat(Absl(kChardevPrefix), EscapeOptValue(l.nsm_socket), Absl(kChardevSuffix)));
    netdev += kGuestfwd;
  }
  for (const PortForward& f : l.forwards) {
    absl::StrAppend(&netdev, Absl(kHostfwdPrefix), f.host_port, "-:", f.guest_port);
  }
  a.push_back("-netdev");
  a.push_back(std::move(netdev));
  a.push_back("-device");
  a.push_back("virtio-net-pci,netdev=net0,romfile=");
  return a;
}

absl::StatusOr<QemuLaunch> ParseQemuArguments(const std::vector<std::string>& args) {
  if (args.size() > kMaxArguments) {
    return absl::InvalidArgumentError("qemu arguments: too many");
  }
  // Pick out the variable parts, then require the whole list to be what QemuArguments writes.
  QemuLaunch l;
  auto value_of = [&args](std::string_view option) -> const std::string* {
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == option) return &args[i + 1];
    }
    return nullptr;
  };
  const std::string* memory = value_of("-m");
  const std::string* cpus = value_of("-smp");
  const std::string* cmdline = value_of("-append");
  const std::string* netdev = value_of("-netdev");
  if (memory == nullptr || cpus == nullptr || cmdline == nullptr || netdev == nullptr) {
    return absl::InvalidArgumentError("qemu arguments: not the form run-enclave writes");
  }
  ASSIGN_OR_RETURN(l.memory_mib, ParseDecimal<uint32_t>(*memory, 64, 65536, "qemu -m"));
  ASSIGN_OR_RETURN(l.cpu_count, ParseDecimal<uint32_t>(*cpus, 1, 64, "qemu -smp"));
  l.cmdline = *cmdline;
  if (const std::string* chardev = value_of("-chardev"); chardev != nullptr) {
    std::string_view c = *chardev;
    if (!c.starts_with(kChardevPrefix) || !c.ends_with(kChardevSuffix)) {
      return absl::InvalidArgumentError("qemu arguments: not the -chardev run-enclave writes");
    }
    c.remove_prefix(kChardevPrefix.size());
    c.remove_suffix(kChardevSuffix.size());
    ASSIGN_OR_RETURN(l.nsm_socket, UnescapeOptValue(c));
  }
  std::string_view n = *netdev;
  if (!n.starts_with(kNetdevPrefix)) {
    return absl::InvalidArgumentError("qemu arguments: not the -netdev run-enclave writes");
  }
  n.remove_prefix(kNetdevPrefix.size());
  if (n.starts_with(kGuestfwd)) n.remove_prefix(kGuestfwd.size());
  while (!n.empty()) {
    if (!n.starts_with(kHostfwdPrefix) || l.forwards.size() >= kMaxForwards) {
      return absl::InvalidArgumentError("qemu arguments: not the -netdev run-enclave writes");
    }
    n.remove_prefix(kHostfwdPrefix.size());
    const size_t end = std::min(n.find(','), n.size());
    const std::string_view rule = n.substr(0, end);
    n.remove_prefix(end);
    const size_t dash = rule.find("-:");
    if (dash == std::string_view::npos) {
      return absl::InvalidArgumentError("qemu arguments: not the hostfwd run-enclave writes");
    }
    PortForward f;
    ASSIGN_OR_RETURN(f.host_port,
                     ParseDecimal<uint16_t>(rule.substr(0, dash), 1, 65535, "qemu hostfwd port"));
    ASSIGN_OR_RETURN(f.guest_port,
                     ParseDecimal<uint16_t>(rule.substr(dash + 2), 1, 65535, "qemu hostfwd port"));
    l.forwards.push_back(f);
  }
  RETURN_IF_ERROR(ValidateLaunch(l));
  if (QemuArguments(l) != args) {
    return absl::InvalidArgumentError("qemu arguments: not the form run-enclave writes");
  }
  return l;
}

absl::StatusOr<PortForward> ParsePortForward(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("port forward '", Absl(text), "': expected HOSTPORT:GUESTPORT"));
  }
  PortForward f;
  ASSIGN_OR_RETURN(f.host_port,
                   ParseDecimal<uint16_t>(text.substr(0, colon), 1, 65535, "host port"));
  ASSIGN_OR_RETURN(f.guest_port,
                   ParseDecimal<uint16_t>(text.substr(colon + 1), 1, 65535, "guest port"));
  return f;
}

}  // namespace lockout::qemu
