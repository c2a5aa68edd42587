#pragma once

// Which shared libraries an executable loads inside the enclave, and from where.
//
// The answer comes from the dynamic loader that goes into the image, asked on this machine:
//   <PT_INTERP> --inhibit-cache --list <executable>
// run as a subprocess with an empty environment. Asking the loader rather than walking DT_NEEDED
// ourselves means the list is the loader's own search (DT_RUNPATH/RPATH, its built-in system
// directories, hwcaps subdirectories, libraries already loaded), not a second implementation of
// it. --inhibit-cache because the image has no /etc/ld.so.cache: the loader inside will search
// exactly as the listing did, so a library found only through the host's cache is reported as
// missing here rather than at boot. The empty environment keeps LD_LIBRARY_PATH / LD_PRELOAD of
// the caller out of the answer. `--list` maps the objects without running their code.
//
// Each library goes into the image at the path the loader opened it from (for Debian 12:
// /lib/x86_64-linux-gnu/...), the loader at its PT_INTERP path.
// Errors: NotFound (a library the loader cannot find, the loader itself missing), Internal (the
// loader failed), InvalidArgument (output this parser does not understand). Thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::image {

struct SharedLibrary {
  std::string name;  // as requested (DT_NEEDED): "libssl.so.3"
  std::string path;  // where the loader found it: "/lib/x86_64-linux-gnu/libssl.so.3"
};

// Parses the loader's --list output. Lines are "\tNAME => PATH (0xADDR)", "\tPATH (0xADDR)"
// (the interpreter, or a DT_NEEDED given as a path) or "\tNAME (0xADDR)" (the vDSO, which has no
// file). The interpreter's own line is left out. "NAME => not found" is a NotFound error.
absl::StatusOr<std::vector<SharedLibrary>> ParseLoaderList(std::string_view text,
                                                           std::string_view interpreter);

// Runs the loader as described above.
absl::StatusOr<std::vector<SharedLibrary>> ResolveSharedLibraries(const std::string& executable,
                                                                  const std::string& interpreter);

}  // namespace lockout::image
