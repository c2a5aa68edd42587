#include "src/image/debian_packages.h"

#include <climits>
#include <cstdlib>
#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/strings.h"
#include "src/image/command_runner.h"

namespace lockout::image {
namespace {

std::vector<std::string> Spellings(const std::string& path) {
  std::vector<std::string> out = {path};
  auto toggle = [](const std::string& p) {
    return p.starts_with("/usr/") ? p.substr(4) : "/usr" + p;
  };
  out.push_back(toggle(path));
  std::unique_ptr<char, decltype(&std::free)> real(realpath(path.c_str(), nullptr), &std::free);
  if (real != nullptr && path != real.get()) {
    out.emplace_back(real.get());
    out.push_back(toggle(real.get()));
  }
  return out;
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[]\\") != std::string_view::npos; }

}  // namespace

std::map<std::string, std::string> ParseDpkgSearch(std::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view raw : absl::StrSplit(Absl(text), '\n', absl::SkipEmpty())) {
    const std::string_view line = Std(raw);
    if (line.starts_with("diversion ")) continue;
    const size_t sep = line.find(": /");
    if (sep == std::string_view::npos || sep == 0) continue;
    const std::string_view packages = line.substr(0, sep);
    const std::string_view path = line.substr(sep + 2);
    const std::string_view first = packages.substr(0, packages.find(", "));
    if (!first.empty()) out.emplace(std::string(path), std::string(first));
  }
  return out;
}

std::map<std::string, std::string> ParseDpkgVersions(std::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view raw : absl::StrSplit(Absl(text), '\n', absl::SkipEmpty())) {
    const std::string_view line = Std(raw);
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0 || tab + 1 == line.size()) continue;
    out.emplace(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1)));
  }
  return out;
}

std::map<std::string, DebianPackage> FindDebianPackages(const std::vector<std::string>& paths) {
  std::map<std::string, DebianPackage> result;
  std::map<std::string, std::vector<std::string>> spellings;
  std::set<std::string> patterns;
  for (const std::string& p : paths) {
    if (HasGlob(p)) continue;
    for (std::string& s : Spellings(p)) {
      if (HasGlob(s)) continue;
      patterns.insert(s);
      spellings[p].push_back(std::move(s));
    }
  }
  if (patterns.empty()) return result;
  // dpkg-query exits 1 when some pattern matches nothing: its output for the others still counts.
  std::vector<std::string> search = {"dpkg-query", "-S"};
  search.insert(search.end(), patterns.begin(), patterns.end());
  absl::StatusOr<CommandResult> found = RunCommand(search);
  if (!found.ok()) return result;
  const std::map<std::string, std::string> owners = ParseDpkgSearch(found->out);

  std::map<std::string, std::string> owner_of;
  std::set<std::string> packages;
  for (const auto& [path, candidates] : spellings) {
    for (const std::string& c : candidates) {
      auto it = owners.find(c);
      if (it == owners.end()) continue;
      owner_of[path] = it->second;
      packages.insert(it->second);
      break;
    }
  }
  if (packages.empty()) return result;
  std::vector<std::string> query = {"dpkg-query", "-W", "-f", "${binary:Package}\t${Version}\n"};
  query.insert(query.end(), packages.begin(), packages.end());
  absl::StatusOr<CommandResult> versions = RunCommand(query);
  if (!versions.ok()) return result;
  const std::map<std::string, std::string> version_of = ParseDpkgVersions(versions->out);
  for (const auto& [path, package] : owner_of) {
    auto it = version_of.find(package);
    result[path] = DebianPackage{package, it == version_of.end() ? "" : it->second};
  }
  return result;
}

}  // namespace lockout::image
