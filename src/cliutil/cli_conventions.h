#pragma once

// The command-line conventions every lockout binary shares (docs/CLI.md): one exit-code table,
// usage errors that exit 2 and suggest the closest command or flag, --version with the git
// commit, and `-` for standard input.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"

namespace lockout::cliutil {

// The exit-code table (docs/CLI.md, "Exit status"). Every binary returns only these.
inline constexpr int kExitOk = 0;            // the operation succeeded (a check: it passed)
inline constexpr int kExitFailed = 1;        // the operation failed, or the check found a problem
inline constexpr int kExitUsage = 2;         // usage error: nothing was done; see --help
inline constexpr int kExitInconclusive = 3;  // a check could not decide (check-lockout, lint)
inline constexpr int kExitBreakGlass = 4;    // policy lint: locked except a break-glass principal

// "PROGRAM VERSION (commit HASH)": the project version and the commit the build was configured
// from (the bare hash, or "unknown"; never a dirty marker or a date, so that lockout-enclave's
// bytes, its PCR0, depend on the source alone).
std::string VersionText(std::string_view program);

// Adds --version to `app`: prints VersionText(program) on stdout, exit 0.
void AddVersionFlag(CLI::App& app, std::string_view program);

// Parses the command line. Returns std::nullopt when the program should go on (the callbacks
// of the parsed subcommands have run), or the exit code to return at once: 0 after --help or
// --version, kExitUsage for every parse error, which is reported on stderr as one line
// "PROGRAM [SUBCOMMAND...]: what is wrong; did you mean ...? (see ... --help)". An unknown
// argument is reported before anything else CLI11 complains about (a mistyped required flag is
// "unknown option --enclve; did you mean --enclave?", not "--enclave is required").
std::optional<int> Parse(CLI::App& app, int argc, char** argv, std::string_view program);

// The one-line message Parse prints for `error` (exposed for tests).
std::string UsageErrorMessage(const CLI::App& app, const CLI::ParseError& error,
                              std::string_view program);

// Optimal-string-alignment distance (insertions, deletions, substitutions and transpositions
// of adjacent characters each cost 1).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a typo of it (distance at most
// a third of the word's length, at least 1, at most 3); ties go to the first. Leading dashes
// are ignored when comparing.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// Prints "PROGRAM: message" as one line on stderr and returns kExitUsage (nothing was done) or
// kExitFailed (the operation failed): the one way every command reports and exits.
int ReportUsageError(std::string_view program, std::string_view message);
int ReportFailure(std::string_view program, std::string_view message);

// LOCKOUT_PARSE_ONLY=1: an operator command parses and validates its arguments, then exits 0
// without touching AWS or an enclave (tests check the documented command lines this way).
bool ParseOnly();

// The contents of `path`, or of standard input when `path` is "-"; at most `max_bytes`
// (a longer input is an error, not truncated).
absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes);

}  // namespace lockout::cliutil
