// ringrpc-codec-ops: runs one codec operation a fixed number of times, for instruction counting
// with callgrind or `perf stat` (deterministic where wall-clock benchmarks on a shared 2-core VM
// are not). count_instructions.sh runs it for every operation and prints instructions per op.
//
//   ringrpc-codec-ops OPERATION IMPLEMENTATION ITERATIONS
//     OPERATION       encode | decode   (decode includes folding every field into a checksum
//                                        and, for libtirpc, xdr_free, as BM_DecodeStruct does)
//     IMPLEMENTATION  ringrpc | libtirpc
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/codec/bench_fixture.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"

namespace {

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: ringrpc-codec-ops {encode|decode} {ringrpc|libtirpc} ITERATIONS\n"
      "Runs one codec operation on the benchmark struct ITERATIONS times, for counting\n"
      "instructions with callgrind or perf stat (see bench/codec/count_instructions.sh).\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ringrpc;
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc != 4) {
    usage(stderr);
    return 2;
  }
  const std::string op = argv[1], impl = argv[2];
  char* end = nullptr;
  const long n = std::strtol(argv[3], &end, 10);
  if ((op != "encode" && op != "decode") || (impl != "ringrpc" && impl != "libtirpc") ||
      *end != '\0' || n < 0) {
    std::fprintf(stderr, "ringrpc-codec-ops: bad arguments; run with --help\n");
    return 2;
  }

  bench::RecordFixture f;
  BufferPool pool;
  xdr::OutMessage msg;
  Arena arena;
  std::vector<uint8_t> buf(1024);
  void* native = tirpc_bench_make(&f.plain);
  uint64_t sum = 0;
  bool ok = true;
  // One loop per operation, so the loop itself costs a few instructions and no dispatch.
  if (op == "encode" && impl == "ringrpc") {
    for (long i = 0; i < n && ok; ++i) {
      msg.clear();
      xdr::XdrWriter w(pool, msg);
      ok = testing::encode(w, f.rec) && w.finish();
      sum += msg.size();
    }
  } else if (op == "encode") {
    for (long i = 0; i < n && ok; ++i) {
      const int len = tirpc_bench_encode(native, buf.data(), buf.size());
      ok = len > 0;
      sum += static_cast<uint64_t>(len);
    }
  } else if (impl == "ringrpc") {
    for (long i = 0; i < n && ok; ++i) {
      arena.reset();
      xdr::XdrReader r(f.wire);
      testing::BenchRecord out;
      ok = testing::decode(r, out, arena) && r.finish();
      sum += testing::checksum(out);
    }
  } else {
    for (long i = 0; i < n && ok; ++i) {
      ok = tirpc_bench_decode_free(f.wire.data(), f.wire.size(), &sum) == 1;
    }
  }
  msg.clear();
  tirpc_bench_destroy(native);
  if (!ok) {
    std::fprintf(stderr, "ringrpc-codec-ops: %s with %s failed\n", op.c_str(), impl.c_str());
    return 1;
  }
  std::printf("%s %s x%ld: checksum %llu\n", op.c_str(), impl.c_str(), n,
              static_cast<unsigned long long>(sum));
  return 0;
}
