#pragma once

// The Debian package (and its version) that installed each file put into an image, for the
// image's metadata: `dpkg-query -S` finds the owner, `dpkg-query -W` its version, one run each
// for all files.
//
// Debian 12 is merged-/usr (/lib -> usr/lib) while packages record either spelling, and the
// loader reports /lib paths for files packaged under /usr/lib, so each file is looked up as
// given, with /usr toggled, and through its resolved symlinks, in that order; the first owned
// spelling wins. Files no package owns (generated ones such as the CA bundle, or our own
// binaries), paths containing glob characters (dpkg-query treats arguments as patterns), and
// every file on a host without dpkg-query, have no entry: that is not an error, the metadata says
// "package": null.
// Thread-safe.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lockout::image {

struct DebianPackage {
  std::string name;     // "libssl3:amd64"
  std::string version;  // "3.0.19-1~deb12u2"
};

// Parses `dpkg-query -S` output ("pkg[, pkg...]: /path" lines; diversion lines are skipped):
// path -> first package named.
std::map<std::string, std::string> ParseDpkgSearch(std::string_view text);
// Parses `dpkg-query -W -f '${binary:Package}\t${Version}\n'` output: package -> version.
std::map<std::string, std::string> ParseDpkgVersions(std::string_view text);

// file path (as passed in) -> its package, for the files some package owns.
std::map<std::string, DebianPackage> FindDebianPackages(const std::vector<std::string>& paths);

}  // namespace lockout::image
