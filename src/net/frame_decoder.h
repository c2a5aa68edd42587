#pragma once

// Framing for the enclave and relay protocols (ARCHITECTURE §4), independent of any transport.
//
//   v1 (the seed's): a JSON object followed by the three bytes "$$$".
//   v2:              a 4-byte big-endian length, then that many bytes (a JSON object).
//
// Both kinds may share one connection and one port; each frame is classified by its first byte:
// '{' starts a v1 frame, anything else is the first byte of a v2 length prefix. Documented
// choices on top of that rule:
//   * ASCII whitespace (SP, HT, CR, LF) *between* frames is skipped, so that
//     `printf '{...}$$$\n' | nc` works. This never changes the meaning of a valid v2 frame:
//     frame sizes are capped at kMaxFrameSizeCap (< 2^24), so the first byte of every acceptable
//     v2 length prefix is 0x00.
//   * A v1 frame ends at the FIRST "$$$" after its '{', even if that is inside a JSON string (as
//     the seed does). EncodeV1 refuses payloads for which that would cut the frame short.
//   * The decoder checks framing only (first byte, length, terminator, size limit); whether the
//     payload is a valid JSON object is for the caller's JSON parser to decide.
//
// Limits: a frame's payload (the JSON text, without "$$$" or the length prefix) may be at most
// max_frame_size bytes. A v2 length prefix over the limit is rejected as soon as its 4 bytes are
// in, before any payload is buffered (a prefix claiming 4 GiB allocates nothing); a v1 frame is
// rejected as soon as more than max_frame_size + 2 bytes have arrived without a terminator.
//
// Errors (sticky: once the decoder has failed every later call returns the same status):
//   InvalidArgument    garbage: a frame whose first byte is neither '{', whitespace, nor 0x00
//                      (any other first byte makes a v2 length >= 2^24, over every limit, so it
//                      is refused at once instead of after 4 bytes: "GET / HTTP/1.1" fails at G);
//   ResourceExhausted  frame over the size limit;
//   DataLoss           Finish() with a partial frame buffered (peer closed mid-frame).
// Error text carries sizes, offsets and kinds, never payload bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/common/bytes.h"

namespace lockout::net {

inline constexpr size_t kDefaultMaxFrameSize = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kMaxFrameSizeCap = (size_t{1} << 24) - 1;
inline constexpr std::string_view kV1Terminator = "$$$";
inline constexpr size_t kV2HeaderSize = 4;

enum class FrameKind { kV1, kV2 };

// "v1" / "v2".
std::string_view FrameKindName(FrameKind kind);

struct Frame {
  FrameKind kind = FrameKind::kV1;
  // The JSON text: without the v1 terminator or the v2 length prefix.
  std::string payload;
  // Offset in the decoder's input stream of the frame's first byte ('{' or the length prefix).
  uint64_t offset = 0;
};

// Incremental decoder: Feed() bytes as they arrive, then call Next() until it returns nullopt.
// Buffers at most one partial frame plus whatever the caller fed beyond it; memory is reused
// across frames and never reserved from a claimed length. Thread-compatible: one decoder per
// connection, used by one thread at a time. Movable.
class FrameDecoder final {
 public:
  // A decoder with the default limit (kDefaultMaxFrameSize).
  FrameDecoder();
  // InvalidArgument unless 1 <= max_frame_size <= kMaxFrameSizeCap.
  static absl::StatusOr<FrameDecoder> Create(size_t max_frame_size);

  FrameDecoder(FrameDecoder&&) = default;
  FrameDecoder& operator=(FrameDecoder&&) = default;
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Appends bytes. Returns the sticky error (buffering nothing) if the decoder has already failed,
  // or the new error if the frame at the head of the buffer is now known to be invalid (so a
  // reader can stop early). Feed() examines only the head frame; later frames are examined by
  // Next(), so valid frames before an invalid one are still delivered. Drain Next() after every
  // Feed().
  absl::Status Feed(ByteView data);
  absl::Status Feed(std::string_view data);

  // The next complete frame, nullopt if more bytes are needed, or the decoder's error.
  absl::StatusOr<std::optional<Frame>> Next();

  // Call at end of input. OK if nothing but inter-frame whitespace is buffered; DataLoss naming
  // the partial frame's kind and sizes otherwise; the sticky error if the decoder failed.
  // Does not consume complete frames: drain Next() first.
  absl::Status Finish();

  // True if part of a frame (at least its first byte) is buffered.
  bool InFrame() const { return state_ != State::kIdle; }
  // Bytes currently buffered and not yet returned as frames.
  size_t buffered_size() const { return buf_.size() - head_; }
  size_t max_frame_size() const { return max_frame_size_; }
  // Bytes of memory the buffer holds (its capacity), for callers that budget memory.
  size_t memory_size() const { return buf_.capacity(); }
  // Gives back a large buffer once everything fed has been returned as frames (otherwise that
  // happens on the next Feed). Call after draining Next().
  void Trim() {
    if (head_ == buf_.size()) Compact();
  }
  // The head frame's payload bytes received so far (empty when no frame has started, or before a
  // v2 length prefix is complete), and the size a v2 prefix declares (nullopt for v1 or before the
  // prefix is in). For a caller that holds some frames to a smaller limit by their first bytes
  // (lockout-relay: only append_audit may be large). A view into the buffer, valid until the next
  // Feed or Next.
  std::string_view PartialPayload() const;
  std::optional<size_t> DeclaredPayloadSize() const { return v2_payload_size_; }
  // Total bytes fed so far.
  uint64_t bytes_fed() const { return base_offset_ + buf_.size(); }

 private:
  enum class State { kIdle, kV1, kV2 };

  explicit FrameDecoder(size_t max_frame_size);
  // Examines the head of the buffer: skips whitespace, classifies, checks limits, finds the end.
  // Sets error_ on invalid input. Returns true if a complete frame is at the head.
  bool Advance();
  void Compact();
  void ResetFrameState();

  size_t max_frame_size_;
  std::string buf_;
  size_t head_ = 0;           // first unconsumed byte in buf_ (start of the current frame)
  uint64_t base_offset_ = 0;  // stream offset of buf_[0]
  State state_ = State::kIdle;
  size_t v1_scan_from_ = 0;                // v1: frame-relative index to resume the "$$$" search
  std::optional<size_t> v1_payload_size_;  // v1: set once the terminator is found
  std::optional<size_t> v2_payload_size_;  // v2: set once the length prefix is in
  absl::Status error_;
};

// Encodes one v1 frame: json_text + "$$$". InvalidArgument unless json_text starts with '{' and
// contains no "$$$" (nor ends in '$'), so that the decoder returns exactly json_text;
// ResourceExhausted if json_text is larger than max_frame_size.
absl::StatusOr<std::string> EncodeV1(std::string_view json_text,
                                     size_t max_frame_size = kDefaultMaxFrameSize);

// Encodes one v2 frame: 4-byte big-endian length + payload. ResourceExhausted if the payload is
// larger than max_frame_size (or kMaxFrameSizeCap).
absl::StatusOr<std::string> EncodeV2(std::string_view payload,
                                     size_t max_frame_size = kDefaultMaxFrameSize);

// Encodes `payload` as a frame of the given kind (EncodeV1 or EncodeV2).
absl::StatusOr<std::string> EncodeFrame(FrameKind kind, std::string_view payload,
                                        size_t max_frame_size = kDefaultMaxFrameSize);

}  // namespace lockout::net
