// Differential tests against libtirpc: random values of every type (fixed seeds, thousands each)
// encoded by libtirpc and decoded by ringrpc, and encoded by ringrpc and decoded by libtirpc,
// with the bytes compared both ways. Includes the composite benchmark struct.
#include <gtest/gtest.h>

#include <random>

#include "codec/xdr_reader.h"
#include "tests/support/bench_record_codec.h"
#include "tests/support/test_util.h"
#include "tests/support/tirpc_shim.h"

namespace ringrpc::xdr {
namespace {

using testing::encode_flat;

constexpr int kIterations = 3000;

class Rng {
 public:
  explicit Rng(uint32_t seed) : g_(seed) {}
  uint32_t u32() { return static_cast<uint32_t>(g_()); }
  uint64_t u64() { return (uint64_t{u32()} << 32) | u32(); }
  // Biased towards boundaries, where bugs live.
  uint32_t edgy32() {
    switch (g_() % 4) {
      case 0:
        return u32();
      case 1:
        return static_cast<uint32_t>(g_() % 512);
      case 2:
        return 0xffffffffu - static_cast<uint32_t>(g_() % 512);
      default:
        return 0x80000000u + static_cast<uint32_t>(g_() % 512) - 256;
    }
  }
  size_t below(size_t n) { return n == 0 ? 0 : g_() % n; }

 private:
  std::mt19937 g_;
};

std::vector<uint8_t> buf(size_t n = 8192) { return std::vector<uint8_t>(n); }

TEST(TirpcDifferentialTest, Int32AndUint32) {
  Rng rng(1);
  for (int i = 0; i < kIterations; ++i) {
    const uint32_t v = rng.edgy32();
    auto b = buf(16);
    ASSERT_EQ(tirpc_enc_uint(v, b.data(), b.size()), 4);
    b.resize(4);
    XdrReader r(b);
    int32_t got{};
    ASSERT_TRUE(r.get_i32(got) && r.finish());
    ASSERT_EQ(static_cast<uint32_t>(got), v);
    auto ours = encode_flat([&](XdrWriter& w) { return w.put_i32(static_cast<int32_t>(v)); });
    ASSERT_EQ(ours, b);
    int32_t back{};
    ASSERT_EQ(tirpc_dec_int(ours.data(), ours.size(), &back), 1);
    ASSERT_EQ(static_cast<uint32_t>(back), v);
  }
}

TEST(TirpcDifferentialTest, Hypers) {
  Rng rng(2);
  for (int i = 0; i < kIterations; ++i) {
    const uint64_t v = (i % 3 == 0) ? rng.u64() : (uint64_t{rng.edgy32()} << 32) | rng.edgy32();
    auto b = buf(16);
    ASSERT_EQ(tirpc_enc_uhyper(v, b.data(), b.size()), 8);
    b.resize(8);
    XdrReader r(b);
    int64_t got{};
    ASSERT_TRUE(r.get_i64(got) && r.finish());
    ASSERT_EQ(static_cast<uint64_t>(got), v);
    auto ours = encode_flat([&](XdrWriter& w) { return w.put_u64(v); });
    ASSERT_EQ(ours, b);
    int64_t back{};
    ASSERT_EQ(tirpc_dec_hyper(ours.data(), ours.size(), &back), 1);
    ASSERT_EQ(static_cast<uint64_t>(back), v);
  }
}

TEST(TirpcDifferentialTest, FloatsAndDoublesBitForBit) {
  Rng rng(3);
  for (int i = 0; i < kIterations; ++i) {
    const uint32_t fbits = rng.u32();
    const uint64_t dbits = rng.u64();
    float f{};
    double d{};
    std::memcpy(&f, &fbits, 4);
    std::memcpy(&d, &dbits, 8);
    auto bf = buf(16), bd = buf(16);
    ASSERT_EQ(tirpc_enc_float(f, bf.data(), bf.size()), 4);
    ASSERT_EQ(tirpc_enc_double(d, bd.data(), bd.size()), 8);
    bf.resize(4);
    bd.resize(8);
    ASSERT_EQ(encode_flat([&](XdrWriter& w) { return w.put_f32(f); }), bf);
    ASSERT_EQ(encode_flat([&](XdrWriter& w) { return w.put_f64(d); }), bd);
    XdrReader rf(bf), rd(bd);
    float gf{};
    double gd{};
    ASSERT_TRUE(rf.get_f32(gf) && rd.get_f64(gd));
    ASSERT_EQ(std::memcmp(&gf, &fbits, 4), 0);
    ASSERT_EQ(std::memcmp(&gd, &dbits, 8), 0);
  }
}

TEST(TirpcDifferentialTest, OpaqueAndStrings) {
  Rng rng(4);
  for (int i = 0; i < kIterations; ++i) {
    const uint32_t max = 1 + static_cast<uint32_t>(rng.below(300));
    const uint32_t n = static_cast<uint32_t>(rng.below(max + 1));
    std::vector<uint8_t> data(n);
    for (auto& c : data) c = static_cast<uint8_t>(rng.u32());
    std::string s(n, ' ');
    for (auto& c : s) c = static_cast<char>(1 + rng.below(255));  // any byte but NUL

    auto b = buf();
    int len = tirpc_enc_bytes(data.data(), n, max, b.data(), b.size());
    ASSERT_GT(len, 0);
    b.resize(static_cast<size_t>(len));
    ASSERT_EQ(encode_flat([&](XdrWriter& w) { return w.put_opaque(data, max); }), b);
    XdrReader r(b);
    std::vector<uint8_t> got;
    ASSERT_TRUE(r.get_opaque(got, max) && r.finish());
    ASSERT_EQ(got, data);

    auto bs = buf();
    len = tirpc_enc_string(s.c_str(), max, bs.data(), bs.size());
    ASSERT_GT(len, 0);
    bs.resize(static_cast<size_t>(len));
    auto ours = encode_flat([&](XdrWriter& w) { return w.put_string(s, max); });
    ASSERT_EQ(ours, bs);
    std::vector<char> back(max + 1);
    ASSERT_EQ(tirpc_dec_string(ours.data(), ours.size(), max, back.data()), 1);
    ASSERT_EQ(std::string(back.data()), s);

    // Fixed-length opaque of the same bytes.
    auto bf = buf();
    len = tirpc_enc_fixed_opaque(data.data(), n, bf.data(), bf.size());
    bf.resize(static_cast<size_t>(len));
    ASSERT_EQ(encode_flat([&](XdrWriter& w) { return w.put_fixed_opaque(data); }), bf);
    std::vector<uint8_t> fixed_back(n + 1);
    ASSERT_EQ(tirpc_dec_fixed_opaque(bf.data(), bf.size(), fixed_back.data(), n), 1);
    ASSERT_TRUE(std::equal(data.begin(), data.end(), fixed_back.begin()));
  }
}

TEST(TirpcDifferentialTest, NumberArraysThroughTheSimdPath) {
  Rng rng(5);
  for (int i = 0; i < kIterations / 3; ++i) {
    const uint32_t n = static_cast<uint32_t>(rng.below(600));
    std::vector<int32_t> ints(n);
    std::vector<uint64_t> hypers(n);
    std::vector<double> doubles(n);
    for (uint32_t k = 0; k < n; ++k) {
      ints[k] = static_cast<int32_t>(rng.edgy32());
      hypers[k] = rng.u64();
      const uint64_t bits = rng.u64();
      std::memcpy(&doubles[k], &bits, 8);
    }
    auto bi = buf(), bh = buf(), bd = buf();
    bi.resize(static_cast<size_t>(tirpc_enc_int_array(ints.data(), n, 1000, bi.data(), bi.size())));
    bh.resize(
        static_cast<size_t>(tirpc_enc_uhyper_array(hypers.data(), n, 1000, bh.data(), bh.size())));
    bd.resize(
        static_cast<size_t>(tirpc_enc_double_array(doubles.data(), n, 1000, bd.data(), bd.size())));
    ASSERT_EQ(encode_flat([&](XdrWriter& w) {
                return w.put_count(n, 1000) && w.put_array(ints.data(), n);
              }),
              bi);
    ASSERT_EQ(encode_flat([&](XdrWriter& w) {
                return w.put_count(n, 1000) && w.put_array(hypers.data(), n);
              }),
              bh);
    ASSERT_EQ(encode_flat([&](XdrWriter& w) {
                return w.put_count(n, 1000) && w.put_array(doubles.data(), n);
              }),
              bd);

    Arena arena;
    uint32_t count{};
    std::span<const int32_t> gi;
    std::span<const uint64_t> gh;
    XdrReader ri(bi), rh(bh);
    ASSERT_TRUE(ri.get_count(count, 1000) && ri.get_array(gi, count, arena) && ri.finish());
    ASSERT_TRUE(std::equal(gi.begin(), gi.end(), ints.begin(), ints.end()));
    ASSERT_TRUE(rh.get_count(count, 1000, 8) && rh.get_array(gh, count, arena) && rh.finish());
    ASSERT_TRUE(std::equal(gh.begin(), gh.end(), hypers.begin(), hypers.end()));

    std::vector<int32_t> back(n + 1);
    uint32_t got_n = 0;
    auto ours = encode_flat(
        [&](XdrWriter& w) { return w.put_count(n, 1000) && w.put_array(ints.data(), n); });
    ASSERT_EQ(tirpc_dec_int_array(ours.data(), ours.size(), 1000, back.data(), &got_n), 1);
    ASSERT_EQ(got_n, n);
    ASSERT_TRUE(std::equal(ints.begin(), ints.end(), back.begin()));
  }
}

TEST(TirpcDifferentialTest, UnionsAndOptionals) {
  Rng rng(6);
  for (int i = 0; i < kIterations; ++i) {
    const int32_t d = static_cast<int32_t>(rng.below(6)) - 1;  // -1..4: every arm and the default
    const int32_t iv = static_cast<int32_t>(rng.u32());
    const uint64_t uh = rng.u64();
    std::string s(rng.below(17), 'q');
    auto b = buf(64);
    const int len = tirpc_enc_union(d, iv, uh, s.c_str(), 1, b.data(), b.size());
    ASSERT_GT(len, 0);
    b.resize(static_cast<size_t>(len));
    XdrReader r(b);
    int32_t disc{};
    ASSERT_TRUE(r.get_i32(disc));
    ASSERT_EQ(disc, d);
    if (d == 1) {
      int32_t g{};
      ASSERT_TRUE(r.get_i32(g));
      ASSERT_EQ(g, iv);
    } else if (d == 2) {
      uint64_t g{};
      ASSERT_TRUE(r.get_u64(g));
      ASSERT_EQ(g, uh);
    } else if (d != 3) {
      std::string_view g;
      ASSERT_TRUE(r.get_string(g, 16));
      ASSERT_EQ(g, s);
    }
    ASSERT_TRUE(r.finish());

    const bool present = rng.below(2) == 1;
    auto ours = encode_flat(
        [&](XdrWriter& w) { return w.put_optional(present) && (!present || w.put_i32(iv)); });
    int p = -1;
    int32_t got = 0;
    ASSERT_EQ(tirpc_dec_optional_int(ours.data(), ours.size(), &p, &got), 1);
    ASSERT_EQ(p, present ? 1 : 0);
    if (present) {
      ASSERT_EQ(got, iv);
    }
  }
}

tirpc_bench_plain random_record(Rng& rng) {
  tirpc_bench_plain p{};
  p.a = static_cast<int32_t>(rng.edgy32());
  p.b = rng.edgy32();
  p.c = static_cast<int32_t>(rng.u32());
  p.h = static_cast<int64_t>(rng.u64());
  p.uh = rng.u64();
  const uint64_t dbits = rng.u64();
  std::memcpy(&p.d, &dbits, 8);
  const uint32_t fbits = rng.u32();
  std::memcpy(&p.f, &fbits, 4);
  p.flag = static_cast<int>(rng.below(2));
  p.e = static_cast<int32_t>(rng.u32());
  p.g = static_cast<int32_t>(rng.u32());
  const size_t name_len = rng.below(65);
  for (size_t i = 0; i < name_len; ++i) p.name[i] = static_cast<char>('!' + rng.below(90));
  p.nvalues = static_cast<uint32_t>(rng.below(33));
  for (uint32_t i = 0; i < p.nvalues; ++i) p.values[i] = static_cast<int32_t>(rng.edgy32());
  p.nitems = static_cast<uint32_t>(rng.below(9));
  for (uint32_t i = 0; i < p.nitems; ++i) {
    p.items[i].id = static_cast<int32_t>(rng.u32());
    p.items[i].value = static_cast<int64_t>(rng.u64());
  }
  return p;
}

TEST(TirpcDifferentialTest, CompositeStructBothWays) {
  Rng rng(7);
  Arena arena;
  for (int i = 0; i < kIterations; ++i) {
    const tirpc_bench_plain p = random_record(rng);
    void* native = tirpc_bench_make(&p);
    auto theirs = buf(1024);
    const int len = tirpc_bench_encode(native, theirs.data(), theirs.size());
    tirpc_bench_destroy(native);
    ASSERT_GT(len, 0);
    theirs.resize(static_cast<size_t>(len));

    arena.reset();
    XdrReader r(theirs);
    testing::BenchRecord rec;
    ASSERT_TRUE(testing::decode(r, rec, arena) && r.finish()) << r.error().to_string();
    ASSERT_EQ(rec.a, p.a);
    ASSERT_EQ(rec.uh, p.uh);
    ASSERT_EQ(std::memcmp(&rec.d, &p.d, 8), 0);
    ASSERT_EQ(rec.flag, p.flag != 0);
    ASSERT_EQ(rec.name, std::string_view(p.name));
    ASSERT_EQ(rec.values.size(), p.nvalues);
    ASSERT_TRUE(std::equal(rec.values.begin(), rec.values.end(), p.values));
    uint32_t n = 0;
    for (const testing::BenchItem* it = rec.items; it != nullptr; it = it->next, ++n) {
      ASSERT_EQ(it->id, p.items[n].id);
      ASSERT_EQ(it->value, p.items[n].value);
    }
    ASSERT_EQ(n, p.nitems);

    auto ours = encode_flat([&](XdrWriter& w) { return testing::encode(w, rec); });
    ASSERT_EQ(ours, theirs);
    tirpc_bench_plain back{};
    ASSERT_EQ(tirpc_bench_decode_plain(ours.data(), ours.size(), &back), 1);
    ASSERT_EQ(tirpc_last_pos(), ours.size());
    ASSERT_EQ(std::string_view(back.name), std::string_view(p.name));
    ASSERT_EQ(back.nitems, p.nitems);
  }
}

}  // namespace
}  // namespace ringrpc::xdr
