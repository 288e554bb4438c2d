// The C++ side of the wire-compatibility tests between ringrpc-gen's output and rpcgen's: a
// random value of each type goes through our encoder, libtirpc's rpcgen-generated decoder and
// encoder, and back through both of our decoders. Used by the *_wire.cc files that
// wire_harness_gen writes. Single-threaded.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/arena.h"
#include "codec/xdr_reader.h"
#include "tests/gen/wire_c.h"
#include "tests/support/test_util.h"

namespace ringrpc::testing {

// splitmix64: a fixed seed gives the same values on every machine.
class WireRng {
 public:
  explicit WireRng(uint64_t seed) : s_(seed) {}
  uint64_t u64() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t u32() { return static_cast<uint32_t>(u64() >> 32); }
  uint32_t below(uint64_t n) { return n == 0 ? 0 : static_cast<uint32_t>(u64() % n); }
  // Finite values only: NaN is not equal to itself, so it could not be compared after the trip.
  float f32() {
    const float f = std::bit_cast<float>(u32());
    return std::isfinite(f) ? f : 1.5f;
  }
  double f64() {
    const double d = std::bit_cast<double>(u64());
    return std::isfinite(d) ? d : -2.25;
  }
  std::string str(uint64_t max_len) {
    static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789 ./-_:ABCXYZ";
    std::string s(below(max_len + 1), 'a');
    for (char& c : s) c = kChars[below(sizeof kChars - 1)];
    return s;
  }

 private:
  uint64_t s_;
};

struct WireResult {
  int checked = 0;
  std::string failure;  // empty when every value survived
};

template <typename Codec>
WireResult wire_check(void (*fill)(typename Codec::type&, WireRng&, int), const ringrpc_ctype& c,
                      uint64_t seed, int iterations) {
  WireResult res;
  WireRng g(seed);
  for (int i = 0; i < iterations; ++i) {
    typename Codec::type v{};
    fill(v, g, 0);
    const std::string shown = Codec::to_string(v);
    xdr::XdrError err;
    const std::vector<uint8_t> ours =
        encode_flat([&](xdr::XdrWriter& w) { return Codec::encode(w, v); }, &err);
    auto fail = [&](const std::string& what) {
      res.failure = std::string(Codec::kName) + " #" + std::to_string(i) + ": " + what +
                    "\n  value: " + shown + "\n  ours:  " + to_hex(ours);
      return res;
    };
    if (!err.ok()) return fail("our encoder failed: " + err.to_string());
    std::vector<uint8_t> theirs(ours.size() + 64);
    size_t n = 0;
    const int rc =
        ringrpc_c_roundtrip(&c, ours.data(), ours.size(), theirs.data(), theirs.size(), &n);
    if (rc != 0)
      return fail("libtirpc's xdr_" + std::string(c.name) + " failed (" + std::to_string(rc) + ")");
    theirs.resize(n);
    if (theirs != ours) return fail("libtirpc re-encodes differently:\n  C:     " + to_hex(theirs));

    xdr::XdrReader r(theirs);
    typename Codec::type back{};
    if (!Codec::decode(r, back) || !r.finish()) {
      return fail("our decoder refused libtirpc's bytes: " + r.error().to_string());
    }
    if (!(back == v)) return fail("decoded to another value: " + Codec::to_string(back));

    Arena arena;
    xdr::XdrReader rv(theirs);
    typename Codec::view_type view{};
    if (!Codec::decode_view(rv, view, arena) || !rv.finish()) {
      return fail("our view decoder refused libtirpc's bytes: " + rv.error().to_string());
    }
    const std::vector<uint8_t> again =
        encode_flat([&](xdr::XdrWriter& w) { return Codec::encode_view(w, view); });
    if (again != ours) return fail("the view re-encodes differently:\n  view:  " + to_hex(again));
    if (Codec::to_string(view) != shown) return fail("the view prints differently");
    if (Codec::to_json(v).empty()) return fail("no JSON");
    ++res.checked;
  }
  return res;
}

}  // namespace ringrpc::testing
