#include "src/nsm/open_nsm_device.h"

#include <sys/stat.h>

#include <cstdlib>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/nsm/dev_nsm_device.h"
#include "src/nsm/unix_socket_nsm_device.h"

namespace lockout::nsm {

absl::StatusOr<std::unique_ptr<NsmDevice>> OpenNsmDevice(std::string_view spec) {
  std::optional<std::string> socket_path;
  if (spec.starts_with(kTcpDeviceScheme)) {
    absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> d = UnixSocketNsmDevice::CreateTcp(spec);
    if (!d.ok()) return d.status();
    return std::unique_ptr<NsmDevice>(std::move(*d));
  }
  if (spec.starts_with(kUnixDeviceScheme)) {
    socket_path = std::string(spec.substr(kUnixDeviceScheme.size()));
    if (socket_path->empty() || socket_path->front() != '/') {
      return absl::InvalidArgumentError(absl::StrCat("NSM device ", std::string(spec),
                                                     ": a unix:// device needs an absolute path"));
    }
  } else {
    struct stat st {};
    const std::string path(spec);
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) socket_path = path;
  }
  if (socket_path.has_value()) {
    absl::StatusOr<std::unique_ptr<UnixSocketNsmDevice>> d =
        UnixSocketNsmDevice::Create(*socket_path);
    if (!d.ok()) return d.status();
    return std::unique_ptr<NsmDevice>(std::move(*d));
  }
  absl::StatusOr<std::unique_ptr<DevNsmDevice>> d = DevNsmDevice::Open(spec);
  if (!d.ok()) return d.status();
  return std::unique_ptr<NsmDevice>(std::move(*d));
}

std::string DefaultNsmSpec() {
  const char* env = std::getenv(std::string(kNsmSocketVariable).c_str());
  if (env != nullptr && *env != '\0') return env;
  return "/dev/nsm";
}

}  // namespace lockout::nsm
