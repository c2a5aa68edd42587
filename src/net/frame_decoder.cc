#include "src/net/frame_decoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lockout::net {
namespace {

bool IsInterFrameWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Past this much spare capacity an idle decoder gives its buffer back, so that many idle
// connections do not each pin a frame-sized allocation.
constexpr size_t kIdleCapacityToKeep = 64 * 1024;

}  // namespace

std::string_view FrameKindName(FrameKind kind) {
  switch (kind) {
    case FrameKind::kV1:
      return "v1";
    case FrameKind::kV2:
      return "v2";
  }
  return "unknown";
}

FrameDecoder::FrameDecoder() : FrameDecoder(kDefaultMaxFrameSize) {}

FrameDecoder::FrameDecoder(size_t max_frame_size) : max_frame_size_(max_frame_size) {}

absl::StatusOr<FrameDecoder> FrameDecoder::Create(size_t max_frame_size) {
  if (max_frame_size < 1 || max_frame_size > kMaxFrameSizeCap) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame size limit ", max_frame_size, " outside [1, ", kMaxFrameSizeCap, "]"));
  }
  return FrameDecoder(max_frame_size);
}

absl::Status FrameDecoder::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  if (data.empty()) return absl::OkStatus();
  Compact();
  buf_.append(data);
  Advance();
  return error_;
}

absl::Status FrameDecoder::Feed(ByteView data) {
  return Feed(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

void FrameDecoder::ResetFrameState() {
  state_ = State::kIdle;
  v1_scan_from_ = 0;
  v1_payload_size_.reset();
  v2_payload_size_.reset();
}

void FrameDecoder::Compact() {
  if (head_ == buf_.size()) {
    base_offset_ += buf_.size();
    head_ = 0;
    if (buf_.capacity() > kIdleCapacityToKeep) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
    return;
  }
  // Erase consumed bytes only when they are at least half the buffer: amortised O(1) per byte.
  if (head_ > 0 && head_ >= buf_.size() / 2) {
    buf_.erase(0, head_);
    base_offset_ += head_;
    head_ = 0;
  }
}

bool FrameDecoder::Advance() {
  if (!error_.ok()) return false;
  if (state_ == State::kIdle) {
    while (head_ < buf_.size() && IsInterFrameWhitespace(buf_[head_])) ++head_;
    if (head_ == buf_.size()) return false;
    const auto first = static_cast<uint8_t>(buf_[head_]);
    if (first == '{') {
      state_ = State::kV1;
    } else if (first == 0x00) {
      state_ = State::kV2;
    } else {
      error_ = absl::InvalidArgumentError(absl::StrFormat(
          "garbage at stream offset %d: first byte 0x%02x is neither '{' (v1) nor the start of "
          "a v2 length prefix within the %d-byte limit",
          base_offset_ + head_, first, max_frame_size_));
      return false;
    }
  }

  const std::string_view frame = std::string_view(buf_).substr(head_);
  if (state_ == State::kV2) {
    if (!v2_payload_size_.has_value()) {
      if (frame.size() < kV2HeaderSize) return false;
      uint32_t length = 0;
      for (size_t i = 0; i < kV2HeaderSize; ++i) {
        length = (length << 8) | static_cast<uint8_t>(frame[i]);
      }
      if (length > max_frame_size_) {
        error_ = absl::ResourceExhaustedError(
            absl::StrCat("v2 frame at stream offset ", base_offset_ + head_, " declares ", length,
                         " bytes, over the ", max_frame_size_, "-byte limit"));
        return false;
      }
      v2_payload_size_ = length;
    }
    return frame.size() >= kV2HeaderSize + *v2_payload_size_;
  }

  // v1: find the first "$$$", resuming where the last search stopped (a terminator may straddle
  // two feeds, hence the two-byte overlap).
  if (v1_payload_size_.has_value()) return true;
  const size_t found = frame.find(kV1Terminator, v1_scan_from_);
  if (found != std::string_view::npos && found <= max_frame_size_) {
    v1_payload_size_ = found;
    return true;
  }
  // Without a terminator in `frame`, the payload is at least frame.size() - 2 bytes long (the
  // last two bytes might be "$$" of a terminator still to come).
  if (found != std::string_view::npos || frame.size() > max_frame_size_ + 2) {
    error_ = absl::ResourceExhaustedError(
        absl::StrCat("v1 frame at stream offset ", base_offset_ + head_, " has no \"$$$\" within ",
                     "the ", max_frame_size_, "-byte limit"));
    return false;
  }
  v1_scan_from_ = frame.size() >= kV1Terminator.size() - 1 ? frame.size() - 2 : 0;
  return false;
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (!Advance()) {
    if (!error_.ok()) return error_;
    return std::nullopt;
  }
  Frame out;
  out.offset = base_offset_ + head_;
  size_t consumed = 0;
  if (state_ == State::kV1) {
    out.kind = FrameKind::kV1;
    out.payload.assign(buf_, head_, *v1_payload_size_);
    consumed = *v1_payload_size_ + kV1Terminator.size();
  } else {
    out.kind = FrameKind::kV2;
    out.payload.assign(buf_, head_ + kV2HeaderSize, *v2_payload_size_);
    consumed = kV2HeaderSize + *v2_payload_size_;
  }
  head_ += consumed;
  ResetFrameState();
  if (head_ == buf_.size()) Compact();
  return std::optional<Frame>(std::move(out));
}

std::string_view FrameDecoder::PartialPayload() const {
  const std::string_view frame = std::string_view(buf_).substr(head_);
  if (state_ == State::kV1) return frame;
  if (state_ == State::kV2 && frame.size() >= kV2HeaderSize) return frame.substr(kV2HeaderSize);
  return {};
}

absl::Status FrameDecoder::Finish() {
  Advance();
  if (!error_.ok()) return error_;
  if (state_ == State::kIdle) return absl::OkStatus();
  const size_t have = buf_.size() - head_;
  const uint64_t offset = base_offset_ + head_;
  if (state_ == State::kV1) {
    if (v1_payload_size_.has_value()) {
      return absl::FailedPreconditionError("Finish() called with a complete frame not drained");
    }
    return absl::DataLossError(absl::StrCat("input ended inside a v1 frame at stream offset ",
                                            offset, ": ", have, " bytes and no \"$$$\""));
  }
  if (!v2_payload_size_.has_value()) {
    return absl::DataLossError(
        absl::StrCat("input ended inside a v2 length prefix at stream offset ", offset, ": ", have,
                     " of ", kV2HeaderSize, " bytes"));
  }
  if (have >= kV2HeaderSize + *v2_payload_size_) {
    return absl::FailedPreconditionError("Finish() called with a complete frame not drained");
  }
  return absl::DataLossError(absl::StrCat("input ended inside a v2 frame at stream offset ", offset,
                                          ": ", have - kV2HeaderSize, " of ", *v2_payload_size_,
                                          " payload bytes"));
}

absl::StatusOr<std::string> EncodeV1(std::string_view json_text, size_t max_frame_size) {
  if (json_text.size() > std::min(max_frame_size, kMaxFrameSizeCap)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "v1 payload of ", json_text.size(), " bytes is over the ", max_frame_size, "-byte limit"));
  }
  if (json_text.empty() || json_text.front() != '{') {
    return absl::InvalidArgumentError("v1 payload must start with '{'");
  }
  std::string out;
  out.reserve(json_text.size() + kV1Terminator.size());
  out.append(json_text);
  out.append(kV1Terminator);
  // The decoder ends the frame at the first "$$$": that must be the one we just appended.
  const size_t first = out.find(kV1Terminator);
  if (first != json_text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("v1 payload contains \"$$$\" or ends in '$': the frame would end at byte ",
                     first, " of ", json_text.size()));
  }
  return out;
}

absl::StatusOr<std::string> EncodeV2(std::string_view payload, size_t max_frame_size) {
  if (payload.size() > std::min(max_frame_size, kMaxFrameSizeCap)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "v2 payload of ", payload.size(), " bytes is over the ", max_frame_size, "-byte limit"));
  }
  const auto length = static_cast<uint32_t>(payload.size());
  std::string out;
  out.reserve(kV2HeaderSize + payload.size());
  out.push_back(static_cast<char>((length >> 24) & 0xff));
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
  out.append(payload);
  return out;
}

absl::StatusOr<std::string> EncodeFrame(FrameKind kind, std::string_view payload,
                                        size_t max_frame_size) {
  if (kind == FrameKind::kV1) return EncodeV1(payload, max_frame_size);
  return EncodeV2(payload, max_frame_size);
}

}  // namespace lockout::net
