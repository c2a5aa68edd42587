#include "src/measure/proc_text.h"

#include <limits>

#include "absl/strings/str_cat.h"

// Formats parsed here, as the kernel writes them (fs/proc/task_mmu.c, fs/proc/array.c):
//   maps    "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " padded with spaces to a column, then the
//           path (newlines in names escaped as \012) or a pseudo name, or nothing
//   smaps   each maps line followed by "Name:   <n> kB" lines, and "VmFlags: rd ex ..." lines
//   status  "Name:\tvalue" lines
//   stat    "pid (comm) state ppid ... starttime ..." space-separated on one line
namespace lockout::measure {
namespace {

constexpr size_t kMaxHexDigits = 16;

absl::Status Malformed(std::string_view file, size_t line_no, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed ", absl::string_view(file.data(), file.size()), " at line ", line_no,
                   ": ", absl::string_view(what.data(), what.size())));
}

std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.empty() || s.size() > kMaxHexDigits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Takes the next space-delimited token from `s` (which must start with it) and the one space
// after it.
std::optional<std::string_view> NextToken(std::string_view& s) {
  const size_t space = s.find(' ');
  if (space == 0 || space == std::string_view::npos) return std::nullopt;
  std::string_view token = s.substr(0, space);
  s.remove_prefix(space + 1);
  return token;
}

// Calls `f(line, line_no)` for every newline-terminated line; a missing final newline is
// truncation.
template <typename F>
absl::Status ForEachLine(std::string_view text, std::string_view file, F f) {
  if (!text.empty() && text.back() != '\n') {
    return absl::InvalidArgumentError(absl::StrCat(absl::string_view(file.data(), file.size()),
                                                   " is truncated (no final newline)"));
  }
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    ++line_no;
    absl::Status s = f(text.substr(0, nl), line_no);
    if (!s.ok()) return s;
    text.remove_prefix(nl + 1);
  }
  return absl::OkStatus();
}

absl::StatusOr<Mapping> ParseMapsLine(std::string_view line, size_t line_no) {
  constexpr std::string_view kFile = "maps";
  Mapping m;
  std::optional<std::string_view> range = NextToken(line);
  if (!range) return Malformed(kFile, line_no, "no address range");
  const size_t dash = range->find('-');
  if (dash == std::string_view::npos) return Malformed(kFile, line_no, "no '-' in the range");
  std::optional<uint64_t> start = ParseHex(range->substr(0, dash));
  std::optional<uint64_t> end = ParseHex(range->substr(dash + 1));
  if (!start || !end || *end < *start) return Malformed(kFile, line_no, "bad address range");
  m.start = *start;
  m.end = *end;

  std::optional<std::string_view> perms = NextToken(line);
  if (!perms || perms->size() != 4) return Malformed(kFile, line_no, "bad permissions");
  auto flag = [&](size_t i, char set) -> std::optional<bool> {
    if ((*perms)[i] == set) return true;
    if ((*perms)[i] == '-') return false;
    return std::nullopt;
  };
  std::optional<bool> r = flag(0, 'r'), w = flag(1, 'w'), x = flag(2, 'x');
  if (!r || !w || !x || ((*perms)[3] != 'p' && (*perms)[3] != 's')) {
    return Malformed(kFile, line_no, "bad permissions");
  }
  m.readable = *r;
  m.writable = *w;
  m.executable = *x;
  m.shared = (*perms)[3] == 's';

  std::optional<std::string_view> offset = NextToken(line);
  std::optional<uint64_t> offset_value = offset ? ParseHex(*offset) : std::nullopt;
  if (!offset_value) return Malformed(kFile, line_no, "bad offset");
  m.offset = *offset_value;

  std::optional<std::string_view> dev = NextToken(line);
  const size_t colon = dev ? dev->find(':') : std::string_view::npos;
  if (colon == std::string_view::npos) return Malformed(kFile, line_no, "bad device");
  std::optional<uint64_t> major = ParseHex(dev->substr(0, colon));
  std::optional<uint64_t> minor = ParseHex(dev->substr(colon + 1));
  if (!major || !minor || *major > std::numeric_limits<uint32_t>::max() ||
      *minor > std::numeric_limits<uint32_t>::max()) {
    return Malformed(kFile, line_no, "bad device");
  }
  m.dev_major = static_cast<uint32_t>(*major);
  m.dev_minor = static_cast<uint32_t>(*minor);

  // The inode is the last fixed field; with no path the kernel still writes one space after it.
  const size_t space = line.find(' ');
  std::optional<uint64_t> inode = ParseDecimal(line.substr(0, space));
  if (!inode) return Malformed(kFile, line_no, "bad inode");
  m.inode = *inode;
  if (space != std::string_view::npos) {
    std::string_view path = line.substr(space);
    const size_t first = path.find_first_not_of(' ');
    path = first == std::string_view::npos ? std::string_view() : path.substr(first);
    m.path = std::string(path);
  }
  // A file mapping has an inode and an absolute path; anonymous memory has neither, or a
  // bracketed pseudo name ("[heap]", "[vdso]", "[anon:name]").
  if (m.inode != 0 && (m.path.empty() || m.path.front() != '/')) {
    return Malformed(kFile, line_no, "an inode without a path");
  }
  if (!m.path.empty() && m.path.front() != '/' && m.path.front() != '[') {
    return Malformed(kFile, line_no, "a name that is neither a path nor a pseudo name");
  }
  return m;
}

bool IsMapsHeader(std::string_view line) {
  const size_t dash = line.find('-');
  const size_t space = line.find(' ');
  return dash != std::string_view::npos && space != std::string_view::npos && dash < space &&
         ParseHex(line.substr(0, dash)).has_value();
}

// "Name:   <value>" with Name of [A-Za-z0-9_] (smaps and status).
std::optional<std::pair<std::string_view, std::string_view>> SplitField(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = line.substr(0, colon);
  for (char c : name) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return std::nullopt;
  }
  std::string_view value = line.substr(colon + 1);
  const size_t first = value.find_first_not_of(" \t");
  value = first == std::string_view::npos ? std::string_view() : value.substr(first);
  return std::make_pair(name, value);
}

}  // namespace

absl::StatusOr<std::vector<Mapping>> ParseMaps(std::string_view text) {
  std::vector<Mapping> out;
  absl::Status s = ForEachLine(text, "maps", [&](std::string_view line, size_t line_no) {
    if (IsMapsHeader(line)) {
      if (out.size() >= kMaxMappings) {
        return absl::ResourceExhaustedError(
            absl::StrCat("maps has more than ", kMaxMappings, " mappings"));
      }
      absl::StatusOr<Mapping> m = ParseMapsLine(line, line_no);
      if (!m.ok()) return m.status();
      out.push_back(*std::move(m));
      return absl::OkStatus();
    }
    auto field = SplitField(line);
    if (!field || out.empty()) return Malformed("maps", line_no, "neither a mapping nor a field");
    if (field->first != "Anonymous") return absl::OkStatus();
    std::string_view value = field->second;
    if (value.size() < 4 || value.substr(value.size() - 3) != " kB") {
      return Malformed("smaps", line_no, "Anonymous is not in kB");
    }
    std::optional<uint64_t> kb = ParseDecimal(value.substr(0, value.size() - 3));
    if (!kb || out.back().anonymous_kb.has_value()) {
      return Malformed("smaps", line_no, "bad or repeated Anonymous");
    }
    out.back().anonymous_kb = *kb;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

std::vector<std::string> ParseEnviron(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    const size_t nul = bytes.find('\0');
    const std::string_view entry = bytes.substr(0, nul);
    if (!entry.empty()) out.emplace_back(entry);
    if (nul == std::string_view::npos) break;
    bytes.remove_prefix(nul + 1);
  }
  return out;
}

absl::StatusOr<pid_t> ParseTracerPid(std::string_view status) {
  std::optional<uint64_t> tracer;
  absl::Status s = ForEachLine(status, "status", [&](std::string_view line, size_t line_no) {
    auto field = SplitField(line);
    if (!field || field->first != "TracerPid") return absl::OkStatus();
    if (tracer) return Malformed("status", line_no, "TracerPid repeated");
    tracer = ParseDecimal(field->second);
    if (!tracer || *tracer > static_cast<uint64_t>(std::numeric_limits<pid_t>::max())) {
      return Malformed("status", line_no, "TracerPid is not a pid");
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!tracer) return absl::InvalidArgumentError("status has no TracerPid");
  return static_cast<pid_t>(*tracer);
}

absl::StatusOr<uint64_t> ParseStartTime(std::string_view stat) {
  if (stat.empty() || stat.back() != '\n' || stat.find('\n') != stat.size() - 1) {
    return absl::InvalidArgumentError("stat is not one newline-terminated line");
  }
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos || paren + 2 > stat.size() || stat[paren + 1] != ' ') {
    return absl::InvalidArgumentError("stat has no ') ' after the command name");
  }
  std::string_view rest = stat.substr(paren + 2, stat.size() - paren - 3);
  // After "(comm) " come fields 3 (state) .. ; starttime is field 22.
  constexpr int kStartTimeIndex = 22 - 3;
  for (int i = 0; i < kStartTimeIndex; ++i) {
    if (!NextToken(rest)) return absl::InvalidArgumentError("stat has too few fields");
  }
  const size_t space = rest.find(' ');
  std::optional<uint64_t> start = ParseDecimal(rest.substr(0, space));
  if (!start) return absl::InvalidArgumentError("stat's starttime is not a number");
  return *start;
}

}  // namespace lockout::measure
