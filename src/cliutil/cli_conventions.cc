// CLI11 adapter: CLI11 reports parse errors as exceptions with its own exit codes (100-120);
// every lockout binary reports them as usage errors, exit 2, with the closest command or flag.

#include "src/cliutil/cli_conventions.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/file.h"
#include "src/common/strings.h"

namespace lockout::cliutil {
namespace {

std::string_view StripDashes(std::string_view s) {
  while (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return s;
}

// "lockout sign": the program and the chain of parsed subcommands down to `app`.
std::string CommandPath(const CLI::App* app, std::string_view program) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a != nullptr && a->get_parent() != nullptr; a = a->get_parent()) {
    names.push_back(a->get_name());
  }
  std::reverse(names.begin(), names.end());
  std::string path(program);
  for (const std::string& n : names) absl::StrAppend(&path, " ", n);
  return path;
}

// The parsed subcommands from the root down, the root first.
std::vector<const CLI::App*> ParsedChain(const CLI::App& root) {
  std::vector<const CLI::App*> chain = {&root};
  for (;;) {
    std::vector<CLI::App*> subs = chain.back()->get_subcommands();
    if (subs.empty()) break;
    chain.push_back(subs.back());
  }
  return chain;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands({})) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

std::vector<std::string> FlagNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app->get_options()) {
    for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
    for (const std::string& n : opt->get_snames()) names.push_back("-" + n);
  }
  return names;
}

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> match = ClosestMatch(word, candidates);
  return match ? absl::StrCat("; did you mean ", *match, "?") : "";
}

// CLI11's message, lower-cased at the start ("A subcommand is required" reads better after a
// colon as "a subcommand ...").
std::string Cli11Message(const CLI::ParseError& error) {
  std::string message = error.what();
  if (!message.empty() && message[0] >= 'A' && message[0] <= 'Z' &&
      (message.size() < 2 || !(message[1] >= 'A' && message[1] <= 'Z'))) {
    message[0] = static_cast<char>(message[0] - 'A' + 'a');
  }
  return message;
}

}  // namespace

void AddVersionFlag(CLI::App& app, std::string_view program) {
  app.set_version_flag("--version", VersionText(program),
                       "Print the version and the git commit it was built from, and exit");
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // d[i][j]: distance between a[0, i) and b[0, j); three rows suffice for transpositions.
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  const std::string_view bare = StripDashes(word);
  if (bare.empty()) return std::nullopt;
  const size_t limit = std::clamp<size_t>(bare.size() / 3, 1, 3);
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(bare, StripDashes(c));
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string UsageErrorMessage(const CLI::App& app, const CLI::ParseError& error,
                              std::string_view program) {
  const std::vector<const CLI::App*> chain = ParsedChain(app);
  const CLI::App* deepest = chain.back();
  // The first argument no command or option took, reported by the (sub)command that could not
  // place it: an option is compared with its flags, a word with its subcommands.
  for (const CLI::App* owner : chain) {
    const std::string path = CommandPath(owner, program);
    for (const std::string& arg : owner->remaining()) {
      if (arg.size() > 1 && arg[0] == '-') {
        const std::string flag = arg.substr(0, arg.find('='));
        return absl::StrCat(path, ": unknown option ", flag, Suggest(flag, FlagNames(owner)),
                            " (see ", path, " --help)");
      }
      const std::vector<std::string> commands = SubcommandNames(owner);
      if (!commands.empty()) {
        return absl::StrCat(path, ": unknown command '", arg, "'", Suggest(arg, commands), " (see ",
                            path, " --help)");
      }
      return absl::StrCat(path, ": unexpected argument '", arg, "' (see ", path, " --help)");
    }
  }
  if (error.get_name() == "RequiredError" && !SubcommandNames(deepest).empty() &&
      deepest->get_subcommands().empty()) {
    return absl::StrCat(CommandPath(deepest, program),
                        ": a command is required: ", absl::StrJoin(SubcommandNames(deepest), ", "),
                        " (see ", CommandPath(deepest, program), " --help)");
  }
  return absl::StrCat(CommandPath(deepest, program), ": ", Cli11Message(error), " (see ",
                      CommandPath(deepest, program), " --help)");
}

std::optional<int> Parse(CLI::App& app, int argc, char** argv, std::string_view program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help (on stdout), --version: CLI11 prints them, exit 0
  } catch (const CLI::ParseError& e) {
    std::cerr << UsageErrorMessage(app, e, program) << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

int ReportUsageError(std::string_view program, std::string_view message) {
  std::cerr << program << ": " << message << "\n";
  return kExitUsage;
}

int ReportFailure(std::string_view program, std::string_view message) {
  std::cerr << program << ": " << message << "\n";
  return kExitFailed;
}

bool ParseOnly() {
  const char* v = std::getenv("LOCKOUT_PARSE_ONLY");
  return v != nullptr && std::string_view(v) == "1";
}

absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes) {
  if (path != "-") return ReadFileString(path, max_bytes);
  std::string data;
  char buffer[1 << 14];
  for (;;) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), stdin);
    if (data.size() + n > max_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("standard input is longer than ", max_bytes, " bytes"));
    }
    data.append(buffer, n);
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(stdin)) return absl::DataLossError("cannot read standard input");
  return data;
}

}  // namespace lockout::cliutil
