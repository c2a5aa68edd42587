// libFuzzer target: the readers of the AWS shared config/credentials files and of a
// credential_process's output (src/awsclient/ini_file.h, process_credentials.h). Both files are
// untrusted-ish (anyone who can write into the home directory), and the command's output is
// whatever the command prints.
//
// Each input goes to IniFile::Parse, SplitCommandLine and ParseProcessCredentials. Properties
// (abort on violation):
//   * errors are printable, bounded and never quote the input (a marker planted in it);
//   * INI: every section name and key is non-empty, trimmed and keys are lower case; parsing a
//     re-serialisation of the result (continuations re-indented) gives the same sections;
//   * command line: a success has at least one argument; quoting each argument in single quotes
//     and splitting again gives the same argv (a fixpoint);
//   * process credentials: a success has a non-empty key id and secret.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/ascii.h"
#include "fuzz/fuzz_checks.h"
#include "src/awsclient/ini_file.h"
#include "src/awsclient/process_credentials.h"

namespace {

namespace aws = lockout::awsclient;
using lockout::fuzz::Check;
using lockout::fuzz::CheckErrorMessage;
using lockout::fuzz::Message;

bool Trimmed(std::string_view s) {
  return !s.empty() && s.front() != ' ' && s.front() != '\t' && s.back() != ' ' &&
         s.back() != '\t' && s.back() != '\r';
}

void FuzzIni(std::string_view text) {
  absl::StatusOr<aws::IniFile> ini = aws::IniFile::Parse(text);
  if (!ini.ok()) {
    CheckErrorMessage(ini.status(), 200);
    Check(Message(ini.status()).find("FUZZMARK") == std::string_view::npos, "INI error quotes");
    return;
  }
  std::string again;
  for (const auto& [name, section] : ini->sections()) {
    Check(Trimmed(name), "section name not trimmed");
    Check(name.find(']') == std::string::npos && name.find('\n') == std::string::npos,
          "section name has ']' or a newline");
    again += "[" + name + "]\n";
    for (const auto& [key, value] : section) {
      Check(Trimmed(key), "key not trimmed");
      Check(key == absl::AsciiStrToLower(key), "key not lower case");
      std::string v = value;
      for (size_t i = 0; (i = v.find('\n', i)) != std::string::npos; i += 2) v.insert(i + 1, " ");
      again += key + " = " + v + "\n";
    }
  }
  absl::StatusOr<aws::IniFile> reparsed = aws::IniFile::Parse(again);
  Check(reparsed.ok(), "re-serialised INI does not parse");
  Check(reparsed->sections() == ini->sections(), "INI is not a fixpoint");
}

void FuzzCommandLine(std::string_view text) {
  absl::StatusOr<std::vector<std::string>> argv = aws::SplitCommandLine(text);
  if (!argv.ok()) {
    CheckErrorMessage(argv.status(), 200);
    return;
  }
  Check(!argv->empty(), "empty argv");
  std::string quoted;
  for (const std::string& a : *argv) {
    quoted += "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "' ";
  }
  absl::StatusOr<std::vector<std::string>> again = aws::SplitCommandLine(quoted);
  Check(again.ok() && *again == *argv, "argv is not a fixpoint of quoting");
}

void FuzzProcessOutput(std::string_view text) {
  absl::StatusOr<aws::RoleCredentials> c = aws::ParseProcessCredentials(text);
  if (!c.ok()) {
    CheckErrorMessage(c.status(), 300);
    Check(Message(c.status()).find("FUZZMARK") == std::string_view::npos, "process error quotes");
    return;
  }
  Check(!c->access_key_id.empty() && !c->secret_access_key.empty(), "empty credentials");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzIni(text);
  FuzzCommandLine(text);
  FuzzProcessOutput(text);
  return 0;
}
