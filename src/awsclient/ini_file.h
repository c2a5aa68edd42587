#pragma once

// The INI dialect of the AWS shared config and credentials files (~/.aws/config,
// ~/.aws/credentials), as the AWS CLI reads them:
//
//   # comment            (also "; comment"; whole lines only, optionally indented)
//   [section name]       surrounding whitespace of the name is dropped; a comment may follow
//   key = value          keys are lower-cased; key and value are trimmed; the first '=' splits
//     sub = value        an indented line continues the previous key's value ("\n" + the line),
//                        the form of nested settings such as "s3 =" followed by indented lines
//
// A section named twice is merged; a key repeated in a section keeps its last value. Blank lines
// are ignored; "\r\n" line ends are accepted.
//
// Untrusted-ish input (a file anyone could have written into the home directory): a line that
// is none of these, a key before any section, an empty section name or key, an indented line with
// no key before it, a NUL byte, or more than kMaxIniBytes is InvalidArgument naming the line
// NUMBER and the rule, never the line's text (the credentials file holds secret keys).
// Values are wiped when the IniFile is destroyed.
// Thread-safety: an IniFile is immutable after parsing; concurrent reads are fine.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lockout::awsclient {

inline constexpr size_t kMaxIniBytes = 1 << 20;

class IniFile final {
 public:
  using Section = std::map<std::string, std::string>;

  IniFile() = default;
  IniFile(IniFile&& other) noexcept = default;
  IniFile& operator=(IniFile&& other) noexcept;
  IniFile(const IniFile&) = delete;
  IniFile& operator=(const IniFile&) = delete;
  ~IniFile();

  static absl::StatusOr<IniFile> Parse(std::string_view text);

  // The section named `name` (exactly, after trimming), nullptr when absent.
  const Section* Find(std::string_view name) const;
  const std::map<std::string, Section, std::less<>>& sections() const { return sections_; }

 private:
  void Wipe();

  std::map<std::string, Section, std::less<>> sections_;
};

}  // namespace lockout::awsclient
