// RecordReader: every chunking, multi-fragment and zero-length fragments, the maximum record
// size, the zero-copy fast path, and a stream written by libtirpc's own xdrrec.
#include "codec/record_marking.h"

#include "codec/xdr_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
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

// Feeds `stream` as the proxy does: each chunk in a pooled receive buffer passed as its owner,
// except where `owned` (cycling) says no. Returns the records, however each came back, and
// counts those that came back as pieces.
struct OwnedFeed {
  std::vector<std::vector<uint8_t>> records;
  size_t pieced = 0;
  size_t copied = 0;  // bytes of pieced records that were copied first (pieces with no owner)
  Status last = Status::kNeedMore;
};
OwnedFeed feed_owned(RecordReader& rr, BufferPool& pool, const std::vector<uint8_t>& stream,
                     const std::vector<size_t>& chunks, const std::vector<bool>& owned = {true}) {
  OwnedFeed f;
  size_t pos = 0, ci = 0;
  while (pos < stream.size()) {
    const bool own = owned[ci % owned.size()];
    const size_t n =
        std::min({chunks[ci++ % chunks.size()], stream.size() - pos, pool.buffer_size()});
    Buffer b = pool.acquire();
    EXPECT_TRUE(b);
    std::memcpy(b.data(), stream.data() + pos, n);
    pos += n;
    std::span<const uint8_t> in(b.data(), n);
    Record rec;
    while ((f.last = rr.next(in, rec, own ? &b : nullptr)) == Status::kRecord) {
      if (rec.pieces.empty()) {
        f.records.emplace_back(rec.data.begin(), rec.data.end());
        continue;
      }
      EXPECT_TRUE(rec.data.empty());
      ++f.pieced;
      for (const BufferPiece& p : rec.pieces) f.copied += p.owner ? 0 : p.bytes.size();
      std::vector<uint8_t> r(total_size(rec.pieces));
      EXPECT_TRUE(copy_front(rec.pieces, r.data(), r.size()));
      f.records.push_back(std::move(r));
    }
    if (f.last == Status::kError) break;
    EXPECT_TRUE(in.empty());
  }
  return f;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}
void append_fragment(std::vector<uint8_t>& s, std::span<const uint8_t> bytes, bool last) {
  const uint32_t h = static_cast<uint32_t>(bytes.size()) | (last ? 0x80000000u : 0);
  for (int sh = 24; sh >= 0; sh -= 8) s.push_back(static_cast<uint8_t>(h >> sh));
  s.insert(s.end(), bytes.begin(), bytes.end());
}

TEST(RecordMarkingTest, LargeRecordsComeBackAsPiecesOfTheirBuffers) {
  // A small record, a 100 KB one in one fragment, one of 3 fragments (a small one, then two
  // large), and a small one after: in any chunking, with owners, the large ones come back as
  // pieces with exactly their bytes, the small ones as before.
  const auto big = pattern(100000, 1), f1 = pattern(100, 2), f2 = pattern(40000, 3),
             f3 = pattern(50000, 4), small = pattern(24, 5);
  std::vector<uint8_t> s;
  append_fragment(s, small, true);
  append_fragment(s, big, true);
  append_fragment(s, f1, false);
  append_fragment(s, f2, false);
  append_fragment(s, f3, true);
  append_fragment(s, small, true);
  std::vector<uint8_t> joined = f1;
  joined.insert(joined.end(), f2.begin(), f2.end());
  joined.insert(joined.end(), f3.begin(), f3.end());
  const std::vector<std::vector<uint8_t>> want = {small, big, joined, small};

  BufferPool pool(BufferPool::Options{65536, 4, 0});
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::vector<size_t> chunks(6);
    for (auto& c : chunks) c = i < 100 ? 1 + rng() % 65536 : 1 + rng() % 3000;
    RecordReader rr;
    OwnedFeed f = feed_owned(rr, pool, s, chunks);
    EXPECT_EQ(f.last, Status::kNeedMore);
    EXPECT_EQ(f.records, want) << "chunking " << i;
    EXPECT_LE(f.pieced, 2u);
    // One more call (as a reader's loop makes after a record) lets go of the last buffers.
    std::span<const uint8_t> none;
    Record rec;
    EXPECT_EQ(rr.next(none, rec), Status::kNeedMore);
    EXPECT_EQ(pool.buffers_in_use(), 0u);
  }
  // Chunks smaller than the large records: those two always come back as pieces; unless the
  // chunks are slivers of under half reference_from (a peer trickling bytes), whose buffers are
  // not worth pinning.
  RecordReader rr;
  EXPECT_EQ(feed_owned(rr, pool, s, {30000}).pieced, 2u);
  RecordReader trickled;
  OwnedFeed f = feed_owned(trickled, pool, s, {3000});
  EXPECT_EQ(f.pieced, 0u);
  EXPECT_EQ(f.records, want);
  // Without owners, nothing changes.
  RecordReader plain;
  EXPECT_EQ(feed(plain, s, {30000}), want);
}

TEST(RecordMarkingTest, LibtirpcFragmentsInFullBuffersStayInPieces) {
  // libtirpc cuts a large record into fragments of its 64 KiB send buffer: in 64 KiB receive
  // buffers, behind a record that leaves 10 bytes of the first chunk, every chunk ends with
  // the 10-byte start of the next fragment, which is no sliver.
  const auto big = pattern(3000000, 13), lead = pattern(65536 - 4 - 4 - 10, 1);
  std::vector<uint8_t> s;
  append_fragment(s, lead, true);
  for (size_t pos = 0; pos < big.size(); pos += 65532) {
    const size_t n = std::min<size_t>(65532, big.size() - pos);
    append_fragment(s, std::span<const uint8_t>(big).subspan(pos, n), pos + n == big.size());
  }
  BufferPool pool(BufferPool::Options{65536, 4, 0});
  RecordReader rr;
  OwnedFeed f = feed_owned(rr, pool, s, {65536});
  EXPECT_EQ(f.records, (std::vector<std::vector<uint8_t>>{lead, big}));
  EXPECT_EQ(f.pieced, 1u);
  EXPECT_EQ(f.copied, 0u);
}

TEST(RecordMarkingTest, AMissingOwnerMidRecordSwitchesBackToCopying) {
  // The proxy stops passing owners when its receive buffers run short: whatever chunks come
  // with or without one, the records are the same, and buffers are not held once copied.
  const auto big = pattern(300000, 9);
  std::vector<uint8_t> s;
  append_fragment(s, std::span<const uint8_t>(big).first(1000), false);
  append_fragment(s, std::span<const uint8_t>(big).subspan(1000), true);
  append_fragment(s, big, true);
  BufferPool pool(BufferPool::Options{65536, 4, 0});
  std::mt19937 rng(3);
  size_t pieced = 0;
  for (int i = 0; i < 100; ++i) {
    std::vector<size_t> chunks(5);
    for (auto& c : chunks) c = 1000 + rng() % 64536;
    std::vector<bool> owned(7);
    for (size_t j = 0; j < owned.size(); ++j) owned[j] = (rng() % 3) != 0;
    RecordReader rr;
    OwnedFeed f = feed_owned(rr, pool, s, chunks, owned);
    EXPECT_EQ(f.records, (std::vector<std::vector<uint8_t>>{big, big})) << "run " << i;
    pieced += f.pieced;
  }
  EXPECT_GT(pieced, 0u);  // some runs had owners for every chunk of a record
}

TEST(RecordMarkingTest, PiecesKeepTheirBuffersAlive) {
  const auto big = pattern(70000, 11);
  std::vector<uint8_t> s;
  append_fragment(s, big, true);
  BufferPool pool(BufferPool::Options{65536, 4, 0});
  std::vector<BufferPiece> kept;
  {
    RecordReader rr;
    for (size_t pos = 0; pos < s.size();) {
      const size_t n = std::min<size_t>(40000, s.size() - pos);
      Buffer b = pool.acquire();
      std::memcpy(b.data(), s.data() + pos, n);
      pos += n;
      std::span<const uint8_t> in(b.data(), n);
      Record rec;
      if (rr.next(in, rec, &b) == Status::kRecord)
        kept.assign(rec.pieces.begin(), rec.pieces.end());
    }
    ASSERT_EQ(kept.size(), 2u);
  }
  // The reader and the chunks' own handles are gone; the copies of the owners hold the bytes.
  EXPECT_EQ(pool.buffers_in_use(), 2u);
  std::vector<uint8_t> r(total_size(kept));
  ASSERT_TRUE(copy_front(kept, r.data(), r.size()));
  EXPECT_EQ(r, big);
  std::span<BufferPiece> tail(kept);
  drop_front(tail, 39996);  // the first chunk's bytes after the mark
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail.front().bytes.size(), 70000u - 39996u);
  kept.clear();
  EXPECT_EQ(pool.buffers_in_use(), 0u);
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
