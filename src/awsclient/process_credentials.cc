#include "src/awsclient/process_credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "src/common/clock.h"
#include "src/common/secret_bytes.h"
#include "src/common/secret_json.h"
#include "src/common/strings.h"

extern char** environ;

namespace lockout::awsclient {
namespace {

bool IsShellSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

absl::Status Malformed(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("credential_process output is not valid credentials: ", Absl(why)));
}

// A required (or optional) non-empty string member of the document.
absl::StatusOr<std::string_view> StringField(const SecretJson& doc, std::string_view name,
                                             bool required) {
  const SecretJson* v = doc.Find(name);
  if (v == nullptr || v->is_null()) {
    if (required) return Malformed(absl::StrCat("field ", Absl(name), " is missing"));
    return std::string_view();
  }
  if (!v->is_string() || v->RevealString().empty()) {
    return Malformed(absl::StrCat("field ", Absl(name), " is not a non-empty string"));
  }
  return v->RevealString();
}

// Waits for `pid` until `deadline`; kills it (SIGKILL) then. Returns the wait status, or nullopt
// when it had to be killed.
std::optional<int> WaitOrKill(pid_t pid, absl::Time deadline) {
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return std::nullopt;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCommandLine(std::string_view command) {
  std::vector<std::string> argv;
  std::string token;
  bool in_token = false;
  size_t i = 0;
  while (i < command.size()) {
    const char c = command[i];
    if (IsShellSpace(c)) {
      if (in_token) argv.push_back(std::move(token));
      token.clear();
      in_token = false;
      ++i;
      continue;
    }
    in_token = true;
    if (c == '\\') {
      if (i + 1 >= command.size()) {
        return absl::InvalidArgumentError("credential_process ends with a backslash");
      }
      token.push_back(command[i + 1]);
      i += 2;
    } else if (c == '\'') {
      const size_t end = command.find('\'', i + 1);
      if (end == std::string_view::npos) {
        return absl::InvalidArgumentError("credential_process has an unterminated ' quote");
      }
      token.append(command.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '"') {
      ++i;
      for (;;) {
        if (i >= command.size()) {
          return absl::InvalidArgumentError("credential_process has an unterminated \" quote");
        }
        const char d = command[i];
        if (d == '"') {
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < command.size() &&
            (command[i + 1] == '"' || command[i + 1] == '\\')) {
          token.push_back(command[i + 1]);
          i += 2;
          continue;
        }
        token.push_back(d);
        ++i;
      }
    } else {
      token.push_back(c);
      ++i;
    }
  }
  if (in_token) argv.push_back(std::move(token));
  if (argv.empty()) return absl::InvalidArgumentError("credential_process is empty");
  return argv;
}

absl::StatusOr<RoleCredentials> ParseProcessCredentials(std::string_view output) {
  absl::StatusOr<SecretJson> doc = SecretJson::Parse(output, 64 << 10, 4);
  if (!doc.ok()) return Malformed(absl::StrCat("not JSON (", doc.status().message(), ")"));
  if (!doc->is_object()) return Malformed("not a JSON object");
  const SecretJson* version = doc->Find("Version");
  if (version == nullptr) return Malformed("field Version is missing");
  if (!version->is_number() || version->number_text() != "1") {
    return Malformed("Version is not 1 (the only version there is)");
  }
  absl::StatusOr<std::string_view> key_id = StringField(*doc, "AccessKeyId", true);
  if (!key_id.ok()) return key_id.status();
  absl::StatusOr<std::string_view> secret = StringField(*doc, "SecretAccessKey", true);
  if (!secret.ok()) return secret.status();
  absl::StatusOr<std::string_view> token = StringField(*doc, "SessionToken", false);
  if (!token.ok()) return token.status();
  absl::StatusOr<std::string_view> expiration = StringField(*doc, "Expiration", false);
  if (!expiration.ok()) return expiration.status();
  RoleCredentials out;
  out.access_key_id = std::string(*key_id);
  out.secret_access_key = SecretBytes::CopyFrom(*secret);
  out.session_token = SecretBytes::CopyFrom(*token);
  out.expiration = absl::InfiniteFuture();
  if (!expiration->empty()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339(*expiration);
    if (!t.ok()) return Malformed("field Expiration is not an RFC 3339 timestamp");
    out.expiration = *t;
  }
  return out;
}

absl::StatusOr<RoleCredentials> RunCredentialProcess(std::string_view command,
                                                     std::string_view what,
                                                     const ProcessCredentialsOptions& options) {
  absl::StatusOr<std::vector<std::string>> argv = SplitCommandLine(command);
  if (!argv.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": ", argv.status().message()));
  }
  std::vector<char*> cargv;
  for (std::string& a : *argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat(Absl(what), ": pipe: ", std::strerror(errno)));
  }
  absl::Cleanup close_read = [&fds] { close(fds[0]); };
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&actions] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  close(fds[1]);
  if (spawned != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(Absl(what), ": cannot run \"", (*argv)[0], "\": ", std::strerror(spawned),
                     " (the command is run without a shell: give the program's path or a name on "
                     "PATH)"));
  }

  const absl::Time deadline = absl::Now() + options.timeout;
  SecretBuilder output;
  bool too_big = false, timed_out = false;
  char buffer[4096];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends the loop
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or an error: treat as the end of output)
    if (output.size() + static_cast<size_t>(n) > options.max_output_bytes) {
      too_big = true;
      break;
    }
    output.Append(std::string_view(buffer, static_cast<size_t>(n)));
  }
  WipeBytes(buffer, sizeof(buffer));
  SecretBytes out = std::move(output).Finish();
  if (too_big || timed_out) {
    kill(pid, SIGKILL);
    WaitOrKill(pid, absl::Now() + absl::Seconds(5));
    if (too_big) {
      return absl::ResourceExhaustedError(absl::StrCat(Absl(what), ": the command wrote more than ",
                                                       options.max_output_bytes,
                                                       " bytes; it was killed"));
    }
    return absl::DeadlineExceededError(
        absl::StrCat(Absl(what), ": the command did not finish within ",
                     absl::FormatDuration(options.timeout), "; it was killed"));
  }
  std::optional<int> status = WaitOrKill(pid, deadline);
  if (!status.has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat(Absl(what), ": the command did not exit within ",
                     absl::FormatDuration(options.timeout), "; it was killed"));
  }
  if (WIFSIGNALED(*status)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Absl(what), ": the command was killed by signal ", WTERMSIG(*status)));
  }
  if (WEXITSTATUS(*status) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(Absl(what), ": the command exited with status ", WEXITSTATUS(*status),
                     " (its own messages, if any, are on stderr above)"));
  }
  absl::StatusOr<RoleCredentials> credentials = ParseProcessCredentials(out.RevealAsString());
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": ", credentials.status().message(),
                                                   " (", out.size(), " bytes of output)"));
  }
  return credentials;
}

}  // namespace lockout::awsclient
