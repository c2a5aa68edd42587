#pragma once

// Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is a
// distinct type that std::string_view does not convert to. Our APIs use std::string_view; wrap
// one with Absl() where an Abseil function (StrCat, StrSplit, Status) wants absl::string_view.

#include <string_view>

#include "absl/strings/string_view.h"

namespace lockout {

inline absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace lockout
