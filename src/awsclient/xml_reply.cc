#include "src/awsclient/xml_reply.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/secret_bytes.h"
#include "src/common/strings.h"

namespace lockout::awsclient {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  absl::StatusOr<XmlElement> Document() {
    SkipSpace();
    if (Starts("<?xml")) {
      const size_t end = s_.find("?>", pos_);
      if (end == std::string_view::npos) return Error("unterminated XML declaration");
      pos_ = end + 2;
    }
    if (absl::Status s = SkipMisc(); !s.ok()) return s;
    if (!Starts("<")) return Error("expected the root element");
    XmlElement root;
    if (absl::Status s = Element(root, 1); !s.ok()) return s;
    if (absl::Status s = SkipMisc(); !s.ok()) return s;
    if (pos_ != s_.size()) return Error("content after the root element");
    return root;
  }

 private:
  absl::Status Error(std::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed XML at byte ", pos_, ": ", Absl(why)));
  }
  bool Starts(std::string_view p) const { return s_.substr(pos_).starts_with(p); }
  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  absl::Status SkipComment() {
    const size_t end = s_.find("-->", pos_ + 4);
    if (end == std::string_view::npos) return Error("unterminated comment");
    pos_ = end + 3;
    return absl::OkStatus();
  }
  // Whitespace and comments outside the root element.
  absl::Status SkipMisc() {
    for (;;) {
      SkipSpace();
      if (Starts("<!--")) {
        if (absl::Status s = SkipComment(); !s.ok()) return s;
        continue;
      }
      if (Starts("<!") || Starts("<?")) return Error("DOCTYPE and processing instructions refused");
      return absl::OkStatus();
    }
  }
  absl::StatusOr<std::string> Name() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    if (pos_ == start || pos_ - start > 256) return Error("bad name");
    std::string_view name = s_.substr(start, pos_ - start);
    const size_t colon = name.rfind(':');
    if (colon != std::string_view::npos) name.remove_prefix(colon + 1);
    if (name.empty()) return Error("bad name");
    return std::string(name);
  }
  // Appends the character data up to the next '<', entities decoded.
  absl::Status Text(std::string& out) {
    while (pos_ < s_.size() && s_[pos_] != '<') {
      const char c = s_[pos_];
      if (c != '&') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      const size_t semi = s_.find(';', pos_);
      if (semi == std::string_view::npos || semi - pos_ > 10) return Error("bad entity");
      std::string_view e = s_.substr(pos_ + 1, semi - pos_ - 1);
      if (e == "lt") {
        out.push_back('<');
      } else if (e == "gt") {
        out.push_back('>');
      } else if (e == "amp") {
        out.push_back('&');
      } else if (e == "quot") {
        out.push_back('"');
      } else if (e == "apos") {
        out.push_back('\'');
      } else if (e.size() >= 2 && e[0] == '#') {
        const bool hex = e[1] == 'x';
        std::string_view digits = e.substr(hex ? 2 : 1);
        if (digits.empty()) return Error("bad character reference");
        unsigned value = 0;
        for (char d : digits) {
          int v = -1;
          if (d >= '0' && d <= '9') v = d - '0';
          if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
          if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
          if (v < 0) return Error("bad character reference");
          value = value * (hex ? 16u : 10u) + static_cast<unsigned>(v);
          if (value > 0x7f) return Error("character reference outside ASCII");
        }
        if (value == 0) return Error("character reference to NUL");
        out.push_back(static_cast<char>(value));
      } else {
        return Error("unknown entity");
      }
      pos_ = semi + 1;
    }
    return absl::OkStatus();
  }
  // pos_ is at '<' of a start tag.
  absl::Status Element(XmlElement& el, int depth) {
    if (depth > kMaxXmlDepth) return Error("nested too deeply");
    if (++elements_ > kMaxXmlElements) return Error("too many elements");
    ++pos_;
    absl::StatusOr<std::string> name = Name();
    if (!name.ok()) return name.status();
    el.name = *std::move(name);
    // Attributes: name="value" or name='value', read past.
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size()) return Error("unterminated start tag");
      if (Starts("/>")) {
        pos_ += 2;
        return absl::OkStatus();
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      absl::StatusOr<std::string> attribute = Name();
      if (!attribute.ok()) return attribute.status();
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '=') return Error("attribute without '='");
      ++pos_;
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
        return Error("attribute value not quoted");
      }
      const char quote = s_[pos_];
      const size_t end = s_.find(quote, pos_ + 1);
      if (end == std::string_view::npos) return Error("unterminated attribute value");
      if (s_.substr(pos_ + 1, end - pos_ - 1).find('<') != std::string_view::npos) {
        return Error("'<' in an attribute value");
      }
      pos_ = end + 1;
    }
    // Content.
    for (;;) {
      if (absl::Status s = Text(el.text); !s.ok()) return s;
      if (pos_ >= s_.size()) return Error("unterminated element");
      if (Starts("</")) {
        pos_ += 2;
        absl::StatusOr<std::string> end_name = Name();
        if (!end_name.ok()) return end_name.status();
        if (*end_name != el.name) return Error("end tag does not match its start tag");
        SkipSpace();
        if (pos_ >= s_.size() || s_[pos_] != '>') return Error("unterminated end tag");
        ++pos_;
        return absl::OkStatus();
      }
      if (Starts("<!--")) {
        if (absl::Status s = SkipComment(); !s.ok()) return s;
        continue;
      }
      if (Starts("<![CDATA[")) {
        const size_t end = s_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return Error("unterminated CDATA");
        el.text.append(s_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
        continue;
      }
      if (Starts("<!") || Starts("<?")) return Error("DOCTYPE and processing instructions refused");
      XmlElement child;
      if (absl::Status s = Element(child, depth + 1); !s.ok()) return s;
      el.children.push_back(std::move(child));
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

}  // namespace

XmlElement::~XmlElement() { WipeString(text); }

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

const XmlElement* XmlElement::Find(std::initializer_list<std::string_view> path) const {
  const XmlElement* e = this;
  for (std::string_view step : path) {
    e = e->Child(step);
    if (e == nullptr) return nullptr;
  }
  return e;
}

absl::StatusOr<XmlElement> ParseXml(std::string_view text) {
  if (text.size() > kMaxXmlBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("XML document larger than ", kMaxXmlBytes, " bytes (", text.size(), ")"));
  }
  return Parser(text).Document();
}

}  // namespace lockout::awsclient
