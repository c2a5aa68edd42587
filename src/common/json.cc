#include "src/common/json.h"

#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"

namespace lockout {

absl::Status RejectNulBytes(std::string_view text) {
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("json: NUL byte at offset ", nul));
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, size_t max_bytes, int max_depth) {
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
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("json: malformed document");
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
