// XdrWriter: byte-exact output, the reserved record mark, fragment and segment boundaries at
// every offset, referenced opaque data, and encode-side refusals.
#include "codec/xdr_writer.h"

#include <gtest/gtest.h>

#include <random>

#include "codec/record_marking.h"
#include "tests/support/test_util.h"

namespace ringrpc::xdr {
namespace {

using testing::encode_flat;
using testing::from_hex;
using testing::to_hex;

TEST(XdrWriterTest, EncodesEveryType) {
  const uint8_t fixed[3] = {1, 2, 3};
  const uint8_t var[5] = {9, 8, 7, 6, 5};
  const int32_t ints[3] = {1, -2, 3};
  auto b = encode_flat([&](XdrWriter& w) {
    return w.put_i32(-2) && w.put_u32(7) && w.put_i64(-1234567890123) && w.put_u64(1) &&
           w.put_bool(true) && w.put_f32(1.5f) && w.put_f64(-0.1) &&
           w.put_quadruple({0x3fff000000000000ull, 2}) && w.put_fixed_opaque(fixed) &&
           w.put_opaque(var, 8) && w.put_string("hello", 5) && w.put_count(3, 3) &&
           w.put_array(ints, 3) && w.put_optional(false);
  });
  EXPECT_EQ(
      to_hex(b),
      to_hex(from_hex("fffffffe 00000007 fffffee0 8e04fb35 00000000 00000001 00000001 3fc00000 "
                      "bfb99999 9999999a"
                      "3fff0000 00000000 00000000 00000002 01020300 00000005 09080706 05000000"
                      "00000005 68656c6c 6f000000 00000003 00000001 fffffffe 00000003 00000000")));
}

TEST(XdrWriterTest, ReservesTheRecordMarkInFront) {
  BufferPool pool;
  OutMessage msg;
  XdrWriter w(pool, msg);
  ASSERT_TRUE(w.put_u32(1) && w.put_u32(2) && w.finish());
  ASSERT_EQ(msg.iov().size(), 1u);  // one buffer, one iovec: mark and body together
  EXPECT_EQ(to_hex(msg.flatten()), "80000008 00000001 00000002");
  EXPECT_EQ(msg.size(), 12u);
  EXPECT_EQ(w.size(), 8u);
}

TEST(XdrWriterTest, EmptyMessageIsOneEmptyLastFragment) {
  BufferPool pool;
  OutMessage msg;
  XdrWriter w(pool, msg);
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(to_hex(msg.flatten()), "80000000");
}

// Splits the same content at every fragment size and buffer size, then checks that the record
// reader gives back exactly the unmarked bytes, and that every fragment but the last is full.
TEST(XdrWriterTest, FragmentsAndSegmentsAtEveryBoundary) {
  std::mt19937 rng(7);
  std::vector<uint8_t> blob(300);
  for (auto& b : blob) b = static_cast<uint8_t>(rng());
  std::vector<uint64_t> hypers(9);
  for (auto& h : hypers) h = (uint64_t{rng()} << 32) | rng();

  auto content = [&](XdrWriter& w, size_t blob_len, bool by_ref) {
    std::span<const uint8_t> data(blob.data(), blob_len);
    return w.put_u32(0xdeadbeef) &&
           (by_ref ? w.put_opaque_ref(data, 1000) : w.put_opaque(data, 1000)) &&
           w.put_u64(0x0102030405060708ull) && w.put_array(hypers.data(), hypers.size()) &&
           w.put_string("tail", 10);
  };

  for (size_t buffer_size : {64u, 128u, 4096u}) {
    for (uint32_t max_fragment : {1u, 3u, 4u, 5u, 7u, 8u, 13u, 64u, 100u, kMaxFragment}) {
      for (size_t blob_len : {0u, 1u, 5u, 63u, 64u, 65u, 299u}) {
        for (bool by_ref : {false, true}) {
          const auto flat = encode_flat([&](XdrWriter& w) { return content(w, blob_len, by_ref); });
          BufferPool pool(BufferPool::Options{buffer_size, 4, 0});
          OutMessage msg;
          XdrWriter w(pool, msg, {true, max_fragment, true});
          ASSERT_TRUE(content(w, blob_len, by_ref) && w.finish()) << w.error().to_string();
          EXPECT_EQ(w.size(), flat.size());
          const auto stream = msg.flatten();
          ASSERT_EQ(stream.size(), msg.size());

          // Walk the fragments.
          size_t pos = 0, payload = 0, frags = 0;
          bool last = false;
          while (!last) {
            ASSERT_LE(pos + 4, stream.size());
            const uint32_t h = load_be32(stream.data() + pos);
            last = (h & kLastFragmentBit) != 0;
            const uint32_t len = h & ~kLastFragmentBit;
            if (!last) {
              EXPECT_EQ(len, max_fragment);
            }
            pos += 4 + len;
            payload += len;
            ++frags;
          }
          EXPECT_EQ(pos, stream.size());
          EXPECT_EQ(payload, flat.size());

          RecordReader rr;
          std::span<const uint8_t> in(stream);
          Record rec;
          ASSERT_EQ(rr.next(in, rec), RecordReader::Status::kRecord);
          EXPECT_TRUE(in.empty());
          EXPECT_EQ(rec.fragments, frags);
          ASSERT_EQ(std::vector<uint8_t>(rec.data.begin(), rec.data.end()), flat)
              << "buffer " << buffer_size << " fragment " << max_fragment << " blob " << blob_len;
          msg.clear();
        }
      }
    }
  }
}

TEST(XdrWriterTest, OpaqueRefIsNotCopied) {
  std::vector<uint8_t> big(10000, 0x5a);
  BufferPool pool;
  OutMessage msg;
  XdrWriter w(pool, msg);
  ASSERT_TRUE(w.put_u32(1) && w.put_opaque_ref(big, 20000) && w.put_u32(2) && w.finish());
  ASSERT_EQ(msg.iov().size(), 3u);
  EXPECT_EQ(msg.iov()[1].iov_base, big.data());
  EXPECT_EQ(msg.iov()[1].iov_len, big.size());
  EXPECT_EQ(msg.size(), 4 + 4 + 4 + 10000 + 4u);
}

// Raw bytes by reference inside a pooled buffer: not copied, in order with the bytes around
// them, and the buffer kept (one more reference) for as long as the message, then let go.
TEST(XdrWriterTest, BytesRefKeepsItsBuffer) {
  BufferPool pool;
  Buffer owner = pool.acquire();
  ASSERT_TRUE(owner);
  for (size_t i = 0; i < 3000; ++i) owner.data()[i] = static_cast<uint8_t>(i * 7);
  const std::span<const uint8_t> part(owner.data() + 100, 2500);
  OutMessage msg;
  EncodeOptions raw;
  raw.record_mark = false;
  {
    XdrWriter w(pool, msg, raw);
    ASSERT_TRUE(w.put_u32(0xabcdef01) && w.put_bytes_ref(part, owner) && w.put_u32(2) &&
                w.finish());
  }
  EXPECT_EQ(owner.use_count(), 2u);
  ASSERT_EQ(msg.iov().size(), 3u);
  EXPECT_EQ(msg.iov()[1].iov_base, part.data());
  EXPECT_EQ(msg.size(), 4 + part.size() + 4);
  const std::vector<uint8_t> flat = msg.flatten();
  ASSERT_EQ(flat.size(), msg.size());
  EXPECT_EQ(to_hex(std::vector<uint8_t>(flat.begin(), flat.begin() + 4)), "abcdef01");
  EXPECT_TRUE(std::equal(part.begin(), part.end(), flat.begin() + 4));
  EXPECT_EQ(to_hex(std::vector<uint8_t>(flat.end() - 4, flat.end())), "00000002");
  msg.clear();
  EXPECT_EQ(owner.use_count(), 1u);
}

TEST(XdrWriterTest, RefusesWhatTheStrictDecoderRefuses) {
  XdrError e;
  EXPECT_TRUE(encode_flat([](XdrWriter& w) { return w.put_string("toolong", 3); }, &e).empty());
  EXPECT_EQ(e.code, XdrErrc::kEncodeOverMax);
  EXPECT_EQ(e.value, 7u);
  EXPECT_EQ(e.limit, 3u);
  using namespace std::string_view_literals;
  EXPECT_TRUE(encode_flat([](XdrWriter& w) { return w.put_string("a\0b"sv, 8); }, &e).empty());
  EXPECT_EQ(e.code, XdrErrc::kEmbeddedNul);
  EXPECT_TRUE(encode_flat([](XdrWriter& w) { return w.put_count(17, 16); }, &e).empty());
  EXPECT_EQ(e.code, XdrErrc::kEncodeOverMax);
}

TEST(XdrWriterTest, MovingAMessageLeavesTheSourceEmpty) {
  BufferPool pool(BufferPool::Options{64, 8, 0});
  OutMessage a;
  const std::vector<uint8_t> data(300, 7);  // referenced below: must outlive the messages
  {
    XdrWriter w(pool, a);  // several buffers, more than four iovecs
    ASSERT_TRUE(w.put_opaque(data, 1000) && w.put_opaque_ref(data, 1000) && w.finish());
  }
  const auto bytes = a.flatten();
  ASSERT_GT(a.iov().size(), 4u);
  OutMessage b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(a.iov().size(), 0u);
  EXPECT_EQ(b.flatten(), bytes);
  OutMessage c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.flatten(), bytes);
  const size_t in_use = pool.buffers_in_use();
  EXPECT_GT(in_use, 1u);
  c.clear();
  EXPECT_EQ(pool.buffers_in_use(), 0u);
}

TEST(XdrWriterTest, PoolExhaustionIsAnErrorNotACrash) {
  BufferPool pool(BufferPool::Options{64, 1, 1});
  OutMessage msg;
  XdrWriter w(pool, msg);
  std::vector<uint8_t> data(100, 1);
  EXPECT_FALSE(w.put_opaque(data, 1000));
  EXPECT_EQ(w.error().code, XdrErrc::kNoSpace);
  EXPECT_FALSE(w.put_u32(1));  // sticky
  EXPECT_FALSE(w.finish());
  msg.clear();
  EXPECT_EQ(pool.buffers_in_use(), 0u);
}

}  // namespace
}  // namespace ringrpc::xdr
