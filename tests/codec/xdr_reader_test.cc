// XdrReader on hand-written vectors: every type, bounds, strict vs lenient, error reporting.
// Vectors produced by libtirpc itself are in tests/interop/.
#include "codec/xdr_reader.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace ringrpc::xdr {
namespace {

using testing::from_hex;

constexpr DecodeOptions kLenient{false, 64};

TEST(XdrReaderTest, DecodesScalars) {
  auto b =
      from_hex("fffffffe 00000007 fffffee08e04fb35 ffffffffffffffff 3fc00000 bfb999999999999a");
  XdrReader r(b);
  int32_t i{};
  uint32_t u{};
  int64_t h{};
  uint64_t uh{};
  float f{};
  double d{};
  ASSERT_TRUE(r.get_i32(i) && r.get_u32(u) && r.get_i64(h) && r.get_u64(uh) && r.get_f32(f) &&
              r.get_f64(d) && r.finish());
  EXPECT_EQ(i, -2);
  EXPECT_EQ(u, 7u);
  EXPECT_EQ(h, -1234567890123);
  EXPECT_EQ(uh, ~uint64_t{0});
  EXPECT_EQ(f, 1.5f);
  EXPECT_EQ(d, -0.1);
  EXPECT_EQ(r.offset(), b.size());
}

TEST(XdrReaderTest, BoolIsStrictUnlessLenient) {
  auto b = from_hex("00000001 00000000 00000002");
  XdrReader r(b);
  bool t{}, f{}, x{};
  EXPECT_TRUE(r.get_bool(t) && r.get_bool(f));
  EXPECT_TRUE(t);
  EXPECT_FALSE(f);
  EXPECT_FALSE(r.get_bool(x));
  EXPECT_EQ(r.error().code, XdrErrc::kBadBool);
  EXPECT_EQ(r.error().offset, 8u);
  EXPECT_EQ(r.error().value, 2u);

  XdrReader lenient(b, kLenient);
  EXPECT_TRUE(lenient.get_bool(t) && lenient.get_bool(f) && lenient.get_bool(x));
  EXPECT_TRUE(x);  // libtirpc: any non-zero value is TRUE
}

TEST(XdrReaderTest, QuadrupleIsSixteenBytes) {
  auto b = from_hex("3fff0000 00000000 00000000 00000001");
  XdrReader r(b);
  Quadruple q{};
  ASSERT_TRUE(r.get_quadruple(q) && r.finish());
  EXPECT_EQ(q.hi, 0x3fff000000000000ull);
  EXPECT_EQ(q.lo, 1ull);
#if defined(__SIZEOF_FLOAT128__)
  EXPECT_EQ((Quadruple{0x3fff000000000000ull, 0}.to_double()), 1.0);
  EXPECT_EQ(Quadruple::from_double(-2.0), (Quadruple{0xc000000000000000ull, 0}));
  // 0.1 as a double widens exactly: sign 0, exponent 0x3ffb, fraction = double's 52 bits << 60.
  EXPECT_EQ(Quadruple::from_double(0.1), (Quadruple{0x3ffb999999999999ull, 0xa000000000000000ull}));
#endif
}

TEST(XdrReaderTest, OpaqueAndStringAreViews) {
  auto b = from_hex("00000005 0908070605 000000 00000005 68656c6c6f 000000 010203 00");
  XdrReader r(b);
  std::span<const uint8_t> o;
  std::string_view s;
  std::span<const uint8_t> fixed;
  ASSERT_TRUE(r.get_opaque(o, 16) && r.get_string(s, 5) && r.get_fixed_opaque(fixed, 3) &&
              r.finish());
  EXPECT_EQ(o.size(), 5u);
  EXPECT_EQ(o.data(), b.data() + 4);  // zero copy
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(s.data()), b.data() + 16);
  EXPECT_EQ(fixed[2], 3);
}

TEST(XdrReaderTest, OwningFormsCopy) {
  auto b = from_hex("00000003 616263 00 00000002 0102 0000");
  XdrReader r(b);
  std::string s;
  std::vector<uint8_t> v;
  ASSERT_TRUE(r.get_string(s, 10) && r.get_opaque(v, 10) && r.finish());
  EXPECT_EQ(s, "abc");
  EXPECT_EQ(v, (std::vector<uint8_t>{1, 2}));
}

TEST(XdrReaderTest, LengthOverDeclaredMaximum) {
  auto b = from_hex("00000006 616263646566 0000");
  XdrReader r(b);
  std::string_view s;
  EXPECT_FALSE(r.get_string(s, 5, "name"));
  EXPECT_EQ(r.error().code, XdrErrc::kLengthOverMax);
  EXPECT_EQ(r.error().value, 6u);
  EXPECT_EQ(r.error().limit, 5u);
  EXPECT_EQ(r.error().offset, 0u);
  EXPECT_EQ(r.error().to_string(),
            "xdr: length over max: name length 6 exceeds maximum 5 at offset 0");
}

TEST(XdrReaderTest, LengthOverBytesPresent) {
  auto b = from_hex("00000000 80000000 0102030405060708");
  XdrReader r(b);
  uint32_t first{};
  std::span<const uint8_t> o;
  ASSERT_TRUE(r.get_u32(first));
  EXPECT_FALSE(r.get_opaque(o, 0xffffffffu, "payload"));
  EXPECT_EQ(r.error().code, XdrErrc::kLengthOverData);
  EXPECT_EQ(r.error().offset, 4u);  // where the length word is
  EXPECT_EQ(r.error().value, 0x80000000u);
  EXPECT_EQ(r.error().limit, 8u);
}

TEST(XdrReaderTest, NonZeroPaddingIsStrictUnlessLenient) {
  auto b = from_hex("00000001 41 000100");
  std::string_view s;
  XdrReader strict(b);
  EXPECT_FALSE(strict.get_string(s, 8));
  EXPECT_EQ(strict.error().code, XdrErrc::kNonZeroPadding);
  EXPECT_EQ(strict.error().offset, 6u);
  XdrReader lenient(b, kLenient);
  EXPECT_TRUE(lenient.get_string(s, 8) && lenient.finish());
  EXPECT_EQ(s, "A");
}

TEST(XdrReaderTest, EmbeddedNulIsStrictUnlessLenient) {
  auto b = from_hex("00000003 610062 00");
  std::string_view s;
  XdrReader strict(b);
  EXPECT_FALSE(strict.get_string(s, 8));
  EXPECT_EQ(strict.error().code, XdrErrc::kEmbeddedNul);
  XdrReader lenient(b, kLenient);
  EXPECT_TRUE(lenient.get_string(s, 8));
  EXPECT_EQ(s.size(), 3u);
}

TEST(XdrReaderTest, TrailingBytesAreStrictUnlessLenient) {
  auto b = from_hex("00000001 00000002");
  uint32_t v{};
  XdrReader strict(b);
  EXPECT_TRUE(strict.get_u32(v));
  EXPECT_FALSE(strict.finish());
  EXPECT_EQ(strict.error().code, XdrErrc::kTrailingBytes);
  EXPECT_EQ(strict.error().value, 4u);
  XdrReader lenient(b, kLenient);
  EXPECT_TRUE(lenient.get_u32(v) && lenient.finish());
}

TEST(XdrReaderTest, EnumMembershipIsStrictUnlessLenient) {
  enum class Color : int32_t { kRed = 0, kGreen = 1 };
  auto is_color = [](int32_t v) { return v == 0 || v == 1; };
  auto b = from_hex("00000001 00000007");
  Color c{};
  XdrReader strict(b);
  EXPECT_TRUE(strict.get_enum(c, is_color));
  EXPECT_EQ(c, Color::kGreen);
  EXPECT_FALSE(strict.get_enum(c, is_color, "color"));
  EXPECT_EQ(strict.error().code, XdrErrc::kBadEnum);
  EXPECT_EQ(strict.error().offset, 4u);
  XdrReader lenient(b, kLenient);
  EXPECT_TRUE(lenient.get_enum(c, is_color) && lenient.get_enum(c, is_color));
  EXPECT_EQ(static_cast<int32_t>(c), 7);
}

TEST(XdrReaderTest, ErrorsAreStickyAndFirstOneWins) {
  auto b = from_hex("00000002 00000001");
  XdrReader r(b);
  bool x{};
  uint32_t u = 99;
  EXPECT_FALSE(r.get_bool(x));
  EXPECT_FALSE(r.get_u32(u));  // the reader stopped: nothing more is read
  EXPECT_EQ(u, 0u);            // and a failed read leaves a zero, never garbage
  EXPECT_EQ(r.error().code, XdrErrc::kBadBool);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(XdrReaderTest, TruncatedScalars) {
  auto b = from_hex("000000");
  XdrReader r(b);
  uint32_t u{};
  EXPECT_FALSE(r.get_u32(u, "count"));
  EXPECT_EQ(r.error().code, XdrErrc::kTruncated);
  EXPECT_EQ(r.error().value, 4u);
  EXPECT_EQ(r.error().limit, 3u);
  EXPECT_NE(r.error().to_string().find("count needs 4 bytes, 3 present"), std::string::npos);
}

TEST(XdrReaderTest, CountIsBoundedByMaxAndByData) {
  auto over_max = from_hex("00000011");
  uint32_t n{};
  XdrReader a(over_max);
  EXPECT_FALSE(a.get_count(n, 16));
  EXPECT_EQ(a.error().code, XdrErrc::kLengthOverMax);
  EXPECT_EQ(n, 0u);  // a refused count never reaches the caller's loop
  // A count of a billion items with 8 bytes behind it never reaches the caller's loop.
  auto over_data = from_hex("3b9aca00 00000001 00000002");
  XdrReader b(over_data);
  EXPECT_FALSE(b.get_count(n, 0xffffffffu, 4));
  EXPECT_EQ(b.error().code, XdrErrc::kLengthOverData);
  EXPECT_EQ(n, 0u);
}

TEST(XdrReaderTest, NumberArrays) {
  auto b = from_hex("00000001 fffffffe 00000003 0000000000000004 fffffffffffffffb");
  XdrReader r(b);
  int32_t ints[3]{};
  int64_t hypers[2]{};
  ASSERT_TRUE(r.get_array(ints, 3) && r.get_array(hypers, 2) && r.finish());
  EXPECT_EQ(ints[1], -2);
  EXPECT_EQ(hypers[0], 4);
  EXPECT_EQ(hypers[1], -5);

  Arena arena;
  XdrReader r2(b);
  std::span<const uint32_t> view;
  ASSERT_TRUE(r2.get_array(view, 3, arena));
  EXPECT_EQ(view[2], 3u);
  XdrReader r3(b);
  EXPECT_FALSE(r3.get_array(view, 8, arena));
  EXPECT_EQ(r3.error().code, XdrErrc::kTruncated);
}

TEST(XdrReaderTest, InPlaceArraySwapsInsideTheBuffer) {
  alignas(4) uint8_t buf[12] = {0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff};
  XdrReader r = XdrReader::in_place(buf);
  std::span<const int32_t> v;
  ASSERT_TRUE(r.get_array_in_place(v, 3) && r.finish());
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(v.data()), buf);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[1], 2);
  EXPECT_EQ(v[2], -1);
}

TEST(XdrReaderTest, DepthIsLimited) {
  auto b = from_hex("00000000");
  XdrReader r(b, {true, 3});
  XdrReader::DepthGuard g1(r, "a");
  XdrReader::DepthGuard g2(r, "b");
  XdrReader::DepthGuard g3(r, "c");
  EXPECT_TRUE(g1 && g2 && g3);
  XdrReader::DepthGuard g4(r, "d");
  EXPECT_FALSE(g4);
  EXPECT_EQ(r.error().code, XdrErrc::kDepthExceeded);
  EXPECT_EQ(r.error().what, std::string_view("d"));
}

TEST(XdrReaderTest, EveryErrorHasAName) {
  for (int c = 0; c <= static_cast<int>(XdrErrc::kRecordTooLarge); ++c) {
    XdrError e{static_cast<XdrErrc>(c), 12, 1, 2, "item"};
    EXPECT_STRNE(errc_name(e.code), "unknown");
    EXPECT_NE(e.to_string().find("xdr: "), std::string::npos);
  }
}

}  // namespace
}  // namespace ringrpc::xdr
