#include "src/eth/rlp.h"

#include "absl/strings/str_cat.h"
#include "src/common/strings.h"

namespace lockout::eth {
namespace {

// Appends the header for a payload of `length` bytes: `short_base` + length for 0..55, else
// `short_base` + 55 + (number of length bytes), then the length big-endian.
void AppendHeader(Bytes& out, size_t length, uint8_t short_base) {
  if (length <= 55) {
    out.push_back(static_cast<uint8_t>(short_base + length));
    return;
  }
  uint8_t length_bytes[8];
  size_t n = 0;
  for (size_t l = length; l != 0; l >>= 8) length_bytes[n++] = static_cast<uint8_t>(l & 0xff);
  out.push_back(static_cast<uint8_t>(short_base + 55 + n));
  while (n > 0) out.push_back(length_bytes[--n]);
}

absl::Status DecodeError(size_t offset, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("rlp: ", Absl(why), " at offset ", offset));
}

class Decoder {
 public:
  Decoder(ByteView input, const RlpLimits& limits) : input_(input), limits_(limits) {}

  // Decodes the item at `pos` ending no later than `end`; advances `pos` past it.
  absl::StatusOr<RlpItem> Item(size_t& pos, size_t end, int depth) {
    if (pos >= end) return DecodeError(pos, "truncated item");
    if (++items_ > limits_.max_items) return DecodeError(pos, "too many items");
    const size_t start = pos;
    const uint8_t prefix = input_[pos++];
    if (prefix < 0x80) return RlpItem::String(input_.subspan(start, 1));
    const bool is_list = prefix >= 0xc0;
    const uint8_t base = is_list ? 0xc0 : 0x80;
    size_t length = 0;
    if (prefix - base <= 55) {
      length = prefix - base;
    } else {
      const size_t length_of_length = static_cast<size_t>(prefix - base - 55);
      if (end - pos < length_of_length) return DecodeError(start, "truncated length");
      if (input_[pos] == 0) return DecodeError(start, "length with a leading zero byte");
      for (size_t i = 0; i < length_of_length; ++i) {
        if (length > (SIZE_MAX >> 8)) return DecodeError(start, "length overflows");
        length = (length << 8) | input_[pos++];
      }
      if (length <= 55) return DecodeError(start, "long form for a length below 56");
    }
    if (end - pos < length) return DecodeError(start, "truncated payload");
    if (!is_list) {
      if (length == 1 && input_[pos] < 0x80) {
        return DecodeError(start, "single byte below 0x80 encoded as a string");
      }
      RlpItem item = RlpItem::String(input_.subspan(pos, length));
      pos += length;
      return item;
    }
    if (depth >= limits_.max_depth) return DecodeError(start, "lists nested too deeply");
    RlpItem list = RlpItem::List({});
    const size_t list_end = pos + length;
    while (pos < list_end) {
      auto child = Item(pos, list_end, depth + 1);
      if (!child.ok()) return child.status();
      list.list.push_back(*std::move(child));
    }
    return list;
  }

 private:
  ByteView input_;
  const RlpLimits& limits_;
  size_t items_ = 0;
};

}  // namespace

Bytes RlpEncodeString(ByteView data) {
  Bytes out;
  if (data.size() == 1 && data[0] < 0x80) {
    out.push_back(data[0]);
    return out;
  }
  out.reserve(data.size() + 9);
  AppendHeader(out, data.size(), 0x80);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes RlpEncodeList(absl::Span<const Bytes> encoded_items) {
  size_t length = 0;
  for (const Bytes& item : encoded_items) length += item.size();
  Bytes out;
  out.reserve(length + 9);
  AppendHeader(out, length, 0xc0);
  for (const Bytes& item : encoded_items) out.insert(out.end(), item.begin(), item.end());
  return out;
}

Bytes RlpEncodeUint(const Uint256& value) { return RlpEncodeString(MinimalBigEndian(value)); }
Bytes RlpEncodeUint(uint64_t value) { return RlpEncodeUint(Uint256FromUint64(value)); }

Bytes RlpEncode(const RlpItem& item) {
  if (!item.is_list) return RlpEncodeString(item.bytes);
  std::vector<Bytes> encoded;
  encoded.reserve(item.list.size());
  for (const RlpItem& child : item.list) encoded.push_back(RlpEncode(child));
  return RlpEncodeList(encoded);
}

absl::StatusOr<RlpItem> RlpDecode(ByteView encoded, const RlpLimits& limits) {
  if (encoded.size() > limits.max_input_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlp: input of ", encoded.size(), " bytes exceeds ", limits.max_input_bytes));
  }
  Decoder decoder(encoded, limits);
  size_t pos = 0;
  auto item = decoder.Item(pos, encoded.size(), 0);
  if (!item.ok()) return item.status();
  if (pos != encoded.size()) return DecodeError(pos, "trailing bytes after the item");
  return item;
}

absl::StatusOr<Uint256> RlpItemToUint(const RlpItem& item, std::string_view field) {
  if (item.is_list) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlp: integer field '", Absl(field), "' is a list"));
  }
  if (!item.bytes.empty() && item.bytes[0] == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlp: integer field '", Absl(field), "' has a leading zero byte"));
  }
  return Uint256FromBigEndian(item.bytes, field);
}

}  // namespace lockout::eth
