// libFuzzer target for lockout::net::FrameDecoder.
//
// Input layout: byte 0 picks the frame size limit, bytes 1..4 are chunk sizes (cycled) used to
// split the rest (the stream) into Feed() calls. Properties checked (abort on violation):
//   * the decoder never crashes, and frames never exceed the limit;
//   * every frame re-encodes (EncodeFrame) to exactly the stream bytes at its offset, frames are
//     in order without overlap, and only inter-frame whitespace lies between them;
//   * a clean Finish() means everything after the last frame is whitespace;
//   * chunking does not matter: feeding the whole stream at once gives the same frames and the
//     same final status code.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "src/net/frame_decoder.h"

namespace {

using lockout::net::EncodeFrame;
using lockout::net::Frame;
using lockout::net::FrameDecoder;

void Check(bool condition) {
  if (!condition) std::abort();
}

struct Result {
  std::vector<Frame> frames;
  absl::Status status;
};

Result Decode(std::string_view stream, size_t limit, const uint8_t* chunk_sizes, size_t n_sizes) {
  Result out;
  absl::StatusOr<FrameDecoder> decoder = FrameDecoder::Create(limit);
  Check(decoder.ok());
  size_t pos = 0;
  size_t turn = 0;
  while (pos < stream.size()) {
    size_t chunk = stream.size() - pos;
    if (n_sizes > 0) {
      const uint8_t b = chunk_sizes[turn++ % n_sizes];
      if (b != 0) chunk = std::min<size_t>(chunk, 1 + b % 64);
    }
    absl::Status fed = decoder->Feed(stream.substr(pos, chunk));
    pos += chunk;
    for (;;) {
      absl::StatusOr<std::optional<Frame>> next = decoder->Next();
      if (!next.ok()) {
        out.status = next.status();
        return out;
      }
      if (!next->has_value()) break;
      out.frames.push_back(std::move(**next));
    }
    if (!fed.ok()) {
      out.status = fed;
      return out;
    }
  }
  out.status = decoder->Finish();
  return out;
}

bool AllWhitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const size_t limit =
      (data[0] & 0x80) != 0 ? 1 + (data[0] & 0x3f) * 4 : lockout::net::kDefaultMaxFrameSize;
  const uint8_t* chunk_sizes = data + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 5), size - 5);

  const Result chunked = Decode(stream, limit, chunk_sizes, 4);
  uint64_t next_free = 0;
  for (const Frame& frame : chunked.frames) {
    Check(frame.payload.size() <= limit);
    absl::StatusOr<std::string> encoded = EncodeFrame(frame.kind, frame.payload, limit);
    Check(encoded.ok());
    Check(frame.offset >= next_free);
    Check(frame.offset + encoded->size() <= stream.size());
    Check(AllWhitespace(stream.substr(next_free, frame.offset - next_free)));
    Check(stream.substr(frame.offset, encoded->size()) == *encoded);
    next_free = frame.offset + encoded->size();
  }
  if (chunked.status.ok()) Check(AllWhitespace(stream.substr(next_free)));

  const Result whole = Decode(stream, limit, nullptr, 0);
  Check(whole.status.code() == chunked.status.code());
  Check(whole.frames.size() == chunked.frames.size());
  for (size_t i = 0; i < whole.frames.size(); ++i) {
    Check(whole.frames[i].kind == chunked.frames[i].kind);
    Check(whole.frames[i].offset == chunked.frames[i].offset);
    Check(whole.frames[i].payload == chunked.frames[i].payload);
  }
  return 0;
}
