#pragma once

// credential_process: credentials from an external command, as the AWS CLI runs it
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html).
//
// The command line is split into argv the way the AWS CLI does on Linux (Python's shlex.split,
// POSIX mode; SplitCommandLine) and executed directly (posix_spawnp: PATH lookup, no shell), so
// no character in the profile is interpreted by a shell: no variables, globs, pipes, redirections,
// `;` or `$(...)`. Quoting: '...' is literal; "..." keeps everything but \" and \\, which lose
// their backslash; outside quotes a backslash makes the next character literal.
// stdin is /dev/null, stderr is the caller's (the command's own messages reach the user; lockout
// never reads, logs or quotes them), stdout is read into secret memory only, at most
// `max_output_bytes`, for at most `timeout` (then the process is killed with SIGKILL).
//
// The output must be the JSON document of Version 1:
//   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
//    "SessionToken": "..." (optional), "Expiration": "RFC 3339" (optional: never expires)}
// Errors name the profile, the rule and sizes, never the output or its values. Thread-safety:
// reentrant.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/awsclient/credentials_provider.h"

namespace lockout::awsclient {

struct ProcessCredentialsOptions {
  absl::Duration timeout = absl::Seconds(60);
  size_t max_output_bytes = 64 << 10;
};

// shlex.split (POSIX): InvalidArgument for an unterminated quote, a trailing backslash or an
// empty command.
absl::StatusOr<std::vector<std::string>> SplitCommandLine(std::string_view command);

// Parses the command's output (Version 1). Untrusted: InvalidArgument naming the field.
absl::StatusOr<RoleCredentials> ParseProcessCredentials(std::string_view output);

// Runs `command` (the credential_process value) and parses its output. `what` names the source
// in errors ("credential_process of profile \"dev\"").
absl::StatusOr<RoleCredentials> RunCredentialProcess(std::string_view command,
                                                     std::string_view what,
                                                     const ProcessCredentialsOptions& options = {});

}  // namespace lockout::awsclient
