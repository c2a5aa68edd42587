#include "src/awsclient/ini_file.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

absl::Status LineError(size_t line, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", Absl(why)));
}

}  // namespace

IniFile& IniFile::operator=(IniFile&& other) noexcept {
  if (this != &other) {
    Wipe();
    sections_ = std::move(other.sections_);
  }
  return *this;
}

IniFile::~IniFile() { Wipe(); }

void IniFile::Wipe() {
  for (auto& [name, section] : sections_) {
    for (auto& [key, value] : section) WipeString(value);
  }
  sections_.clear();
}

const IniFile::Section* IniFile::Find(std::string_view name) const {
  auto it = sections_.find(name);
  return it == sections_.end() ? nullptr : &it->second;
}

absl::StatusOr<IniFile> IniFile::Parse(std::string_view text) {
  if (text.size() > kMaxIniBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("file is larger than ", kMaxIniBytes, " bytes (", text.size(), ")"));
  }
  if (text.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("file contains a NUL byte (not a text file)");
  }
  IniFile ini;
  Section* section = nullptr;
  std::string* last_value = nullptr;  // the value an indented line continues
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = TrimSpace(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (indented && line.front() != '[') {
      if (last_value == nullptr) {
        return LineError(line_number, "indented line continues no setting");
      }
      absl::StrAppend(last_value, "\n", Absl(line));
      continue;
    }
    if (line.front() == '[') {
      const size_t close = line.find(']');
      if (close == std::string_view::npos) return LineError(line_number, "section without ']'");
      std::string_view rest = TrimSpace(line.substr(close + 1));
      if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
        return LineError(line_number, "text after a section's ']'");
      }
      std::string_view name = TrimSpace(line.substr(1, close - 1));
      if (name.empty()) return LineError(line_number, "empty section name");
      section = &ini.sections_[std::string(name)];
      last_value = nullptr;
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return LineError(line_number, "expected \"[section]\" or \"key = value\"");
    }
    if (section == nullptr) return LineError(line_number, "setting before any [section]");
    std::string key = absl::AsciiStrToLower(Absl(TrimSpace(line.substr(0, eq))));
    if (key.empty()) return LineError(line_number, "empty key");
    std::string& value = (*section)[key];
    WipeString(value);
    value = std::string(TrimSpace(line.substr(eq + 1)));
    last_value = &value;
  }
  return ini;
}

}  // namespace lockout::awsclient
