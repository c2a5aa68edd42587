#include "src/common/secret_json.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lockout {

// A recursive-descent walk over the text with one cursor. Every read checks the cursor against
// the end first; recursion is bounded by max_depth; strings are decoded into the arena, whose
// size (the text's) bounds every write: a decoded string is never longer than its JSON form.
class SecretJsonParser final {
 public:
  SecretJsonParser(std::string_view text, int max_depth)
      : text_(text), max_depth_(max_depth), arena_(text.size()) {}

  absl::StatusOr<SecretJson> Document() {
    SkipWhitespace();
    SecretJson value;
    if (absl::Status s = Value(value, 0); !s.ok()) return s;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("trailing data");
    value.arena_ = std::move(arena_);  // the pointers into it stay valid: same allocation
    return value;
  }

 private:
  absl::Status Error(std::string_view what) const { return ErrorAt(what, pos_); }
  static absl::Status ErrorAt(std::string_view what, size_t offset) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: ", std::string(what), " at offset ", offset));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  uint8_t Peek() const { return static_cast<uint8_t>(text_[pos_]); }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  absl::Status Value(SecretJson& out, int depth) {
    if (AtEnd()) return Error("unexpected end of input");
    switch (Peek()) {
      case '{':
        return Object(out, depth + 1);
      case '[':
        return Array(out, depth + 1);
      case '"': {
        out.type_ = SecretJson::Type::kString;
        absl::StatusOr<std::string_view> decoded = String();
        if (!decoded.ok()) return decoded.status();
        out.string_data_ = decoded->data();
        out.string_size_ = decoded->size();
        return absl::OkStatus();
      }
      case 't':
        out.type_ = SecretJson::Type::kBool;
        out.boolean_ = true;
        return Literal("true");
      case 'f':
        out.type_ = SecretJson::Type::kBool;
        return Literal("false");
      case 'n':
        out.type_ = SecretJson::Type::kNull;
        return Literal("null");
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          out.type_ = SecretJson::Type::kNumber;
          const size_t start = pos_;
          absl::Status s = Number();
          if (s.ok()) out.number_text_ = std::string(text_.substr(start, pos_ - start));
          return s;
        }
        return Error("unexpected character");
    }
  }

  absl::Status Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Error("invalid literal");
    pos_ += word.size();
    return absl::OkStatus();
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  absl::Status Number() {
    const auto digit = [this] { return !AtEnd() && Peek() >= '0' && Peek() <= '9'; };
    const auto digits = [&] {
      if (!digit()) return false;
      while (digit()) ++pos_;
      return true;
    };
    if (Peek() == '-') ++pos_;
    if (!AtEnd() && Peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      return Error("invalid number");
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (!digits()) return Error("invalid number fraction");
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (!digits()) return Error("invalid number exponent");
    }
    return absl::OkStatus();
  }

  absl::Status Array(SecretJson& out, int depth) {
    if (depth > max_depth_) return Error("nesting too deep");
    out.type_ = SecretJson::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      SecretJson element;
      if (absl::Status s = Value(element, depth); !s.ok()) return s;
      out.elements_.push_back(std::move(element));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated array");
      if (Peek() == ']') {
        ++pos_;
        return absl::OkStatus();
      }
      if (Peek() != ',') return Error("expected ',' or ']'");
      ++pos_;
      SkipWhitespace();
    }
  }

  absl::Status Object(SecretJson& out, int depth) {
    if (depth > max_depth_) return Error("nesting too deep");
    out.type_ = SecretJson::Type::kObject;
    const size_t start = pos_;
    ++pos_;  // '{'
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return absl::OkStatus();
    }
    while (true) {
      if (AtEnd() || Peek() != '"') return Error("expected a member name");
      absl::StatusOr<std::string_view> name = String();
      if (!name.ok()) return name.status();
      SecretJson::Member member{std::string(*name), SecretJson()};
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("expected ':'");
      ++pos_;
      SkipWhitespace();
      if (absl::Status s = Value(member.value, depth); !s.ok()) return s;
      out.members_.push_back(std::move(member));
      SkipWhitespace();
      if (AtEnd()) return Error("unterminated object");
      if (Peek() == '}') {
        ++pos_;
        return CheckUniqueNames(out, start);
      }
      if (Peek() != ',') return Error("expected ',' or '}'");
      ++pos_;
      SkipWhitespace();
    }
  }

  // Sorting the names finds a duplicate in O(n log n); a linear search per member would let a
  // large object cost quadratic time.
  static absl::Status CheckUniqueNames(const SecretJson& object, size_t start) {
    std::vector<std::string_view> names;
    names.reserve(object.members_.size());
    for (const SecretJson::Member& m : object.members_) names.push_back(m.name);
    std::sort(names.begin(), names.end());
    if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
      return ErrorAt("duplicate member name in the object", start);
    }
    return absl::OkStatus();
  }

  // The string starting at pos_ (on its opening quote), decoded into the arena; pos_ ends after
  // the closing quote.
  absl::StatusOr<std::string_view> String() {
    // The arena has one byte per byte of text and every string is decoded to at most the length
    // of its JSON form minus its quotes, so the remaining arena always suffices.
    uint8_t* out = arena_.RevealMutable().data() + arena_used_;
    absl::StatusOr<size_t> size = DecodeString(pos_, out);
    if (!size.ok()) return size.status();
    arena_used_ += *size;
    return std::string_view(reinterpret_cast<const char*>(out), *size);
  }

  static size_t PutUtf8(uint32_t cp, uint8_t* out) {
    uint8_t buf[4];
    size_t n;
    if (cp < 0x80) {
      buf[0] = static_cast<uint8_t>(cp);
      n = 1;
    } else if (cp < 0x800) {
      buf[0] = static_cast<uint8_t>(0xc0 | (cp >> 6));
      buf[1] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
      n = 2;
    } else if (cp < 0x10000) {
      buf[0] = static_cast<uint8_t>(0xe0 | (cp >> 12));
      buf[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3f));
      buf[2] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
      n = 3;
    } else {
      buf[0] = static_cast<uint8_t>(0xf0 | (cp >> 18));
      buf[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3f));
      buf[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3f));
      buf[3] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
      n = 4;
    }
    for (size_t i = 0; i < n; ++i) out[i] = buf[i];
    WipeBytes(buf, sizeof(buf));
    return n;
  }

  // Four hex digits at `at`, or nullopt.
  std::optional<uint32_t> Hex4(size_t at) const {
    if (at > text_.size() || text_.size() - at < 4) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = at; i < at + 4; ++i) {
      const char c = text_[i];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      v = v << 4 | d;
    }
    return v;
  }

  // Length of one well-formed UTF-8 sequence starting at `at` (RFC 3629 §4: no overlongs, no
  // surrogates, nothing above U+10FFFF), or 0.
  size_t Utf8SequenceAt(size_t at) const {
    const auto byte = [this](size_t i) { return static_cast<uint8_t>(text_[i]); };
    const uint8_t b0 = byte(at);
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      n = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      n = 3;
      if (b0 == 0xe0) lo = 0xa0;
      if (b0 == 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      n = 4;
      if (b0 == 0xf0) lo = 0x90;
      if (b0 == 0xf4) hi = 0x8f;
    } else {
      return 0;
    }
    if (text_.size() - at < n) return 0;
    if (byte(at + 1) < lo || byte(at + 1) > hi) return 0;
    for (size_t i = 2; i < n; ++i) {
      if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
    }
    return n;
  }

  // Walks the string whose opening quote is at `start`, validating it and writing the decoded
  // bytes to `out` (room for text_.size() - start - 2 bytes at least); returns how many.
  // pos_ ends after the closing quote.
  absl::StatusOr<size_t> DecodeString(size_t start, uint8_t* out) {
    size_t i = start + 1;
    size_t n = 0;
    while (true) {
      if (i >= text_.size()) return ErrorAt("unterminated string", start);
      const uint8_t c = static_cast<uint8_t>(text_[i]);
      if (c == '"') break;
      if (c < 0x20) return ErrorAt("control character in string", i);
      if (c >= 0x80) {
        const size_t len = Utf8SequenceAt(i);
        if (len == 0) return ErrorAt("invalid UTF-8 in string", i);
        for (size_t k = 0; k < len; ++k) out[n + k] = static_cast<uint8_t>(text_[i + k]);
        n += len;
        i += len;
        continue;
      }
      if (c != '\\') {
        out[n] = c;
        ++n;
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) return ErrorAt("unterminated string", start);
      const char e = text_[i + 1];
      char simple = 0;
      switch (e) {
        case '"':
          simple = '"';
          break;
        case '\\':
          simple = '\\';
          break;
        case '/':
          simple = '/';
          break;
        case 'b':
          simple = '\b';
          break;
        case 'f':
          simple = '\f';
          break;
        case 'n':
          simple = '\n';
          break;
        case 'r':
          simple = '\r';
          break;
        case 't':
          simple = '\t';
          break;
        case 'u':
          break;
        default:
          return ErrorAt("invalid escape in string", i);
      }
      if (simple != 0) {
        out[n] = static_cast<uint8_t>(simple);
        ++n;
        i += 2;
        continue;
      }
      std::optional<uint32_t> cp = Hex4(i + 2);
      if (!cp.has_value()) return ErrorAt("invalid \\u escape in string", i);
      size_t consumed = 6;
      if (*cp >= 0xdc00 && *cp <= 0xdfff) return ErrorAt("lone low surrogate in string", i);
      if (*cp >= 0xd800 && *cp <= 0xdbff) {
        // RFC 8259 §7: a character outside the BMP is a UTF-16 surrogate pair of escapes.
        std::optional<uint32_t> low;
        if (i + 7 < text_.size() && text_[i + 6] == '\\' && text_[i + 7] == 'u') low = Hex4(i + 8);
        if (!low.has_value() || *low < 0xdc00 || *low > 0xdfff) {
          return ErrorAt("lone high surrogate in string", i);
        }
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (*low - 0xdc00);
        consumed = 12;
      }
      n += PutUtf8(*cp, out + n);
      i += consumed;
    }
    pos_ = i + 1;
    return n;
  }

  const std::string_view text_;
  const int max_depth_;
  SecretBytes arena_;
  size_t arena_used_ = 0;
  size_t pos_ = 0;
};

absl::StatusOr<SecretJson> SecretJson::Parse(std::string_view text, size_t max_bytes,
                                             int max_depth) {
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: ", text.size(), " bytes exceeds the limit of ", max_bytes));
  }
  return SecretJsonParser(text, max_depth).Document();
}

const SecretJson* SecretJson::Find(std::string_view name) const {
  for (const Member& m : members_) {
    if (m.name == name) return &m.value;
  }
  return nullptr;
}

}  // namespace lockout
