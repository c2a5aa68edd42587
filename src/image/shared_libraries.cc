#include "src/image/shared_libraries.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/strings.h"
#include "src/image/command_runner.h"

namespace lockout::image {
namespace {

constexpr size_t kMaxLibraries = 4096;

// Strips the " (0x...)" load address the loader appends.
absl::StatusOr<std::string_view> StripAddress(std::string_view s) {
  const size_t open = s.rfind(" (0x");
  if (open == std::string_view::npos || s.back() != ')') {
    return absl::InvalidArgumentError(absl::StrCat("loader output line without a load address: \"",
                                                   Absl(s.substr(0, 200)), "\""));
  }
  return s.substr(0, open);
}

}  // namespace

absl::StatusOr<std::vector<SharedLibrary>> ParseLoaderList(std::string_view text,
                                                           std::string_view interpreter) {
  std::vector<SharedLibrary> out;
  for (absl::string_view raw : absl::StrSplit(Absl(text), '\n', absl::SkipWhitespace())) {
    const std::string_view line = Std(absl::StripAsciiWhitespace(raw));
    const size_t arrow = line.find(" => ");
    if (arrow == std::string_view::npos) {
      absl::StatusOr<std::string_view> path = StripAddress(line);
      if (!path.ok()) return path.status();
      // The vDSO (no '/') has no file; the interpreter is added by the caller.
      if (path->find('/') == std::string_view::npos || *path == interpreter) continue;
      if (path->front() != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("loader listed a relative path: \"", Absl(path->substr(0, 200)), "\""));
      }
      out.push_back({std::string(*path), std::string(*path)});
    } else {
      const std::string_view name = line.substr(0, arrow);
      const std::string_view rest = line.substr(arrow + 4);
      if (rest == "not found") {
        return absl::NotFoundError(absl::StrCat(
            Absl(name),
            " is needed but the loader cannot find it without /etc/ld.so.cache (the image "
            "has none): install it in a system library directory or link it statically"));
      }
      absl::StatusOr<std::string_view> path = StripAddress(rest);
      if (!path.ok()) return path.status();
      if (name.empty() || path->empty() || path->front() != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("loader output line not understood: \"", Absl(line.substr(0, 200)), "\""));
      }
      if (*path == interpreter) continue;
      out.push_back({std::string(name), std::string(*path)});
    }
    if (out.size() > kMaxLibraries) {
      return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxLibraries, " libraries"));
    }
  }
  return out;
}

absl::StatusOr<std::vector<SharedLibrary>> ResolveSharedLibraries(const std::string& executable,
                                                                  const std::string& interpreter) {
  absl::StatusOr<CommandResult> r =
      RunCommand({interpreter, "--inhibit-cache", "--list", executable});
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("the executable's loader ", interpreter,
                                     " cannot be run here: ", r.status().message()));
  }
  if (r->exit_code != 0) {
    absl::StatusOr<std::vector<SharedLibrary>> parsed = ParseLoaderList(r->out, interpreter);
    if (!parsed.ok() && absl::IsNotFound(parsed.status())) return parsed.status();
    return absl::InternalError(absl::StrCat(interpreter, " --list ", executable, " exited ",
                                            r->exit_code, ": ", r->err.substr(0, 500)));
  }
  return ParseLoaderList(r->out, interpreter);
}

}  // namespace lockout::image
