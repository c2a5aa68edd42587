#pragma once

// Small checks shared by the fuzz targets (header-only, fuzz builds only).

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace lockout::fuzz {

// Aborts (a libFuzzer crash, with `what` on stderr) when `condition` is false.
inline void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// A status's message as a std::string_view (Abseil's string_view is its own type here).
inline std::string_view Message(const absl::Status& status) {
  return std::string_view(status.message().data(), status.message().size());
}

// True if every byte is printable ASCII.
inline bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// An error from a parser of untrusted input: not OK, printable ASCII, at most `max_size` bytes
// (messages name fields, sizes and offsets; they never carry the input).
inline void CheckErrorMessage(const absl::Status& status, size_t max_size) {
  Check(!status.ok(), "error status is OK");
  Check(IsPrintableAscii(Message(status)), "error message is not printable ASCII");
  Check(Message(status).size() <= max_size, "error message is too long");
}

// `secret` (a value a reply carried in a secret field) does not appear in `status`'s message.
// Checked only for values of 12+ bytes holding a character that no fixed message text uses
// ('+' and '=' are common in base64), so a value that happens to spell field names or message
// words cannot raise a false alarm.
inline void CheckNotQuoted(const absl::Status& status, std::string_view secret) {
  if (secret.size() < 12 || secret.find_first_of("+=#$%&*!<>[]{}~^|;") == std::string_view::npos) {
    return;
  }
  Check(Message(status).find(secret) == std::string_view::npos,
        "error message quotes a secret field's value");
}

// True if every string inside `j` (object keys excepted) is empty: what WipeJsonStrings leaves.
template <typename Json>
bool AllStringsEmpty(const Json& j) {
  if (j.is_string()) return j.template get_ref<const std::string&>().empty();
  if (j.is_structured()) {
    for (const auto& item : j) {
      if (!AllStringsEmpty(item)) return false;
    }
  }
  return true;
}

// The string at `j[key]` if `j` is an object holding a string there, else "".
inline std::string_view StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

}  // namespace lockout::fuzz
