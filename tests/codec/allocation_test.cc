// "No heap allocation per message in steady state" and "a declared length of 2^31 with 8 bytes
// present allocates nothing", checked by counting every operator new in this binary plus the
// codec's cold-path allocations (pool slabs, arena blocks).
#include <gtest/gtest.h>

#include "codec/record_marking.h"
#include "codec/rpc_msg.h"
#include "tests/support/alloc_counter.h"
#include "tests/support/bench_record_codec.h"
#include "tests/support/test_util.h"

namespace ringrpc {
namespace {

uint64_t allocations() { return testing::allocation_count(); }

TEST(AllocationTest, HugeDeclaredLengthsAllocateNothing) {
  auto b = testing::from_hex("80000000 01020304 05060708");
  const uint64_t before = allocations();
  std::vector<uint8_t> owned;
  std::string s;
  xdr::XdrReader r1(b), r2(b);
  EXPECT_FALSE(r1.get_opaque(owned, 0xffffffffu));
  EXPECT_FALSE(r2.get_string(s, 0xffffffffu));
  Arena arena(Arena::Options{64, 1 << 20});
  xdr::XdrReader r3(b);
  uint32_t n{};
  std::span<const uint32_t> v;
  EXPECT_FALSE(r3.get_count(n, 0xffffffffu) && r3.get_array(v, n, arena));
  EXPECT_EQ(allocations(), before);
}

TEST(AllocationTest, SteadyStateEncodeAndDecodeAllocateNothing) {
  BufferPool pool;
  xdr::OutMessage msg;
  Arena arena;
  const int32_t values[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  testing::BenchItem second{2, -2, nullptr};
  testing::BenchItem first{1, -1, &second};
  testing::BenchRecord rec;
  rec.name = "ringrpc-benchmark-item";
  rec.values = values;
  rec.items = &first;

  uint64_t before = 0;
  for (int round = 0; round < 100; ++round) {
    if (round == 2) before = allocations();  // the first rounds grow pools and vectors
    msg.clear();
    {
      xdr::XdrWriter w(pool, msg);
      rpc::CallHeader h;
      h.xid = static_cast<uint32_t>(round);
      ASSERT_TRUE(rpc::encode_call_header(w, h) && testing::encode(w, rec) && w.finish());
    }
    const iovec& v = msg.iov()[0];
    std::span<const uint8_t> in(static_cast<const uint8_t*>(v.iov_base), v.iov_len);
    xdr::RecordReader rr;
    xdr::Record record;
    ASSERT_EQ(rr.next(in, record), xdr::RecordReader::Status::kRecord);
    arena.reset();
    xdr::XdrReader r(record.data);
    rpc::CallHeader h;
    testing::BenchRecord got;
    ASSERT_TRUE(rpc::decode_call_header(r, h) && testing::decode(r, got, arena) && r.finish());
    ASSERT_EQ(testing::checksum(got), testing::checksum(rec));
  }
  EXPECT_EQ(allocations(), before);
}

}  // namespace
}  // namespace ringrpc
