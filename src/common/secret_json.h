#pragma once

// SecretJson: a JSON document (RFC 8259) whose strings are decoded straight into secret memory,
// for documents from a peer that carry credentials (the relay's get_secret reply).
//
//   ASSIGN_OR_RETURN(SecretJson doc, SecretJson::Parse(frame.RevealAsString(), kMaxReplySize));
//   const SecretJson* key = doc.Find("secret_access_key");
//   if (key == nullptr || !key->is_string()) return ...;
//   SecretBytes secret = SecretBytes::CopyFrom(key->RevealString());
//
// Why not nlohmann::json (src/common/json.h) for such documents: its lexer collects every string
// in a growable std::string and keeps the raw token for error messages, so each secret leaves
// unwiped copies in freed heap blocks however carefully the finished tree is wiped. Here every
// string is decoded once, in place, into one SecretBytes arena owned by the document (its size is
// the text's: decoding never lengthens a string), wiped when the document is destroyed. One arena
// rather than a SecretBytes per string: each SecretBytes takes a page, and a hostile document of
// many short strings must not cost a page apiece.
//
// Parse accepts exactly RFC 8259 JSON text: one value with optional whitespace around it;
// strings must be valid UTF-8 without raw control characters, escapes include \uXXXX surrogate
// pairs (a lone surrogate is refused). Limits, checked before anything is built: at most
// `max_bytes` of text and `max_depth` nested arrays/objects. Duplicate member names in one
// object are refused (a reply must not be read two ways). Numbers are checked against the grammar
// and kept as their text (number_text(); numbers carry no secrets in the documents read here).
//
// Errors: InvalidArgument "json: <what> at offset N" - never any of the text.
// Member names are kept in std::string: they are field names, not values.
// Thread-safety: a parsed document is immutable; concurrent reads are fine.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/common/json.h"
#include "src/common/secret_bytes.h"

namespace lockout {

class SecretJson final {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  struct Member;

  static absl::StatusOr<SecretJson> Parse(std::string_view text, size_t max_bytes = 1 << 20,
                                          int max_depth = kMaxJsonDepth);

  SecretJson() = default;
  SecretJson(SecretJson&&) noexcept = default;
  SecretJson& operator=(SecretJson&&) noexcept = default;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // kBool: its value (false for other types).
  bool boolean() const { return boolean_; }
  // kNumber: the number as written ("1", "-2.5e3"); empty for other types.
  std::string_view number_text() const { return number_text_; }
  // kString: the decoded value, in the document's secret memory (valid while the root document
  // lives); empty for other types. Copy it into SecretBytes to keep it.
  std::string_view RevealString() const { return std::string_view(string_data_, string_size_); }
  // kArray: the elements in order (empty for other types).
  const std::vector<SecretJson>& elements() const { return elements_; }
  // kObject: the members in document order (empty for other types).
  const std::vector<Member>& members() const { return members_; }
  // kObject: the member named `name`, or null (also for other types).
  const SecretJson* Find(std::string_view name) const;

 private:
  friend class SecretJsonParser;

  Type type_ = Type::kNull;
  bool boolean_ = false;
  const char* string_data_ = nullptr;  // in the root's arena_
  size_t string_size_ = 0;
  std::string number_text_;
  SecretBytes arena_;  // the root's: every decoded string
  std::vector<SecretJson> elements_;
  std::vector<Member> members_;
};

struct SecretJson::Member {
  std::string name;
  SecretJson value;
};

}  // namespace lockout
