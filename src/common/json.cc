#include "src/common/json.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"

namespace lockout {

absl::Status RejectNulBytes(std::string_view text) {
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("json: NUL byte at offset ", nul));
  }
  return absl::OkStatus();
}

namespace {

// The size, NUL and depth bounds, checked before nlohmann builds anything.
absl::Status CheckBounds(std::string_view text, size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: ", text.size(), " bytes exceeds the limit of ", max_bytes));
  }
  if (absl::Status nul = RejectNulBytes(text); !nul.ok()) return nul;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError(
            absl::StrCat("json: nesting deeper than ", max_depth, " at offset ", i));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes, int max_depth) {
  if (absl::Status bounds = CheckBounds(text, max_bytes, max_depth); !bounds.ok()) return bounds;
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("json: malformed document");
  return j;
}

absl::StatusOr<nlohmann::json> ParseJsonStrict(std::string_view text, size_t max_bytes,
                                               int max_depth) {
  if (absl::Status bounds = CheckBounds(text, max_bytes, max_depth); !bounds.ok()) return bounds;
  // One set of member names per open object; a name seen twice in the same object is recorded
  // (by the offset the lexer has reached) and the parse carries on to its end.
  std::vector<std::set<std::string>> open_objects;
  std::optional<size_t> duplicate_at;
  size_t members_seen = 0;
  nlohmann::json::parser_callback_t callback =
      [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
          open_objects.emplace_back();
        } else if (event == Event::object_end) {
          if (!open_objects.empty()) open_objects.pop_back();
        } else if (event == Event::key) {
          ++members_seen;
          if (!open_objects.empty() && parsed.is_string() &&
              !open_objects.back().insert(parsed.get<std::string>()).second && !duplicate_at) {
            duplicate_at = members_seen;
          }
        }
        return true;
      };
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), callback,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("json: malformed document");
  if (duplicate_at.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: duplicate member name (member #", *duplicate_at, " of the document)"));
  }
  return j;
}

void WipeJsonStrings(nlohmann::json& json) {
  if (json.is_string()) {
    WipeString(json.get_ref<std::string&>());
  } else if (json.is_structured()) {
    for (auto& item : json) WipeJsonStrings(item);
  }
}

}  // namespace lockout
