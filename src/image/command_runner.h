#pragma once

// Runs a local tool to completion and captures its output: the image builder asks the dynamic
// loader which libraries an executable loads and dpkg-query which packages own them.
//
//   absl::StatusOr<CommandResult> r = RunCommand({"dpkg-query", "-W", "libc6"});
//
// argv[0] is looked up in PATH (/usr/bin:/bin when PATH is unset) unless it contains a '/'. The
// child gets exactly `env` as its environment (empty by default, so the caller's LD_* variables
// cannot change what a loader reports), stdin from /dev/null, and no other descriptors. Output
// beyond `max_output` bytes per stream is an error (the child is killed).
// Errors: NotFound (the program does not exist), ResourceExhausted (too much output), Internal
// (spawn, pipe or wait failures). A non-zero exit is not an error: see exit_code.
// Thread-safe (each call owns its child).

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::image {

struct CommandResult {
  int exit_code = -1;  // the exit status, or 128 + signal number
  std::string out;
  std::string err;
};

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env = {},
                                         size_t max_output = size_t{4} << 20);

}  // namespace lockout::image
