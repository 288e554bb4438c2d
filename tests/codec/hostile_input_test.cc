// Hostile input: every truncation of every vector is an error, and random mutations of every
// vector end in a clean decode or a typed error whose offset lies inside the input: never a
// crash, a hang, or a read outside the buffer (the sanitizer build checks the last part).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>

#include "codec/record_marking.h"
#include "codec/rpc_msg.h"
#include "tests/support/bench_record_codec.h"
#include "tests/support/test_util.h"
#include "tests/support/tirpc_shim.h"

namespace ringrpc::xdr {
namespace {

using Decoder = std::function<bool(std::span<const uint8_t>, XdrError&)>;

struct Vector {
  const char* name;
  std::vector<uint8_t> bytes;
  Decoder decode;
};

std::vector<Vector> vectors() {
  std::vector<Vector> v;
  auto arena = std::make_shared<Arena>();  // shared by the decoders below

  tirpc_bench_plain p{};
  p.a = -1;
  p.b = 7;
  p.h = -1234567890123;
  p.d = 2.5;
  p.flag = 1;
  std::strcpy(p.name, "ringrpc-benchmark-item");
  p.nvalues = 16;
  for (int i = 0; i < 16; ++i) p.values[i] = i * 1000;
  p.nitems = 2;
  p.items[0] = {1, 100};
  p.items[1] = {2, 200};
  void* native = tirpc_bench_make(&p);
  std::vector<uint8_t> rec(1024);
  rec.resize(static_cast<size_t>(tirpc_bench_encode(native, rec.data(), rec.size())));
  tirpc_bench_destroy(native);
  v.push_back({"bench_record", rec, [arena](std::span<const uint8_t> b, XdrError& e) {
                 arena->reset();
                 XdrReader r(b);
                 testing::BenchRecord out;
                 const bool ok = testing::decode(r, out, *arena) && r.finish();
                 e = r.error();
                 return ok;
               }});

  const uint32_t gids[3] = {4, 24, 27};
  std::vector<uint8_t> cred(512);
  cred.resize(static_cast<size_t>(tirpc_enc_authsys(1700000000, "client.example", 1000, 1000, 3,
                                                    gids, cred.data(), cred.size())));
  std::vector<uint8_t> call(1024);
  call.resize(static_cast<size_t>(
      tirpc_enc_call(42, 100003, 3, 1, {1, cred.data(), static_cast<uint32_t>(cred.size())},
                     {0, nullptr, 0}, call.data(), call.size())));
  v.push_back({"call_header+authsys", call, [](std::span<const uint8_t> b, XdrError& e) {
                 XdrReader r(b);
                 rpc::CallHeader h;
                 if (!rpc::decode_call_header(r, h) || !r.finish()) {
                   e = r.error();
                   return false;
                 }
                 rpc::AuthSysParms a;
                 return rpc::decode_authsys(h.cred.body, a, {}, &e);
               }});

  for (int astat : {0, 2, 4}) {
    std::vector<uint8_t> reply(256);
    reply.resize(
        static_cast<size_t>(tirpc_enc_accepted_reply(9, astat, 2, 3, reply.data(), reply.size())));
    v.push_back({"accepted_reply", reply, [](std::span<const uint8_t> b, XdrError& e) {
                   XdrReader r(b);
                   rpc::ReplyHeader h;
                   const bool ok = rpc::decode_reply_header(r, h) && r.finish();
                   e = r.error();
                   return ok;
                 }});
  }
  std::vector<uint8_t> denied(256);
  denied.resize(
      static_cast<size_t>(tirpc_enc_denied_reply(9, 1, 0, 0, 5, denied.data(), denied.size())));
  v.push_back({"denied_reply", denied, v.back().decode});

  // A mixed message: opaque<>, string<>, a union with a default arm, hyper array, quadruple.
  auto mixed = testing::encode_flat([](XdrWriter& w) {
    const uint8_t o[5] = {1, 2, 3, 4, 5};
    const uint64_t h[3] = {1, 2, 3};
    return w.put_opaque(o, 16) && w.put_string("abc", 8) && w.put_i32(7) &&
           w.put_string("dflt", 16) && w.put_count(3, 8) && w.put_array(h, 3) &&
           w.put_quadruple({1, 2});
  });
  v.push_back({"mixed", mixed, [](std::span<const uint8_t> b, XdrError& e) {
                 XdrReader r(b);
                 std::span<const uint8_t> o;
                 std::string_view s, d;
                 int32_t disc = 0;
                 uint32_t n = 0;
                 uint64_t h[8]{};
                 Quadruple q{};
                 bool ok = r.get_opaque(o, 16) && r.get_string(s, 8) && r.get_i32(disc);
                 if (ok && disc == 1)
                   ok = r.get_i32(disc);
                 else if (ok)
                   ok = r.get_string(d, 16);
                 ok = ok && r.get_count(n, 8, 8) && r.get_array(h, n) && r.get_quadruple(q) &&
                      r.finish();
                 e = r.error();
                 return ok;
               }});
  return v;
}

TEST(HostileInputTest, EveryTruncationIsAnError) {
  for (const Vector& v : vectors()) {
    XdrError e;
    ASSERT_TRUE(v.decode(v.bytes, e)) << v.name << ": " << e.to_string();
    for (size_t len = 0; len < v.bytes.size(); ++len) {
      // A fresh copy of exactly `len` bytes, so the sanitizer sees any read past the end.
      std::vector<uint8_t> cut(v.bytes.begin(), v.bytes.begin() + static_cast<ptrdiff_t>(len));
      e = {};
      EXPECT_FALSE(v.decode(cut, e)) << v.name << " truncated to " << len;
      EXPECT_NE(e.code, XdrErrc::kOk) << v.name << " truncated to " << len;
      EXPECT_LE(e.offset, len);
    }
  }
}

TEST(HostileInputTest, RandomMutationsNeverCrash) {
  std::mt19937 rng(99);
  size_t refused = 0, accepted = 0;
  for (const Vector& v : vectors()) {
    for (int i = 0; i < 3000; ++i) {
      std::vector<uint8_t> m = v.bytes;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        const size_t at = rng() % m.size();
        switch (rng() % 4) {
          case 0:
            m[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
          case 1:
            m[at] = static_cast<uint8_t>(rng());
            break;
          case 2:
            m[at] = (rng() % 2) ? 0xff : 0x00;
            break;
          default:  // a length-like word
            if (at + 4 <= m.size())
              store_be32(&m[at & ~size_t{3}],
                         rng() % 2 ? 0x7fffffffu : static_cast<uint32_t>(rng() % 1024));
        }
      }
      XdrError e;
      if (v.decode(m, e)) {
        ++accepted;
      } else {
        ++refused;
        EXPECT_NE(e.code, XdrErrc::kOk);
        EXPECT_LE(e.offset, m.size());
        EXPECT_FALSE(e.to_string().empty());
      }
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(accepted, 0u);  // mutations of data bytes (not lengths) still decode
}

TEST(HostileInputTest, MutatedRecordStreams) {
  std::mt19937 rng(5);
  auto base =
      testing::from_hex("00000004 01020304 80000008 0a0b0c0d 0e0f1011 80000000 80000004 aabbccdd");
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> m = base;
    m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    RecordReader rr(RecordOptions{64});
    size_t pos = 0;
    while (pos < m.size()) {
      const size_t n = std::min<size_t>(1 + rng() % 9, m.size() - pos);
      std::vector<uint8_t> chunk(m.begin() + static_cast<ptrdiff_t>(pos),
                                 m.begin() + static_cast<ptrdiff_t>(pos + n));
      std::span<const uint8_t> in(chunk);
      pos += n;
      Record rec;
      RecordReader::Status st;
      while ((st = rr.next(in, rec)) == RecordReader::Status::kRecord) {
        ASSERT_LE(rec.data.size(), 64u);
      }
      if (st == RecordReader::Status::kError) {
        ASSERT_EQ(rr.error().code, XdrErrc::kRecordTooLarge);
        break;
      }
    }
  }
}

}  // namespace
}  // namespace ringrpc::xdr
