// Fuzzes XdrReader with a schema taken from the input itself: the first byte says how many of
// the following bytes are operations (one XDR type each); the rest is the message. Properties:
//  - decoding never crashes, in strict and lenient mode;
//  - a failure carries an error code and an offset inside the message;
//  - strict success round-trips: re-encoding the decoded values gives back the consumed bytes;
//  - every number array decoded through the SIMD kernel equals the scalar reference.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "codec/buffer_pool.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc;
using namespace ringrpc::xdr;

namespace {

struct Value {
  uint8_t op;
  uint64_t a = 0, b = 0;
  std::span<const uint8_t> bytes;
  std::vector<uint64_t> numbers;
};

constexpr uint32_t kMax = 64;

bool decode_one(XdrReader& r, uint8_t op, Value& v, Arena& arena) {
  v.op = op;
  switch (op % 12) {
    case 0: {
      uint32_t x = 0;
      if (!r.get_u32(x)) return false;
      v.a = x;
      return true;
    }
    case 1:
      return r.get_u64(v.a);
    case 2: {
      bool x = false;
      if (!r.get_bool(x)) return false;
      v.a = x;
      return true;
    }
    case 3: {
      Quadruple q;
      if (!r.get_quadruple(q)) return false;
      v.a = q.hi;
      v.b = q.lo;
      return true;
    }
    case 4:
      return r.get_opaque(v.bytes, kMax);
    case 5: {
      std::string_view s;
      if (!r.get_string(s, kMax)) return false;
      v.bytes = {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
      return true;
    }
    case 6:
      return r.get_fixed_opaque(v.bytes, op % 7);
    case 7:
    case 8: {  // variable arrays of 4- and 8-byte numbers, checked against the scalar kernel
      const size_t item = (op % 12 == 7) ? 4 : 8;
      uint32_t n = 0;
      const uint8_t* start = r.rest().data();
      if (!r.get_count(n, 1024, item)) return false;
      const uint8_t* items = start + 4;
      if (item == 4) {
        std::span<const uint32_t> got;
        if (!r.get_array(got, n, arena)) return false;
        std::vector<uint32_t> ref(n);
        ringrpc::xdr::internal::scalar_swap32(items, ref.data(), n);
        FUZZ_CHECK(n == 0 || std::memcmp(ref.data(), got.data(), n * 4) == 0);
        v.numbers.assign(got.begin(), got.end());
      } else {
        std::span<const uint64_t> got;
        if (!r.get_array(got, n, arena)) return false;
        std::vector<uint64_t> ref(n);
        ringrpc::xdr::internal::scalar_swap64(items, ref.data(), n);
        FUZZ_CHECK(n == 0 || std::memcmp(ref.data(), got.data(), n * 8) == 0);
        v.numbers.assign(got.begin(), got.end());
      }
      v.a = n;
      return true;
    }
    case 9: {  // optional int
      bool present = false;
      if (!r.get_optional(present)) return false;
      v.a = present;
      if (!present) return true;
      uint32_t x = 0;
      if (!r.get_u32(x)) return false;
      v.b = x;
      return true;
    }
    case 10: {  // enum {0,1,2}
      int32_t e = 0;
      if (!r.get_enum(e, [](int32_t x) { return x >= 0 && x <= 2; })) return false;
      v.a = static_cast<uint32_t>(e);
      return true;
    }
    default: {  // union switch (unsigned) { case 0: void; case 1: hyper; } without default
      uint32_t d = 0;
      if (!r.get_u32(d)) return false;
      v.a = d;
      if (d == 0) return true;
      if (d == 1) return r.get_u64(v.b);
      return r.fail(XdrErrc::kBadDiscriminant, d, 0, "union");
    }
  }
}

bool encode_one(XdrWriter& w, const Value& v) {
  switch (v.op % 12) {
    case 0:
      return w.put_u32(static_cast<uint32_t>(v.a));
    case 1:
      return w.put_u64(v.a);
    case 2:
      return w.put_bool(v.a != 0);
    case 3:
      return w.put_quadruple({v.a, v.b});
    case 4:
      return w.put_opaque(v.bytes, kMax);
    case 5:
      return w.put_string({reinterpret_cast<const char*>(v.bytes.data()), v.bytes.size()}, kMax);
    case 6:
      return w.put_fixed_opaque(v.bytes);
    case 7: {
      std::vector<uint32_t> n32(v.numbers.begin(), v.numbers.end());
      return w.put_count(n32.size(), 1024) && w.put_array(n32.data(), n32.size());
    }
    case 8:
      return w.put_count(v.numbers.size(), 1024) && w.put_array(v.numbers.data(), v.numbers.size());
    case 9:
      return w.put_optional(v.a != 0) && (v.a == 0 || w.put_u32(static_cast<uint32_t>(v.b)));
    case 10:
      return w.put_u32(static_cast<uint32_t>(v.a));
    default:
      return w.put_u32(static_cast<uint32_t>(v.a)) && (v.a == 0 || w.put_u64(v.b));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t nops = std::min<size_t>(data[0] % 17, size - 1);
  const uint8_t* ops = data + 1;
  std::span<const uint8_t> msg(data + 1 + nops, size - 1 - nops);

  for (bool strict : {true, false}) {
    Arena arena(Arena::Options{256, 1 << 20});
    XdrReader r(msg, {strict, 8});
    std::vector<Value> values(nops);
    bool ok = true;
    for (size_t i = 0; i < nops && ok; ++i) ok = decode_one(r, ops[i], values[i], arena);
    if (!ok) {
      FUZZ_CHECK(!r.ok());
      FUZZ_CHECK(r.error().offset <= msg.size());
      continue;
    }
    FUZZ_CHECK(r.ok());
    if (!strict) continue;
    // Round trip: what strict mode accepted re-encodes to exactly the bytes it consumed.
    BufferPool pool(BufferPool::Options{128, 4, 0});
    OutMessage out;
    {
      XdrWriter w(pool, out, {false, kMaxFragment, true});
      for (const Value& v : values) FUZZ_CHECK(encode_one(w, v));
      FUZZ_CHECK(w.finish());
    }
    std::vector<uint8_t> again = out.flatten();
    FUZZ_CHECK(again.size() == r.offset());
    FUZZ_CHECK(again.empty() || std::memcmp(again.data(), msg.data(), again.size()) == 0);
    out.clear();
  }
  return 0;
}
