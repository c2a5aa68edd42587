#pragma once

// A small XML reader for the replies of AWS query-protocol services (STS): elements, their text
// and children. Enough of XML 1.0 for what AWS sends: an optional <?xml ...?> declaration,
// comments, start tags with attributes (read past, not kept), self-closing tags, end tags that
// must match, CDATA sections, and the five predefined entities plus &#N; / &#xH; (ASCII only).
// Namespace prefixes are dropped from names ("sts:Arn" is "Arn"). DOCTYPE and processing
// instructions after the declaration are refused (no entity expansion of any kind).
//
// Untrusted input: InvalidArgument naming the rule and a byte offset, never the text, for
// anything else; at most kMaxXmlBytes, kMaxXmlDepth levels and kMaxXmlElements elements. Text
// may hold secrets (SecretAccessKey, SessionToken): every element's text is wiped when the tree
// is destroyed.
// Thread-safety: pure functions; a tree is immutable once parsed.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lockout::awsclient {

inline constexpr size_t kMaxXmlBytes = 256 << 10;
inline constexpr int kMaxXmlDepth = 32;
inline constexpr size_t kMaxXmlElements = 4096;

struct XmlElement {
  std::string name;  // local name
  std::string text;  // concatenated character data directly inside this element
  std::vector<XmlElement> children;

  XmlElement() = default;
  XmlElement(XmlElement&&) noexcept = default;
  XmlElement& operator=(XmlElement&&) noexcept = default;
  ~XmlElement();

  // The first child named `name`, nullptr when none.
  const XmlElement* Child(std::string_view child_name) const;
  // Follows a path of child names ("AssumeRoleResult", "Credentials"), nullptr when absent.
  const XmlElement* Find(std::initializer_list<std::string_view> path) const;
};

// The document's root element.
absl::StatusOr<XmlElement> ParseXml(std::string_view text);

}  // namespace lockout::awsclient
