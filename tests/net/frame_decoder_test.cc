#include "src/net/frame_decoder.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lockout::net {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string V1(std::string_view json) {
  absl::StatusOr<std::string> out = EncodeV1(json);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::string();
}

std::string V2(std::string_view payload) {
  absl::StatusOr<std::string> out = EncodeV2(payload);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : std::string();
}

std::string Prefix(uint32_t length) {
  return std::string{static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
                     static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

struct Decoded {
  std::vector<Frame> frames;
  absl::Status status;  // first error from Feed/Next, else Finish()
};

// Feeds `stream` in chunks of `chunk` bytes (0 = all at once), draining Next() after each feed.
Decoded DecodeAll(std::string_view stream, size_t chunk, FrameDecoder decoder = FrameDecoder()) {
  Decoded out;
  if (chunk == 0) chunk = stream.size() == 0 ? 1 : stream.size();
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    absl::Status fed = decoder.Feed(stream.substr(pos, chunk));
    for (;;) {
      absl::StatusOr<std::optional<Frame>> next = decoder.Next();
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
  out.status = decoder.Finish();
  return out;
}

bool AllWhitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Every decoded frame re-encodes to exactly the bytes at its offset, in order, without overlap,
// with only whitespace between frames; a successful decode also leaves only whitespace after.
void ExpectFramesMatchStream(const Decoded& decoded, std::string_view stream) {
  uint64_t next_free = 0;
  for (const Frame& frame : decoded.frames) {
    const std::string encoded =
        frame.kind == FrameKind::kV1
            ? frame.payload + "$$$"
            : Prefix(static_cast<uint32_t>(frame.payload.size())) + frame.payload;
    ASSERT_GE(frame.offset, next_free);
    ASSERT_LE(frame.offset + encoded.size(), stream.size());
    EXPECT_TRUE(AllWhitespace(stream.substr(next_free, frame.offset - next_free)));
    EXPECT_EQ(stream.substr(frame.offset, encoded.size()), encoded);
    next_free = frame.offset + encoded.size();
  }
  if (decoded.status.ok()) {
    EXPECT_TRUE(AllWhitespace(stream.substr(next_free)));
  }
}

TEST(FrameDecoderTest, DecodesV1FrameToItsJsonText) {
  Decoded d = DecodeAll(V1(R"({"bytes": "aGVsbG8="})"), 0);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0].kind, FrameKind::kV1);
  EXPECT_EQ(d.frames[0].payload, R"({"bytes": "aGVsbG8="})");
  EXPECT_EQ(d.frames[0].offset, 0u);
}

TEST(FrameDecoderTest, DecodesV2FrameToItsPayload) {
  const std::string payload = R"({"id": 7, "op": "health"})";
  std::string wire = V2(payload);
  EXPECT_EQ(wire.substr(0, 4), Prefix(static_cast<uint32_t>(payload.size())));
  Decoded d = DecodeAll(wire, 0);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0].kind, FrameKind::kV2);
  EXPECT_EQ(d.frames[0].payload, payload);
}

TEST(FrameDecoderTest, TellsKindsApartByFirstByteOnOneStream) {
  const std::string stream = V1("{\"a\":1}") + V2("{\"b\":2}") + V2("{\"c\":3}") + V1("{}");
  Decoded d = DecodeAll(stream, 0);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 4u);
  EXPECT_EQ(d.frames[0].kind, FrameKind::kV1);
  EXPECT_EQ(d.frames[1].kind, FrameKind::kV2);
  EXPECT_EQ(d.frames[2].kind, FrameKind::kV2);
  EXPECT_EQ(d.frames[3].kind, FrameKind::kV1);
  EXPECT_EQ(d.frames[1].payload, "{\"b\":2}");
  EXPECT_EQ(d.frames[3].payload, "{}");
  ExpectFramesMatchStream(d, stream);
}

std::string ManyMixedFrames(int count) {
  std::string stream;
  for (int i = 0; i < count; ++i) {
    const std::string json = "{\"id\":" + std::to_string(i) + ",\"pad\":\"" +
                             std::string(static_cast<size_t>(i % 37), 'x') + "\"}";
    stream += (i % 3 == 0) ? V1(json) : V2(json);
  }
  return stream;
}

TEST(FrameDecoderTest, DecodesManyFramesFromOneFeed) {
  const std::string stream = ManyMixedFrames(200);
  Decoded d = DecodeAll(stream, 0);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 200u);
  EXPECT_EQ(d.frames[199].payload, "{\"id\":199,\"pad\":\"" + std::string(199 % 37, 'x') + "\"}");
  ExpectFramesMatchStream(d, stream);
}

TEST(FrameDecoderTest, ByteAtATimeFeedingGivesTheSameFrames) {
  const std::string stream = ManyMixedFrames(50);
  Decoded whole = DecodeAll(stream, 0);
  for (size_t chunk : {1u, 2u, 3u, 5u, 7u, 64u}) {
    Decoded pieces = DecodeAll(stream, chunk);
    ASSERT_TRUE(pieces.status.ok()) << "chunk " << chunk << ": " << pieces.status;
    ASSERT_EQ(pieces.frames.size(), whole.frames.size()) << "chunk " << chunk;
    for (size_t i = 0; i < whole.frames.size(); ++i) {
      EXPECT_EQ(pieces.frames[i].kind, whole.frames[i].kind);
      EXPECT_EQ(pieces.frames[i].payload, whole.frames[i].payload);
      EXPECT_EQ(pieces.frames[i].offset, whole.frames[i].offset);
    }
  }
}

TEST(FrameDecoderTest, FindsTerminatorSplitAcrossFeeds) {
  FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(std::string_view("{\"x\":1}$")).ok());
  EXPECT_FALSE(decoder.Next()->has_value());
  ASSERT_TRUE(decoder.Feed(std::string_view("$")).ok());
  EXPECT_FALSE(decoder.Next()->has_value());
  ASSERT_TRUE(decoder.Feed(std::string_view("$")).ok());
  absl::StatusOr<std::optional<Frame>> frame = decoder.Next();
  ASSERT_TRUE(frame.ok() && frame->has_value());
  EXPECT_EQ((*frame)->payload, "{\"x\":1}");
  EXPECT_TRUE(decoder.Finish().ok());
}

TEST(FrameDecoderTest, SkipsWhitespaceBetweenFrames) {
  const std::string stream = "\r\n " + V1("{}") + "\n\t" + V2("{\"a\":1}") + "\n";
  Decoded d = DecodeAll(stream, 1);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 2u);
  EXPECT_EQ(d.frames[0].offset, 3u);
  ExpectFramesMatchStream(d, stream);
}

TEST(FrameDecoderTest, AcceptsEmptyV2Payload) {
  Decoded d = DecodeAll(Prefix(0), 0);
  ASSERT_TRUE(d.status.ok()) << d.status;
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0].payload, "");
}

TEST(FrameDecoderTest, FirstTerminatorEndsAV1FrameEvenInsideAString) {
  // The seed's behaviour, kept on purpose: "$$$" inside a JSON string cuts the frame there.
  Decoded d = DecodeAll("{\"s\":\"a$$$b\"}$$$", 0);
  ASSERT_GE(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0].payload, "{\"s\":\"a");
  // What follows ('b') is not a frame start.
  EXPECT_TRUE(absl::IsInvalidArgument(d.status)) << d.status;
}

// --- limits -------------------------------------------------------------------------------

TEST(FrameDecoderTest, CreateRejectsUnusableLimits) {
  EXPECT_FALSE(FrameDecoder::Create(0).ok());
  EXPECT_FALSE(FrameDecoder::Create(kMaxFrameSizeCap + 1).ok());
  absl::StatusOr<FrameDecoder> ok = FrameDecoder::Create(kMaxFrameSizeCap);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->max_frame_size(), kMaxFrameSizeCap);
  EXPECT_EQ(FrameDecoder().max_frame_size(), size_t{1} << 20);
}

std::string JsonOfSize(size_t size) {
  // "{" + filler + "}" with exactly `size` bytes.
  return "{" + std::string(size - 2, ' ') + "}";
}

TEST(FrameDecoderTest, AcceptsV1AndV2FramesOfExactlyTheDefaultLimit) {
  const std::string json = JsonOfSize(kDefaultMaxFrameSize);
  Decoded v1 = DecodeAll(V1(json), 4096);
  ASSERT_TRUE(v1.status.ok()) << v1.status;
  ASSERT_EQ(v1.frames.size(), 1u);
  EXPECT_EQ(v1.frames[0].payload.size(), kDefaultMaxFrameSize);
  Decoded v2 = DecodeAll(V2(json), 4096);
  ASSERT_TRUE(v2.status.ok()) << v2.status;
  ASSERT_EQ(v2.frames.size(), 1u);
  EXPECT_EQ(v2.frames[0].payload.size(), kDefaultMaxFrameSize);
}

TEST(FrameDecoderTest, RejectsV1AndV2FramesOfTheDefaultLimitPlusOne) {
  const std::string json = JsonOfSize(kDefaultMaxFrameSize + 1);
  Decoded v1 = DecodeAll(json + "$$$", 4096);
  EXPECT_TRUE(absl::IsResourceExhausted(v1.status)) << v1.status;
  EXPECT_TRUE(v1.frames.empty());
  Decoded v2 = DecodeAll(Prefix(static_cast<uint32_t>(json.size())) + json, 4096);
  EXPECT_TRUE(absl::IsResourceExhausted(v2.status)) << v2.status;
  EXPECT_TRUE(v2.frames.empty());
  EXPECT_FALSE(EncodeV1(json).ok());
  EXPECT_FALSE(EncodeV2(json).ok());
}

TEST(FrameDecoderTest, RejectsOversizedV1AsSoonAsTheLimitIsPassedWithoutTerminator) {
  constexpr size_t kLimit = 16;
  absl::StatusOr<FrameDecoder> decoder = FrameDecoder::Create(kLimit);
  ASSERT_TRUE(decoder.ok());
  // 16 payload bytes + "$$" could still be a valid frame if one more '$' arrives...
  ASSERT_TRUE(decoder->Feed(JsonOfSize(kLimit) + "$$").ok());
  // ...but one more non-'$' byte cannot.
  absl::Status status = decoder->Feed(std::string_view("x"));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("16-byte limit"));
}

TEST(FrameDecoderTest, SmallLimitAcceptsExactSizeAndRejectsOneMoreForBothKinds) {
  constexpr size_t kLimit = 10;
  for (size_t chunk : {0u, 1u}) {
    Decoded ok1 = DecodeAll(JsonOfSize(kLimit) + "$$$", chunk, *FrameDecoder::Create(kLimit));
    EXPECT_TRUE(ok1.status.ok()) << ok1.status;
    EXPECT_EQ(ok1.frames.size(), 1u);
    Decoded ok2 =
        DecodeAll(Prefix(kLimit) + JsonOfSize(kLimit), chunk, *FrameDecoder::Create(kLimit));
    EXPECT_TRUE(ok2.status.ok()) << ok2.status;
    EXPECT_EQ(ok2.frames.size(), 1u);
    Decoded bad1 = DecodeAll(JsonOfSize(kLimit + 1) + "$$$", chunk, *FrameDecoder::Create(kLimit));
    EXPECT_TRUE(absl::IsResourceExhausted(bad1.status)) << bad1.status;
    Decoded bad2 = DecodeAll(Prefix(kLimit + 1) + JsonOfSize(kLimit + 1), chunk,
                             *FrameDecoder::Create(kLimit));
    EXPECT_TRUE(absl::IsResourceExhausted(bad2.status)) << bad2.status;
  }
}

TEST(FrameDecoderTest, RejectsOversizedV2LengthPrefixBeforeAnyPayloadArrives) {
  FrameDecoder decoder;
  absl::Status status = decoder.Feed(Prefix(kDefaultMaxFrameSize + 1));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
  EXPECT_LE(decoder.buffered_size(), kV2HeaderSize);
}

TEST(FrameDecoderTest, RejectsA4GiBLengthPrefixWithoutBufferingOrAllocating) {
  FrameDecoder decoder;
  absl::Status status = decoder.Feed(std::string_view("\xff\xff\xff\xff", 4));
  EXPECT_FALSE(status.ok());
  EXPECT_LE(decoder.buffered_size(), kV2HeaderSize);
  // The largest length any limit allows (cap) is refused too under the default limit.
  FrameDecoder other;
  status = other.Feed(Prefix(static_cast<uint32_t>(kMaxFrameSizeCap)));
  EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
}

// --- truncation at EOF -------------------------------------------------------------------

TEST(FrameDecoderTest, ReportsTruncationAtEveryOffsetForBothKinds) {
  for (const std::string& wire : {V1("{\"bytes\":\"AAAA\"}"), V2("{\"id\":1,\"op\":\"sign\"}")}) {
    for (size_t cut = 1; cut < wire.size(); ++cut) {
      Decoded d = DecodeAll(wire.substr(0, cut), 0);
      EXPECT_TRUE(d.frames.empty()) << "cut " << cut;
      EXPECT_TRUE(absl::IsDataLoss(d.status)) << "cut " << cut << ": " << d.status;
      EXPECT_THAT(std::string(d.status.message()), HasSubstr("input ended inside"));
    }
    Decoded full = DecodeAll(wire, 0);
    EXPECT_TRUE(full.status.ok()) << full.status;
    EXPECT_EQ(full.frames.size(), 1u);
  }
}

TEST(FrameDecoderTest, FinishIsOkOnEmptyInputAndAfterCompleteFrames) {
  FrameDecoder decoder;
  EXPECT_TRUE(decoder.Finish().ok());
  EXPECT_FALSE(decoder.InFrame());
  Decoded d = DecodeAll(V1("{}") + V2("{}") + "\n", 0);
  EXPECT_TRUE(d.status.ok()) << d.status;
}

TEST(FrameDecoderTest, TruncationMessageNamesKindAndSizes) {
  Decoded d = DecodeAll(Prefix(100) + std::string(10, 'a'), 0);
  EXPECT_TRUE(absl::IsDataLoss(d.status));
  EXPECT_THAT(std::string(d.status.message()), HasSubstr("v2 frame"));
  EXPECT_THAT(std::string(d.status.message()), HasSubstr("10 of 100"));
  Decoded header = DecodeAll(std::string("\0\0", 2), 0);
  EXPECT_THAT(std::string(header.status.message()), HasSubstr("2 of 4"));
}

// --- garbage -----------------------------------------------------------------------------

TEST(FrameDecoderTest, RejectsHttpRequestAtItsFirstByte) {
  FrameDecoder decoder;
  absl::Status status = decoder.Feed(std::string_view("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("0x47"));
}

TEST(FrameDecoderTest, ClassifiesEveryPossibleFirstByte) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    FrameDecoder decoder;
    absl::Status status = decoder.Feed(std::string_view(&c, 1));
    if (c == '{' || b == 0) {
      EXPECT_TRUE(status.ok()) << b;
      EXPECT_TRUE(decoder.InFrame()) << b;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      EXPECT_TRUE(status.ok()) << b;
      EXPECT_FALSE(decoder.InFrame()) << b;
      EXPECT_TRUE(decoder.Finish().ok()) << b;
    } else {
      EXPECT_TRUE(absl::IsInvalidArgument(status)) << b << ": " << status;
    }
  }
}

TEST(FrameDecoderTest, DeliversValidFramesBeforeReportingGarbage) {
  Decoded d = DecodeAll(V1("{\"a\":1}") + V2("{\"b\":2}") + "junk", 0);
  ASSERT_EQ(d.frames.size(), 2u);
  EXPECT_TRUE(absl::IsInvalidArgument(d.status)) << d.status;
  EXPECT_THAT(std::string(d.status.message()), HasSubstr("offset 21"));
}

TEST(FrameDecoderTest, ErrorsAreSticky) {
  FrameDecoder decoder;
  absl::Status first = decoder.Feed(std::string_view("x"));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(decoder.Feed(V1("{}")), first);
  EXPECT_EQ(decoder.Next().status(), first);
  EXPECT_EQ(decoder.Finish(), first);
}

TEST(FrameDecoderTest, ErrorsNeverQuotePayloadBytes) {
  constexpr std::string_view kCanary = "CANARY-7f3a9c";
  auto decoder = FrameDecoder::Create(32);
  ASSERT_TRUE(decoder.ok());
  const std::string json = "{\"secret\":\"" + std::string(kCanary) + std::string(40, 'z') + "\"}";
  absl::Status status = decoder->Feed(json);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kCanary)));
  Decoded truncated = DecodeAll("{\"secret\":\"" + std::string(kCanary), 0);
  EXPECT_THAT(std::string(truncated.status.message()), Not(HasSubstr(kCanary)));
}

TEST(FrameDecoderTest, BitFlipsYieldCleanErrorsOrFramesFromTheStream) {
  const std::string stream = V1("{\"a\":\"b\"}") + V2("{\"id\":1}") + V1("{}");
  for (size_t i = 0; i < stream.size() * 8; ++i) {
    std::string flipped = stream;
    flipped[i / 8] = static_cast<char>(flipped[i / 8] ^ (1 << (i % 8)));
    for (size_t chunk : {0u, 1u}) {
      Decoded d = DecodeAll(flipped, chunk);
      ExpectFramesMatchStream(d, flipped);
      // Something must change: a flipped stream never decodes cleanly to the original frames.
      if (d.status.ok() && d.frames.size() == 3) {
        EXPECT_FALSE(d.frames[0].payload == "{\"a\":\"b\"}" &&
                     d.frames[1].payload == "{\"id\":1}" && d.frames[2].payload == "{}")
            << "bit " << i;
      }
    }
  }
}

// --- encoders ----------------------------------------------------------------------------

TEST(EncodeTest, V1AppendsTerminator) { EXPECT_EQ(*EncodeV1("{}"), "{}$$$"); }

TEST(EncodeTest, V1RefusesPayloadsThatWouldNotDecodeBackIdentically) {
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1("").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1("[1]").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1(" {}").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1("{\"s\":\"$$$\"}").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1("{$").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeV1("{$$").status()));
  EXPECT_TRUE(EncodeV1("{\"s\":\"$$\"}").ok());
}

TEST(EncodeTest, V2WritesBigEndianLength) {
  const std::string payload(0x010203, 'p');
  absl::StatusOr<std::string> wire = EncodeV2(payload, kMaxFrameSizeCap);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->substr(0, 4), std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ(wire->size(), 4 + payload.size());
}

TEST(EncodeTest, RespectsExplicitLimit) {
  EXPECT_TRUE(EncodeV2("12345", 5).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(EncodeV2("123456", 5).status()));
  EXPECT_TRUE(EncodeV1("{123}", 5).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(EncodeV1("{1234}", 5).status()));
  EXPECT_TRUE(EncodeFrame(FrameKind::kV2, "{}").ok());
  EXPECT_EQ(*EncodeFrame(FrameKind::kV1, "{}"), "{}$$$");
}

TEST(FrameKindTest, HasReadableNames) {
  EXPECT_EQ(FrameKindName(FrameKind::kV1), "v1");
  EXPECT_EQ(FrameKindName(FrameKind::kV2), "v2");
}

}  // namespace
}  // namespace lockout::net
