// RecordReader: every chunking, multi-fragment and zero-length fragments, the maximum record
// size, the zero-copy fast path, and a stream written by libtirpc's own xdrrec.
#include "codec/record_marking.h"

#include "codec/xdr_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/test_util.h"
#include "tests/support/tirpc_shim.h"

namespace ringrpc::xdr {
namespace {

using testing::from_hex;

using Status = RecordReader::Status;

// Feeds `stream` in chunks of the given sizes (cycling) and collects records.
std::vector<std::vector<uint8_t>> feed(RecordReader& rr, const std::vector<uint8_t>& stream,
                                       const std::vector<size_t>& chunks, Status* last = nullptr) {
  std::vector<std::vector<uint8_t>> out;
  size_t pos = 0, ci = 0;
  Status st = Status::kNeedMore;
  while (pos < stream.size()) {
    size_t n = std::min(chunks[ci++ % chunks.size()], stream.size() - pos);
    std::span<const uint8_t> in(stream.data() + pos, n);
    pos += n;
    Record rec;
    while ((st = rr.next(in, rec)) == Status::kRecord) {
      out.emplace_back(rec.data.begin(), rec.data.end());
    }
    if (st == Status::kError) break;
    EXPECT_TRUE(in.empty());
  }
  if (last) *last = st;
  return out;
}

TEST(RecordMarkingTest, SingleFragmentRecordInOneChunkIsBorrowed) {
  auto s = from_hex("80000004 01020304 80000000");
  RecordReader rr;
  std::span<const uint8_t> in(s);
  Record rec;
  ASSERT_EQ(rr.next(in, rec), Status::kRecord);
  EXPECT_TRUE(rec.borrowed);
  EXPECT_EQ(rec.data.data(), s.data() + 4);
  EXPECT_EQ(rec.data.size(), 4u);
  ASSERT_EQ(rr.next(in, rec), Status::kRecord);  // the empty record
  EXPECT_EQ(rec.data.size(), 0u);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(rr.next(in, rec), Status::kNeedMore);
  EXPECT_FALSE(rr.mid_record());
}

TEST(RecordMarkingTest, AnyChunkingGivesTheSameRecords) {
  // Three records: plain, three fragments with zero-length ones first and in the middle, and
  // one whose header would be split by most chunkings.
  auto s = from_hex(
      "80000008 0000000a 0000000b"
      "00000000 00000002 aabb 00000000 80000003 ccddee"
      "8000000c 000000010000000200000003");
  const std::vector<std::vector<uint8_t>> want = {from_hex("0000000a 0000000b"),
                                                  from_hex("aabbccddee"),
                                                  from_hex("00000001 00000002 00000003")};
  for (size_t chunk = 1; chunk <= s.size(); ++chunk) {
    RecordReader rr;
    EXPECT_EQ(feed(rr, s, {chunk}), want) << "chunk " << chunk;
    EXPECT_FALSE(rr.mid_record());
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 500; ++i) {
    std::vector<size_t> chunks(8);
    for (auto& c : chunks) c = 1 + rng() % 13;
    RecordReader rr;
    EXPECT_EQ(feed(rr, s, chunks), want);
  }
}

TEST(RecordMarkingTest, MidRecordIsReported) {
  auto s = from_hex("80000008 00000001");
  RecordReader rr;
  std::span<const uint8_t> in(s);
  Record rec;
  EXPECT_EQ(rr.next(in, rec), Status::kNeedMore);
  EXPECT_TRUE(rr.mid_record());
  EXPECT_EQ(rr.buffered(), 4u);
}

TEST(RecordMarkingTest, MaximumRecordSizeIsEnforcedAtTheHeader) {
  RecordReader rr(RecordOptions{100});
  auto s = from_hex("80000065");  // 101 bytes announced, none sent
  std::span<const uint8_t> in(s);
  Record rec;
  EXPECT_EQ(rr.next(in, rec), Status::kError);
  EXPECT_EQ(rr.error().code, XdrErrc::kRecordTooLarge);
  EXPECT_EQ(rr.error().value, 101u);
  EXPECT_EQ(rr.error().limit, 100u);
  EXPECT_EQ(rr.next(in, rec), Status::kError);  // sticky
}

TEST(RecordMarkingTest, MaximumCountsAllFragments) {
  RecordReader rr(RecordOptions{8});
  auto s = from_hex("00000006 010203040506 80000004");
  Status last;
  EXPECT_TRUE(feed(rr, s, {3}, &last).empty());
  EXPECT_EQ(last, Status::kError);
  EXPECT_EQ(rr.error().value, 10u);
}

TEST(RecordMarkingTest, HttpOnAnRpcPortGetsAHint) {
  const std::string get = "GET / HTTP/1.1\r\n";
  std::vector<uint8_t> s(get.begin(), get.end());
  RecordReader rr;
  std::span<const uint8_t> in(s);
  Record rec;
  EXPECT_EQ(rr.next(in, rec), Status::kError);
  EXPECT_NE(rr.error().to_string().find("HTTP"), std::string::npos) << rr.error().to_string();
}

TEST(RecordMarkingTest, DeclaredLengthAllocatesNothingUntilBytesArrive) {
  RecordReader rr(RecordOptions{size_t{1} << 31});
  auto s = from_hex("ffffffff 01020304 05060708");  // 2^31-1 announced, 8 present
  std::span<const uint8_t> in(s);
  Record rec;
  EXPECT_EQ(rr.next(in, rec), Status::kNeedMore);
  EXPECT_EQ(rr.buffered(), 8u);
  std::vector<uint8_t> taken = rr.take();  // nothing to take mid-record
  EXPECT_TRUE(taken.empty());
}

TEST(RecordMarkingTest, TakeKeepsARecordPastTheNextCall) {
  auto s = from_hex("00000002 0102 80000002 0304 80000001 ff");
  RecordReader rr;
  std::span<const uint8_t> in(s);
  Record rec;
  ASSERT_EQ(rr.next(in, rec), Status::kRecord);
  EXPECT_FALSE(rec.borrowed);
  std::vector<uint8_t> kept = rr.take();
  ASSERT_EQ(rr.next(in, rec), Status::kRecord);
  EXPECT_EQ(kept, from_hex("01020304"));
}

TEST(RecordMarkingTest, ReassemblesLibtirpcXdrrecStreams) {
  // libtirpc splits records into fragments of its send buffer size (4-byte aligned, minus the
  // mark); reassemble what it wrote, in awkward chunkings.
  std::mt19937 rng(3);
  for (unsigned sendsize : {100u, 4000u, 65536u}) {
    for (uint32_t n : {0u, 1u, 1000u, 100000u}) {
      std::vector<uint8_t> payload(n);
      for (auto& b : payload) b = static_cast<uint8_t>(rng());
      std::vector<uint8_t> stream(n + n / 8 + 1024);
      const int len =
          tirpc_rec_encode_bytes(payload.data(), n, sendsize, stream.data(), stream.size());
      ASSERT_GT(len, 0);
      stream.resize(static_cast<size_t>(len));
      for (size_t chunk : {size_t{1} << 20, size_t{4093}, size_t{7}}) {
        if (chunk == 7 && n > 1000) continue;
        RecordReader rr;
        auto recs = feed(rr, stream, {chunk});
        ASSERT_EQ(recs.size(), 1u);
        XdrReader r(recs[0]);
        std::span<const uint8_t> got;
        ASSERT_TRUE(r.get_opaque(got, 0xffffffffu) && r.finish()) << r.error().to_string();
        EXPECT_TRUE(std::equal(got.begin(), got.end(), payload.begin(), payload.end()));
      }
    }
  }
}

}  // namespace
}  // namespace ringrpc::xdr
