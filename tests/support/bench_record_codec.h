// ringrpc's encoding and zero-copy decoding of bench_record.x, written by hand in the shape
// ringrpc-gen will generate: strings as views into the message, number arrays and list nodes in
// an Arena, the optional-data list decoded iteratively (no recursion, so no depth limit needed).
// Used by the codec benchmarks and the composite differential tests. Not thread-safe by itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "codec/arena.h"
#include "codec/byteswap.h"
#include "codec/xdr_raw.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"

namespace ringrpc::testing {

inline constexpr uint32_t kBenchNameMax = 64;
inline constexpr uint32_t kBenchValuesMax = 32;

struct BenchItem {
  int32_t id = 0;
  int64_t value = 0;
  const BenchItem* next = nullptr;
};

struct BenchRecord {
  int32_t a = 0;
  uint32_t b = 0;
  int32_t c = 0;
  int64_t h = 0;
  uint64_t uh = 0;
  double d = 0;
  float f = 0;
  bool flag = false;
  int32_t e = 0;
  int32_t g = 0;
  std::string_view name;
  std::span<const int32_t> values;
  const BenchItem* items = nullptr;
};

// The encoded size of the whole record, so that encode() can reserve it once.
inline constexpr size_t kBenchFixedBytes = 52;  // a .. g
inline size_t encoded_size(const BenchRecord& r) noexcept {
  size_t n = kBenchFixedBytes + xdr::raw::opaque_size(r.name.size()) + 4 + 4 * r.values.size() + 4;
  for (const BenchItem* it = r.items; it != nullptr; it = it->next) n += 16;
  return n;
}

// The shape ringrpc-gen emits: check the declared maxima, reserve the exact size and write through
// a local pointer; item by item through the checked API when the reservation fails.
inline bool encode(xdr::XdrWriter& w, const BenchRecord& r) noexcept {
  if (r.name.size() > kBenchNameMax)
    return w.fail(xdr::XdrErrc::kEncodeOverMax, r.name.size(), kBenchNameMax, "name");
  if (r.values.size() > kBenchValuesMax)
    return w.fail(xdr::XdrErrc::kEncodeOverMax, r.values.size(), kBenchValuesMax, "values");
  if (xdr::has_zero_byte(r.name.data(), r.name.size()))
    return w.fail(xdr::XdrErrc::kEmbeddedNul, r.name.size(), 0, "name");
  if (uint8_t* p = w.reserve(encoded_size(r))) {
    namespace raw = xdr::raw;
    p = raw::put_u32(p, static_cast<uint32_t>(r.a));
    p = raw::put_u32(p, r.b);
    p = raw::put_u32(p, static_cast<uint32_t>(r.c));
    p = raw::put_u64(p, static_cast<uint64_t>(r.h));
    p = raw::put_u64(p, r.uh);
    p = raw::put_f64(p, r.d);
    p = raw::put_f32(p, r.f);
    p = raw::put_u32(p, r.flag ? 1 : 0);
    p = raw::put_u32(p, static_cast<uint32_t>(r.e));
    p = raw::put_u32(p, static_cast<uint32_t>(r.g));
    p = raw::put_string(p, r.name);
    p = raw::put_u32(p, static_cast<uint32_t>(r.values.size()));
    p = raw::put_array(p, r.values.data(), r.values.size());
    for (const BenchItem* it = r.items; it != nullptr; it = it->next) {
      p = raw::put_u32(p, 1);
      p = raw::put_u32(p, static_cast<uint32_t>(it->id));
      p = raw::put_u64(p, static_cast<uint64_t>(it->value));
    }
    raw::put_u32(p, 0);
    return true;
  }
  bool ok = w.put_i32(r.a) && w.put_u32(r.b) && w.put_i32(r.c) && w.put_i64(r.h) &&
            w.put_u64(r.uh) && w.put_f64(r.d) && w.put_f32(r.f) && w.put_bool(r.flag) &&
            w.put_i32(r.e) && w.put_i32(r.g) && w.put_string(r.name, kBenchNameMax, "name") &&
            w.put_count(r.values.size(), kBenchValuesMax, "values") &&
            w.put_array(r.values.data(), r.values.size());
  for (const BenchItem* it = r.items; ok && it != nullptr; it = it->next) {
    ok = w.put_optional(true) && w.put_i32(it->id) && w.put_i64(it->value);
  }
  return ok && w.put_optional(false);
}

inline bool decode(xdr::XdrReader& r, BenchRecord& out, Arena& arena) noexcept {
  const uint8_t* p = r.take(kBenchFixedBytes, "bench_record");
  if (p == nullptr) return false;
  out.a = static_cast<int32_t>(xdr::load_be32(p));
  out.b = xdr::load_be32(p + 4);
  out.c = static_cast<int32_t>(xdr::load_be32(p + 8));
  out.h = static_cast<int64_t>(xdr::load_be64(p + 12));
  out.uh = xdr::load_be64(p + 20);
  const uint64_t d = xdr::load_be64(p + 28);
  const uint32_t f = xdr::load_be32(p + 36);
  std::memcpy(&out.d, &d, 8);
  std::memcpy(&out.f, &f, 4);
  const uint32_t flag = xdr::load_be32(p + 40);
  if (flag > 1 && r.options().strict) {
    return r.fail_at(r.offset() - kBenchFixedBytes + 40, xdr::XdrErrc::kBadBool, flag, 1, "flag");
  }
  out.flag = flag != 0;
  out.e = static_cast<int32_t>(xdr::load_be32(p + 44));
  out.g = static_cast<int32_t>(xdr::load_be32(p + 48));
  uint32_t n = 0;
  if (!(r.get_string(out.name, kBenchNameMax, "name") &&
        r.get_count(n, kBenchValuesMax, 4, "values") &&
        r.get_array(out.values, n, arena, "values"))) {
    return false;
  }
  // The list is decoded iteratively: its length is bounded by the input, and no recursion
  // means no depth limit is needed.
  const BenchItem** link = &out.items;
  bool present = false;
  while (r.get_optional(present, "items") && present) {
    auto* it = arena.make<BenchItem>();
    if (it == nullptr) return r.fail(xdr::XdrErrc::kNoSpace, sizeof(BenchItem), 0, "items");
    const uint8_t* q = r.take(12, "bench_item");
    if (q == nullptr) return false;
    it->id = static_cast<int32_t>(xdr::load_be32(q));
    it->value = static_cast<int64_t>(xdr::load_be64(q + 4));
    *link = it;
    link = &it->next;
  }
  *link = nullptr;
  return r.ok();
}

// Folds every field into one number, as the libtirpc side does, so both benchmarks touch all the
// decoded data.
inline uint64_t checksum(const BenchRecord& r) noexcept {
  uint64_t dbits;
  uint32_t fbits;
  std::memcpy(&dbits, &r.d, 8);
  std::memcpy(&fbits, &r.f, 4);
  uint64_t s = static_cast<uint64_t>(r.a) + r.b + static_cast<uint64_t>(r.c) +
               static_cast<uint64_t>(r.h) + r.uh + dbits + fbits + static_cast<uint64_t>(r.flag) +
               static_cast<uint64_t>(r.e) + static_cast<uint64_t>(r.g);
  s += r.name.size() + static_cast<uint8_t>(r.name.empty() ? 0 : r.name[0]);
  for (int32_t v : r.values) s += static_cast<uint64_t>(v);
  for (const BenchItem* it = r.items; it != nullptr; it = it->next) {
    s += static_cast<uint64_t>(it->id) + static_cast<uint64_t>(it->value);
  }
  return s;
}

}  // namespace ringrpc::testing
