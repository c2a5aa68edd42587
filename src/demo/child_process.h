#pragma once

// ChildProcess: a program the demo starts and must stop on every path.
//
// Start() forks and execs `argv` with exactly `env` as its environment, stdout and stderr appended
// to `log_path`, in its own process group (so a terminal's Ctrl-C reaches only the demo, which
// then stops its children in order), with the signal mask cleared and PR_SET_PDEATHSIG=SIGTERM
// (if the demo itself is killed, the kernel stops the child). Stop() sends SIGTERM to the group,
// waits up to `grace`, then SIGKILLs it; the destructor calls Stop().
// Errors: Internal (fork/exec failures; the exec error is written to the log file).
// Thread-safety: one owner thread.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace lockout::demo {

class ChildProcess final {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::vector<std::string>& env,
                                                             const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // True while the process has not exited (reaps it if it has).
  bool Running();
  // Exit status as waitpid reports it, once it has exited.
  int wait_status() const { return wait_status_; }
  // SIGTERM, wait up to `grace`, SIGKILL. Idempotent. Returns true if it exited on SIGTERM.
  bool Stop(absl::Duration grace = absl::Seconds(5));

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool exited_ = false;
  int wait_status_ = 0;
};

}  // namespace lockout::demo
