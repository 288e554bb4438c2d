// Golden vectors: libtirpc's own xdr_* routines encode boundary values of every XDR type and
// every RPC header shape; ringrpc must produce the same bytes and decode libtirpc's bytes to the
// same values. The few literal vectors come from reference/onc-rpc.md section 4 (also libtirpc).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "codec/rpc_msg.h"
#include "codec/xdr_reader.h"
#include "tests/support/test_util.h"
#include "tests/support/tirpc_shim.h"

namespace ringrpc::xdr {
namespace {

using testing::encode_flat;
using testing::from_hex;
using testing::to_hex;

// Runs a libtirpc encoder into a fresh buffer.
template <typename F>
std::vector<uint8_t> tirpc(F&& enc) {
  std::vector<uint8_t> buf(4096);
  const int n = enc(buf.data(), buf.size());
  if (n < 0) return {};
  buf.resize(static_cast<size_t>(n));
  return buf;
}

TEST(TirpcGoldenTest, LiteralVectorsFromTheReference) {
  EXPECT_EQ(to_hex(tirpc([](uint8_t* b, size_t c) { return tirpc_enc_int(-2, b, c); })),
            "fffffffe");
  EXPECT_EQ(
      to_hex(tirpc([](uint8_t* b, size_t c) { return tirpc_enc_hyper(-1234567890123, b, c); })),
      "fffffee0 8e04fb35");
  EXPECT_EQ(to_hex(encode_flat([](XdrWriter& w) { return w.put_i64(-1234567890123); })),
            "fffffee0 8e04fb35");
  EXPECT_EQ(to_hex(encode_flat([](XdrWriter& w) { return w.put_f64(-0.1); })), "bfb99999 9999999a");
}

TEST(TirpcGoldenTest, Int) {
  for (int32_t v :
       {0, 1, -1, 2, -2, 127, 128, 255, 256, 65535, 65536, INT32_MAX, INT32_MIN, INT32_MIN + 1}) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_int(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_i32(v); }), theirs) << v;
    XdrReader r(theirs);
    int32_t got{};
    ASSERT_TRUE(r.get_i32(got) && r.finish());
    EXPECT_EQ(got, v);
    auto as_enum = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_enum(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_enum(v); }), as_enum);
  }
}

TEST(TirpcGoldenTest, UnsignedInt) {
  for (uint32_t v : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu, 0x01020304u}) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_uint(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_u32(v); }), theirs);
    XdrReader r(theirs);
    uint32_t got{};
    ASSERT_TRUE(r.get_u32(got) && r.finish());
    EXPECT_EQ(got, v);
  }
}

TEST(TirpcGoldenTest, Bool) {
  for (bool v : {false, true}) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_bool(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_bool(v); }), theirs);
    XdrReader r(theirs);
    bool got{};
    ASSERT_TRUE(r.get_bool(got) && r.finish());
    EXPECT_EQ(got, v);
  }
  // libtirpc decodes any non-zero value as TRUE; that is what lenient mode matches.
  auto two = from_hex("00000002");
  int theirs = 0;
  ASSERT_EQ(tirpc_dec_bool(two.data(), two.size(), &theirs), 1);
  EXPECT_EQ(theirs, 1);
  XdrReader lenient(two, {false, 64});
  bool ours = false;
  ASSERT_TRUE(lenient.get_bool(ours));
  EXPECT_TRUE(ours);
}

TEST(TirpcGoldenTest, Hyper) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, INT64_MAX, INT64_MIN, int64_t{1} << 32,
                    -(int64_t{1} << 32), int64_t{0x0102030405060708}}) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_hyper(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_i64(v); }), theirs);
    XdrReader r(theirs);
    int64_t got{};
    ASSERT_TRUE(r.get_i64(got) && r.finish());
    EXPECT_EQ(got, v);
  }
  for (uint64_t v : {uint64_t{0}, ~uint64_t{0}, uint64_t{1} << 63, uint64_t{0xfedcba9876543210}}) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_uhyper(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_u64(v); }), theirs);
    XdrReader r(theirs);
    uint64_t got{};
    ASSERT_TRUE(r.get_u64(got) && r.finish());
    EXPECT_EQ(got, v);
  }
}

TEST(TirpcGoldenTest, FloatAndDouble) {
  const float fs[] = {0.0f,
                      -0.0f,
                      1.5f,
                      -1.5f,
                      std::numeric_limits<float>::min(),
                      std::numeric_limits<float>::denorm_min(),
                      std::numeric_limits<float>::max(),
                      std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::quiet_NaN()};
  for (float v : fs) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_float(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_f32(v); }), theirs);
    XdrReader r(theirs);
    float got{};
    ASSERT_TRUE(r.get_f32(got) && r.finish());
    EXPECT_EQ(std::memcmp(&got, &v, 4), 0);
  }
  const double ds[] = {0.0,
                       -0.0,
                       -0.1,
                       1e300,
                       std::numeric_limits<double>::denorm_min(),
                       std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()};
  for (double v : ds) {
    auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_double(v, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_f64(v); }), theirs);
    XdrReader r(theirs);
    double got{};
    ASSERT_TRUE(r.get_f64(got) && r.finish());
    EXPECT_EQ(std::memcmp(&got, &v, 8), 0);
  }
}

TEST(TirpcGoldenTest, VoidIsNothing) {
  auto theirs = tirpc([](uint8_t* b, size_t c) { return tirpc_enc_void(b, c); });
  EXPECT_TRUE(theirs.empty());
  EXPECT_TRUE(encode_flat([](XdrWriter&) { return true; }).empty());
}

TEST(TirpcGoldenTest, OpaqueAndStringAtEveryPadding) {
  std::vector<uint8_t> data(70);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + 1);
  for (uint32_t n = 0; n <= 9; ++n) {
    auto fixed =
        tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_fixed_opaque(data.data(), n, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) {
                return w.put_fixed_opaque({data.data(), n});
              }),
              fixed);
    auto var =
        tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_bytes(data.data(), n, 64, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_opaque({data.data(), n}, 64); }), var);
    std::string s(n, 'x');
    for (uint32_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i);
    auto str = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_string(s.c_str(), 64, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_string(s, 64); }), str);

    XdrReader r1(fixed), r2(var), r3(str);
    std::span<const uint8_t> v1, v2;
    std::string_view v3;
    ASSERT_TRUE(r1.get_fixed_opaque(v1, n) && r1.finish());
    ASSERT_TRUE(r2.get_opaque(v2, 64) && r2.finish());
    ASSERT_TRUE(r3.get_string(v3, 64) && r3.finish());
    EXPECT_TRUE(std::equal(v1.begin(), v1.end(), data.begin()));
    EXPECT_TRUE(std::equal(v2.begin(), v2.end(), data.begin()));
    EXPECT_EQ(v3, s);
  }
  // Both refuse to encode over the maximum (the reference's string<3> "toolong" vector).
  std::vector<uint8_t> buf(64);
  EXPECT_LT(tirpc_enc_string("toolong", 3, buf.data(), buf.size()), 0);
  EXPECT_TRUE(encode_flat([](XdrWriter& w) { return w.put_string("toolong", 3); }).empty());
}

TEST(TirpcGoldenTest, ArraysFixedAndVariable) {
  const int32_t ints[] = {1, -2, 3, INT32_MIN, INT32_MAX};
  for (uint32_t n = 0; n <= 5; ++n) {
    auto var = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_int_array(ints, n, 16, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_count(n, 16) && w.put_array(ints, n); }),
              var);
    auto fixed = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_int_vector(ints, n, b, c); });
    EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_array(ints, n); }), fixed);
    XdrReader r(var);
    uint32_t count{};
    int32_t got[5]{};
    ASSERT_TRUE(r.get_count(count, 16) && r.get_array(got, count) && r.finish());
    EXPECT_EQ(count, n);
    EXPECT_TRUE(std::equal(got, got + n, ints));
  }
  const uint64_t uh[] = {0, ~uint64_t{0}, 42};
  auto theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_uhyper_array(uh, 3, 8, b, c); });
  EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_count(3, 8) && w.put_array(uh, 3); }),
            theirs);
  const double ds[] = {-0.1, 2.5};
  theirs = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_double_array(ds, 2, 8, b, c); });
  EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_count(2, 8) && w.put_array(ds, 2); }),
            theirs);
}

TEST(TirpcGoldenTest, OptionalData) {
  const int32_t v = 42;
  auto present = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_optional_int(&v, b, c); });
  EXPECT_EQ(to_hex(present), "00000001 0000002a");
  EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_optional(true) && w.put_i32(v); }),
            present);
  auto absent = tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_optional_int(nullptr, b, c); });
  EXPECT_EQ(to_hex(absent), "00000000");
  EXPECT_EQ(encode_flat([&](XdrWriter& w) { return w.put_optional(false); }), absent);
}

// union switch (int d) { case 1: int i; case 2: unsigned hyper uh; case 3: void;
//                        default: string s<16>; }
TEST(TirpcGoldenTest, DiscriminatedUnions) {
  auto ours = [](int32_t d, int32_t i, uint64_t uh, const char* s) {
    return encode_flat([&](XdrWriter& w) {
      if (!w.put_i32(d)) return false;
      switch (d) {
        case 1:
          return w.put_i32(i);
        case 2:
          return w.put_u64(uh);
        case 3:
          return true;
        default:
          return w.put_string(s, 16);
      }
    });
  };
  for (int32_t d : {1, 2, 3, 0, -7, 1000}) {
    auto theirs =
        tirpc([&](uint8_t* b, size_t c) { return tirpc_enc_union(d, -5, 77, "dflt", 1, b, c); });
    ASSERT_FALSE(theirs.empty());
    EXPECT_EQ(ours(d, -5, 77, "dflt"), theirs) << d;
  }
  // Without a default arm libtirpc refuses an unknown discriminant, as ringrpc's decoders do.
  std::vector<uint8_t> buf(64);
  EXPECT_LT(tirpc_enc_union(9, 0, 0, "", 0, buf.data(), buf.size()), 0);
}

// Each case strict mode refuses: libtirpc's decoder accepts it, and so does lenient mode, with
// the value libtirpc sees. This is what "lenient = libtirpc" in codec/DESIGN.md rests on.
TEST(TirpcGoldenTest, LenientModeAcceptsWhatLibtirpcAccepts) {
  const DecodeOptions strict{true, 64}, lenient{false, 64};
  {  // bool 7
    auto b = from_hex("00000007");
    int theirs = -1;
    ASSERT_EQ(tirpc_dec_bool(b.data(), b.size(), &theirs), 1);
    bool ours = false;
    XdrReader s(b, strict), l(b, lenient);
    EXPECT_FALSE(s.get_bool(ours));
    ASSERT_TRUE(l.get_bool(ours));
    EXPECT_EQ(ours, theirs != 0);
  }
  {  // opaque<> with non-zero padding
    auto b = from_hex("00000001 41 ffffff");
    uint8_t out[8];
    uint32_t n = 0;
    ASSERT_EQ(tirpc_dec_bytes(b.data(), b.size(), 8, out, &n), 1);
    std::span<const uint8_t> ours;
    XdrReader s(b, strict), l(b, lenient);
    EXPECT_FALSE(s.get_opaque(ours, 8));
    ASSERT_TRUE(l.get_opaque(ours, 8) && l.finish());
    EXPECT_EQ(ours.size(), n);
  }
  {  // string<> with non-zero padding and an embedded NUL
    auto b = from_hex("00000003 610062 01");
    char out[9];
    ASSERT_EQ(tirpc_dec_string(b.data(), b.size(), 8, out), 1);
    std::string_view ours;
    XdrReader s(b, strict), l(b, lenient);
    EXPECT_FALSE(s.get_string(ours, 8));
    ASSERT_TRUE(l.get_string(ours, 8));
    EXPECT_EQ(ours.size(), 3u);  // libtirpc's C string stops at the NUL; the view keeps all bytes
  }
  {  // trailing bytes after the message
    auto b = from_hex("00000001 00000002");
    int32_t theirs = 0;
    ASSERT_EQ(tirpc_dec_int(b.data(), b.size(), &theirs), 1);
    EXPECT_EQ(tirpc_last_pos(), 4u);
    int32_t ours = 0;
    XdrReader s(b, strict), l(b, lenient);
    EXPECT_TRUE(s.get_i32(ours));
    EXPECT_FALSE(s.finish());
    EXPECT_TRUE(l.get_i32(ours) && l.finish());
  }
  {  // trailing bytes inside an AUTH_SYS credential body
    auto b = from_hex("00000001 00000001 68000000 00000002 00000003 00000000 deadbeef");
    uint32_t stamp{}, uid{}, gid{}, ngids{}, gids[16]{};
    char machine[256];
    ASSERT_EQ(tirpc_dec_authsys(b.data(), b.size(), &stamp, machine, &uid, &gid, &ngids, gids), 1);
    rpc::AuthSysParms ours;
    EXPECT_FALSE(rpc::decode_authsys(b, ours, strict));
    ASSERT_TRUE(rpc::decode_authsys(b, ours, lenient));
    EXPECT_EQ(ours.uid, uid);
  }
  {  // an enum value that is not a member: libtirpc's xdr_enum does not know the members
    auto b = from_hex("00000063");
    int32_t theirs = 0;
    ASSERT_EQ(tirpc_dec_int(b.data(), b.size(), &theirs), 1);
    int32_t ours = 0;
    auto is_member = [](int32_t v) { return v < 3; };
    XdrReader s(b, strict), l(b, lenient);
    EXPECT_FALSE(s.get_enum(ours, is_member));
    ASSERT_TRUE(l.get_enum(ours, is_member));
    EXPECT_EQ(ours, theirs);
  }
  {  // and where both refuse whatever the mode: a length over the declared maximum or the data
    auto over_max = from_hex("00000009 0102030405060708 09000000");
    auto over_data = from_hex("7fffffff 01020304");
    uint8_t out[16];
    uint32_t n{};
    EXPECT_EQ(tirpc_dec_bytes(over_max.data(), over_max.size(), 8, out, &n), 0);
    EXPECT_EQ(tirpc_dec_bytes(over_data.data(), over_data.size(), 8, out, &n), 0);
    std::span<const uint8_t> v;
    XdrReader a(over_max, lenient), b(over_data, lenient);
    EXPECT_FALSE(a.get_opaque(v, 8));
    EXPECT_FALSE(b.get_opaque(v, 0xffffffffu));
  }
}

}  // namespace
}  // namespace ringrpc::xdr

namespace ringrpc::rpc {
namespace {

using testing::encode_flat;
using testing::to_hex;
using xdr::XdrReader;

TEST(TirpcGoldenTest, CallHeaderAuthNone) {
  std::vector<uint8_t> theirs(512);
  theirs.resize(static_cast<size_t>(tirpc_enc_call(0x01020304, 100000, 2, 3, {0, nullptr, 0},
                                                   {0, nullptr, 0}, theirs.data(), theirs.size())));
  EXPECT_EQ(
      to_hex(theirs),
      "01020304 00000000 00000002 000186a0 00000002 00000003 00000000 00000000 00000000 00000000");
  CallHeader h;
  h.xid = 0x01020304;
  h.prog = 100000;
  h.vers = 2;
  h.proc = 3;
  EXPECT_EQ(encode_flat([&](xdr::XdrWriter& w) { return encode_call_header(w, h); }), theirs);
  XdrReader r(theirs);
  CallHeader got;
  ASSERT_TRUE(decode_call_header(r, got) && r.finish());
  EXPECT_EQ(got.xid, h.xid);
  EXPECT_EQ(got.rpcvers, 2u);
  EXPECT_EQ(got.prog, 100000u);
  EXPECT_EQ(got.proc, 3u);
}

TEST(TirpcGoldenTest, AuthSysBodyAndCall) {
  const uint32_t gids[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xffffffff};
  for (uint32_t ngids : {0u, 1u, 16u}) {
    for (std::string machine :
         {std::string(), std::string("h"), std::string("buildhost-17"), std::string(255, 'm')}) {
      std::vector<uint8_t> theirs(1024);
      int n = tirpc_enc_authsys(12345, machine.c_str(), 1000, 100, ngids, gids, theirs.data(),
                                theirs.size());
      ASSERT_GT(n, 0);
      theirs.resize(static_cast<size_t>(n));
      AuthSysParms p;
      p.stamp = 12345;
      p.machinename = machine;
      p.uid = 1000;
      p.gid = 100;
      p.ngids = ngids;
      std::copy(gids, gids + ngids, p.gids);
      std::vector<uint8_t> ours(authsys_size(p));
      size_t written = 0;
      ASSERT_TRUE(encode_authsys(p, ours, written));
      EXPECT_EQ(ours, theirs);
      AuthSysParms got;
      ASSERT_TRUE(decode_authsys(theirs, got));
      EXPECT_EQ(got.machinename, machine);
      EXPECT_EQ(got.ngids, ngids);
      EXPECT_TRUE(std::equal(got.gids, got.gids + ngids, gids));

      if (theirs.size() <= kMaxAuthBytes) {
        std::vector<uint8_t> call(1024);
        call.resize(static_cast<size_t>(tirpc_enc_call(
            7, 0x20000001, 1, 9, {1, theirs.data(), static_cast<uint32_t>(theirs.size())},
            {0, nullptr, 0}, call.data(), call.size())));
        CallHeader h;
        h.xid = 7;
        h.prog = 0x20000001;
        h.vers = 1;
        h.proc = 9;
        h.cred = {static_cast<uint32_t>(auth_flavor::AUTH_SYS), theirs};
        EXPECT_EQ(encode_flat([&](xdr::XdrWriter& w) { return encode_call_header(w, h); }), call);
        XdrReader r(call);
        CallHeader g;
        ASSERT_TRUE(decode_call_header(r, g) && r.finish());
        EXPECT_EQ(g.cred.flavor, 1u);
        EXPECT_EQ(g.cred.body.size(), theirs.size());
      }
    }
  }
  // libtirpc refuses more than 16 gids; so do we, both ways.
  std::vector<uint32_t> many(17, 1);
  std::vector<uint8_t> buf(1024);
  EXPECT_LT(tirpc_enc_authsys(1, "h", 0, 0, 17, many.data(), buf.data(), buf.size()), 0);
  AuthSysParms p;
  p.ngids = 17;
  size_t written;
  xdr::XdrError e;
  EXPECT_FALSE(encode_authsys(p, buf, written, &e));
  EXPECT_EQ(e.code, xdr::XdrErrc::kEncodeOverMax);
}

TEST(TirpcGoldenTest, AcceptedReplies) {
  for (int astat = 0; astat <= 5; ++astat) {
    std::vector<uint8_t> theirs(256);
    theirs.resize(static_cast<size_t>(
        tirpc_enc_accepted_reply(99, astat, 2, 4, theirs.data(), theirs.size())));
    auto ours = encode_flat([&](xdr::XdrWriter& w) {
      return encode_accepted_reply(w, 99, static_cast<accept_stat>(astat), {}, {2, 4});
    });
    EXPECT_EQ(to_hex(ours), to_hex(theirs)) << astat;
    XdrReader r(theirs);
    ReplyHeader h;
    ASSERT_TRUE(decode_reply_header(r, h) && r.finish()) << r.error().to_string();
    EXPECT_EQ(h.xid, 99u);
    EXPECT_EQ(h.stat, reply_stat::MSG_ACCEPTED);
    EXPECT_EQ(static_cast<int>(h.astat), astat);
    if (h.astat == accept_stat::PROG_MISMATCH) {
      EXPECT_EQ(h.mismatch, (MismatchInfo{2, 4}));
    }
  }
}

TEST(TirpcGoldenTest, DeniedReplies) {
  std::vector<uint8_t> theirs(256);
  theirs.resize(
      static_cast<size_t>(tirpc_enc_denied_reply(5, 0, 2, 2, 0, theirs.data(), theirs.size())));
  EXPECT_EQ(encode_flat([](xdr::XdrWriter& w) {
              return encode_rpc_mismatch(w, 5, {2, 2});
            }),
            theirs);
  XdrReader r(theirs);
  ReplyHeader h;
  ASSERT_TRUE(decode_reply_header(r, h) && r.finish());
  EXPECT_EQ(h.stat, reply_stat::MSG_DENIED);
  EXPECT_EQ(h.rstat, reject_stat::RPC_MISMATCH);
  EXPECT_EQ(h.mismatch, (MismatchInfo{2, 2}));

  for (int why = 0; why <= 14; ++why) {
    std::vector<uint8_t> t(256);
    t.resize(static_cast<size_t>(tirpc_enc_denied_reply(6, 1, 0, 0, why, t.data(), t.size())));
    EXPECT_EQ(encode_flat([&](xdr::XdrWriter& w) {
                return encode_auth_error(w, 6, static_cast<auth_stat>(why));
              }),
              t);
    XdrReader rr(t);
    ReplyHeader hh;
    ASSERT_TRUE(decode_reply_header(rr, hh) && rr.finish());
    EXPECT_EQ(hh.rstat, reject_stat::AUTH_ERROR);
    EXPECT_EQ(static_cast<int>(hh.why), why);
  }
}

TEST(TirpcGoldenTest, LibtirpcDecodesOurHeaders) {
  CallHeader h;
  h.xid = 0xfeedface;
  h.prog = 0x31230000;
  h.vers = 1;
  h.proc = 1;
  const uint8_t verf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  h.verf = {static_cast<uint32_t>(auth_flavor::AUTH_SHORT), verf};
  auto call = encode_flat([&](xdr::XdrWriter& w) { return encode_call_header(w, h); });
  uint32_t xid{}, rpcvers{}, prog{}, vers{}, proc{}, cf{}, cl{}, vf{}, vl{};
  ASSERT_EQ(tirpc_dec_call(call.data(), call.size(), &xid, &rpcvers, &prog, &vers, &proc, &cf, &cl,
                           &vf, &vl),
            1);
  EXPECT_EQ(xid, h.xid);
  EXPECT_EQ(prog, h.prog);
  EXPECT_EQ(vf, 2u);
  EXPECT_EQ(vl, 8u);
  EXPECT_EQ(tirpc_last_pos(), call.size());

  auto reply = encode_flat([](xdr::XdrWriter& w) {
    return encode_accepted_reply(w, 3, accept_stat::PROG_MISMATCH, {}, {1, 3});
  });
  int stat = -1, astat = -1, rstat = -1, why = -1;
  uint32_t low = 0, high = 0;
  ASSERT_EQ(
      tirpc_dec_reply(reply.data(), reply.size(), &xid, &stat, &astat, &rstat, &low, &high, &why),
      1);
  EXPECT_EQ(astat, 2);
  EXPECT_EQ(low, 1u);
  EXPECT_EQ(high, 3u);
}

}  // namespace
}  // namespace ringrpc::rpc
