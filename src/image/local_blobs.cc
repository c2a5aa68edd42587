#include "src/image/local_blobs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/bytes.h"
#include "src/common/file.h"
#include "src/common/status_macros.h"
#include "src/common/strings.h"
#include "src/image/cpio_writer.h"

namespace lockout::image {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxModuleSize = 16 << 20;
constexpr size_t kMaxKernelSize = 128 << 20;
constexpr size_t kMaxDepth = 32;
const char* const kRootModules[] = {"virtio_pci", "virtio_net"};

// Module names treat '-' and '_' alike (the kernel's own rule); canonical form uses '_'.
std::string ModuleName(std::string_view file_stem) {
  std::string name(file_stem);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// The "depends=" entry of a module's .modinfo strings (NUL-separated "key=value" records).
absl::StatusOr<std::vector<std::string>> ModuleDepends(const Bytes& ko, const std::string& path) {
  static constexpr std::string_view kKey = "depends=";
  const std::string_view text(reinterpret_cast<const char*>(ko.data()), ko.size());
  for (size_t at = text.find(kKey); at != std::string_view::npos; at = text.find(kKey, at + 1)) {
    if (at != 0 && text[at - 1] != '\0') continue;
    const size_t end = text.find('\0', at);
    if (end == std::string_view::npos) break;
    const std::string_view list = text.substr(at + kKey.size(), end - at - kKey.size());
    std::vector<std::string> out;
    for (absl::string_view d : absl::StrSplit(Absl(list), ',', absl::SkipEmpty())) {
      out.push_back(ModuleName(std::string_view(d.data(), d.size())));
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": no depends= in its .modinfo"));
}

absl::StatusOr<std::string> OnlyEntry(const fs::path& dir, std::string_view prefix,
                                      std::string_view what) {
  std::error_code ec;
  std::vector<std::string> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix)) found.push_back(name);
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("no ", Absl(what), ": cannot list ", dir.string(), " (",
                                            ec.message(),
                                            "); unpack a linux-image-*-amd64 package there "
                                            "(scripts/fetch-kernel.sh)"));
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat("no ", Absl(what), " (", Absl(prefix), "*) in ",
                                            dir.string(),
                                            "; unpack a linux-image-*-amd64 package there "
                                            "(scripts/fetch-kernel.sh)"));
  }
  if (found.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat("more than one ", Absl(what), " in ",
                                                      dir.string(), ": unpack one kernel only"));
  }
  return found.front();
}

}  // namespace

absl::StatusOr<LocalBlobs> WriteLocalBlobs(const LocalBlobsSpec& spec) {
  const fs::path root(spec.kernel_root);
  ASSIGN_OR_RETURN(std::string vmlinuz, OnlyEntry(root / "boot", "vmlinuz-", "kernel"));
  LocalBlobs out;
  out.kernel_release = vmlinuz.substr(std::string_view("vmlinuz-").size());
  ASSIGN_OR_RETURN(Bytes kernel, ReadFile((root / "boot" / vmlinuz).string(), kMaxKernelSize));
  ASSIGN_OR_RETURN(Bytes config,
                   ReadFile((root / "boot" / ("config-" + out.kernel_release)).string()));
  ASSIGN_OR_RETURN(Bytes init, ReadFile(spec.init));

  // Every module file of this release, by canonical name.
  const fs::path modules_dir = root / "lib" / "modules" / out.kernel_release / "kernel";
  std::map<std::string, fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(modules_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".ko") {
      files.emplace(ModuleName(it->path().stem().string()), it->path());
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot list ", modules_dir.string(), ": ", ec.message()));
  }

  // Depth-first, dependencies first: the order init_module() needs.
  std::set<std::string> done;
  std::set<std::string> visiting;
  CpioWriter bundle;
  std::function<absl::Status(const std::string&, size_t)> add = [&](const std::string& name,
                                                                    size_t depth) -> absl::Status {
    if (done.contains(name)) return absl::OkStatus();
    if (depth > kMaxDepth || visiting.contains(name)) {
      return absl::FailedPreconditionError(absl::StrCat("module dependency cycle at ", name));
    }
    auto file = files.find(name);
    if (file == files.end()) {
      return absl::NotFoundError(
          absl::StrCat("module ", name, " is not in ", modules_dir.string()));
    }
    visiting.insert(name);
    ASSIGN_OR_RETURN(Bytes ko, ReadFile(file->second.string(), kMaxModuleSize));
    ASSIGN_OR_RETURN(std::vector<std::string> depends, ModuleDepends(ko, file->second.string()));
    for (const std::string& d : depends) RETURN_IF_ERROR(add(d, depth + 1));
    visiting.erase(name);
    done.insert(name);
    out.modules.push_back(name);
    return bundle.AddFile(name + ".ko", 0644, 0, ko);
  };
  for (const char* m : kRootModules) RETURN_IF_ERROR(add(m, 0));

  if (::mkdir(spec.output_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", spec.output_dir, ": ", std::strerror(errno)));
  }
  const std::string dir = spec.output_dir + "/";
  RETURN_IF_ERROR(WriteFileAtomic(dir + "bzImage", kernel, 0644));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "bzImage.config", config, 0644));
  RETURN_IF_ERROR(
      WriteFileAtomic(dir + "cmdline", AsBytes(absl::StrCat(Absl(kLocalCmdline), "\n")), 0644));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "init", init, 0755));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "nsm.ko", std::move(bundle).Finish(), 0644));
  return out;
}

}  // namespace lockout::image
