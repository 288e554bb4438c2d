// The benchmark struct's values (184 bytes on the wire), in both libtirpc's and ringrpc's form,
// shared by ringrpc-codec-bench and ringrpc-codec-ops so both measure the same message.
// Not thread-safe; build one per thread.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "tests/support/bench_record_codec.h"
#include "tests/support/tirpc_shim.h"

namespace ringrpc::bench {

inline tirpc_bench_plain plain_record() {
  tirpc_bench_plain p{};
  p.a = -17;
  p.b = 4000000000u;
  p.c = 123456;
  p.h = -1234567890123;
  p.uh = 9876543210987654321ull;
  p.d = 3.14159;
  p.f = 2.5f;
  p.flag = 1;
  p.e = 42;
  p.g = -42;
  std::strcpy(p.name, "ringrpc-benchmark-item");
  p.nvalues = 16;
  for (int i = 0; i < 16; ++i) p.values[i] = i * 1000 - 7;
  p.nitems = 2;
  p.items[0] = {1, 1000000000000};
  p.items[1] = {2, -1000000000000};
  return p;
}

struct RecordFixture {
  tirpc_bench_plain plain = plain_record();
  int32_t values[16];
  testing::BenchItem item2{2, -1000000000000, nullptr};
  testing::BenchItem item1{1, 1000000000000, &item2};
  testing::BenchRecord rec;
  std::vector<uint8_t> wire;  // the record as libtirpc encodes it

  RecordFixture() {
    std::copy(plain.values, plain.values + 16, values);
    rec = {plain.a, plain.b, plain.c, plain.h,    plain.uh, plain.d, plain.f,
           true,    plain.e, plain.g, plain.name, values,   &item1};
    void* native = tirpc_bench_make(&plain);
    wire.resize(1024);
    wire.resize(static_cast<size_t>(tirpc_bench_encode(native, wire.data(), wire.size())));
    tirpc_bench_destroy(native);
  }
  RecordFixture(const RecordFixture&) = delete;
  RecordFixture& operator=(const RecordFixture&) = delete;
};

}  // namespace ringrpc::bench
