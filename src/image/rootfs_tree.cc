#include "src/image/rootfs_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/common/unique_fd.h"

namespace lockout::image {
namespace {

constexpr size_t kMaxPathLength = 4096;

// Mounted over by the AWS init (ENCLAVE-IMAGE.md, "What the AWS init does", step 6): files there
// would be hidden.
constexpr std::string_view kMountedDirs[] = {"dev", "proc", "sys", "run", "tmp"};
// Written by linuxkit itself after the image's files.
constexpr std::string_view kLinuxkitFiles[] = {"etc/hosts", "etc/mtab", "etc/resolv.conf"};

absl::Status PosixError(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<RootfsTree::Components> RootfsTree::Split(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.size() > kMaxPathLength ||
      path.find('\0') != std::string_view::npos || path.find('\n') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("image path \"", Absl(path.substr(0, 200)),
                     "\" must be absolute, not \"/\", at most 4096 bytes, without NUL or newline"));
  }
  Components components = absl::StrSplit(Absl(path.substr(1)), '/');
  for (const std::string& c : components) {
    if (c.empty() || c == "." || c == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "image path \"", Absl(path), "\" is not canonical (empty, . or .. component)"));
    }
  }
  for (std::string_view dir : kMountedDirs) {
    if (components.front() == dir) {
      return absl::InvalidArgumentError(absl::StrCat("image path ", Absl(path), ": /", Absl(dir),
                                                     " is mounted over when the enclave boots"));
    }
  }
  const std::string relative = absl::StrJoin(components, "/");
  for (std::string_view reserved : kLinuxkitFiles) {
    if (relative == reserved) {
      return absl::InvalidArgumentError(
          absl::StrCat("image path ", Absl(path), " is written by the image builder itself"));
    }
  }
  return components;
}

absl::Status RootfsTree::AddParents(const Components& components) {
  Components prefix;
  for (size_t i = 0; i + 1 < components.size(); ++i) {
    prefix.push_back(components[i]);
    auto it = nodes_.find(prefix);
    if (it == nodes_.end()) {
      nodes_[prefix] = Node{.is_directory = true, .permissions = 0755, .data = {}};
    } else if (!it->second.is_directory) {
      return absl::InvalidArgumentError(
          absl::StrCat("image path /", absl::StrJoin(prefix, "/"), " is a file, not a directory"));
    }
  }
  return absl::OkStatus();
}

absl::Status RootfsTree::AddFile(std::string_view path, uint32_t permissions, Bytes data) {
  if (permissions > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("image file ", Absl(path), ": permissions 0", absl::Hex(permissions),
                     " (only 0777 bits; no setuid, setgid or sticky)"));
  }
  ASSIGN_OR_RETURN(Components components, Split(path));
  if (nodes_.contains(components)) {
    return absl::AlreadyExistsError(
        absl::StrCat("image path ", Absl(path), " is already in the image"));
  }
  RETURN_IF_ERROR(AddParents(components));
  nodes_[components] =
      Node{.is_directory = false, .permissions = permissions, .data = std::move(data)};
  return absl::OkStatus();
}

absl::Status RootfsTree::AddDirectory(std::string_view path) {
  ASSIGN_OR_RETURN(Components components, Split(path));
  auto it = nodes_.find(components);
  if (it != nodes_.end()) {
    if (it->second.is_directory) return absl::OkStatus();
    return absl::AlreadyExistsError(absl::StrCat("image path ", Absl(path), " is a file"));
  }
  RETURN_IF_ERROR(AddParents(components));
  nodes_[components] = Node{.is_directory = true, .permissions = 0755, .data = {}};
  return absl::OkStatus();
}

bool RootfsTree::HasFile(std::string_view path) const {
  absl::StatusOr<Components> c = Split(path);
  if (!c.ok()) return false;
  auto it = nodes_.find(*c);
  return it != nodes_.end() && !it->second.is_directory;
}

bool RootfsTree::HasDirectory(std::string_view path) const {
  absl::StatusOr<Components> c = Split(path);
  if (!c.ok()) return false;
  auto it = nodes_.find(*c);
  return it != nodes_.end() && it->second.is_directory;
}

std::vector<RootfsTree::Entry> RootfsTree::Entries() const {
  std::vector<Entry> out;
  out.reserve(nodes_.size());
  for (const auto& [components, node] : nodes_) {
    out.push_back(Entry{.path = absl::StrJoin(components, "/"),
                        .is_directory = node.is_directory,
                        .permissions = node.permissions,
                        .data = node.is_directory ? nullptr : &node.data});
  }
  return out;
}

uint64_t RootfsTree::FileBytes() const {
  uint64_t total = 0;
  for (const auto& [components, node] : nodes_) total += node.data.size();
  return total;
}

size_t RootfsTree::FileCount() const {
  size_t n = 0;
  for (const auto& [components, node] : nodes_) n += node.is_directory ? 0 : 1;
  return n;
}

absl::Status RootfsTree::WriteToDirectory(const std::string& dir) const {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, " is not a directory"));
  }
  // Directories are written first (Entries() lists parents before children) and their times are
  // set last, after everything inside them exists.
  const struct timespec zero_times[2] = {{0, 0}, {0, 0}};
  std::vector<std::string> dirs;
  for (const Entry& e : Entries()) {
    const std::string path = absl::StrCat(dir, "/", e.path);
    if (e.is_directory) {
      if (mkdir(path.c_str(), 0755) != 0) return PosixError("cannot create directory", path);
      if (chmod(path.c_str(), 0755) != 0) return PosixError("cannot chmod", path);
      dirs.push_back(path);
      continue;
    }
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return PosixError("cannot create", path);
    size_t off = 0;
    while (off < e.data->size()) {
      ssize_t n = write(fd.get(), e.data->data() + off, e.data->size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return PosixError("cannot write", path);
      off += static_cast<size_t>(n);
    }
    // fchmod, not the umask-filtered creation mode: the bits are part of the image.
    if (fchmod(fd.get(), static_cast<mode_t>(e.permissions)) != 0) {
      return PosixError("cannot chmod", path);
    }
    if (futimens(fd.get(), zero_times) != 0) return PosixError("cannot set the times of", path);
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (utimensat(AT_FDCWD, it->c_str(), zero_times, 0) != 0) {
      return PosixError("cannot set the times of", *it);
    }
  }
  return absl::OkStatus();
}

}  // namespace lockout::image
