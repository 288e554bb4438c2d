// ringrpc-codec-bench: the codec's speed, side by side with libtirpc and memcpy in one run.
//
//   BM_EncodeStruct/ringrpc    encode bench_record.x (184 bytes) into a pooled buffer, record mark
//                              reserved, OutMessage reused: what a server does per reply
//   BM_EncodeStruct/libtirpc   the same struct through rpcgen's xdr_bench_record into xdrmem
//   BM_DecodeStruct/ringrpc    decode it: strings as views, arrays and list nodes in a reset
//                              Arena; then fold every field into a checksum
//   BM_DecodeStruct/libtirpc   xdr_bench_record decode, the same checksum, then xdr_free
//   BM_DecodeU32Array/ringrpc/N   N bytes of unsigned int[] through XdrReader::get_array (SIMD)
//   BM_DecodeU32Array/scalar/N    the same with the scalar reference kernel (a non-SIMD decoder)
//   BM_Memcpy/N                   memcpy of N bytes: the speed limit for the two above
//
// ringrpc benchmarks report allocs_per_op: every operator new and every cold-path allocation of
// the codec (pool slabs, arena blocks), divided by iterations. It must be 0.
//
// Without --benchmark_repetitions the binary runs 5 repetitions and, after Google Benchmark's
// own output, prints a table of medians, spreads and ratios against the targets of the codec
// issue; runs of all benchmarks are interleaved in random order. --benchmark_* flags work as usual,
// except --benchmark_format: the summary needs the console reporter. For machine-readable output
// use --benchmark_out=FILE --benchmark_out_format=json.
#include <benchmark/benchmark.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench/codec/bench_fixture.h"
#include "codec/byteswap.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"
#include "tests/support/alloc_counter.h"

namespace {

using namespace ringrpc;

uint64_t allocations() { return testing::allocation_count(); }

using bench::RecordFixture;

const RecordFixture& fixture() {
  static const RecordFixture f;
  return f;
}

void report_allocs(benchmark::State& state, uint64_t before) {
  state.counters["allocs_per_op"] = benchmark::Counter(static_cast<double>(allocations() - before),
                                                       benchmark::Counter::kAvgIterations);
}

void BM_EncodeStruct_ringrpc(benchmark::State& state) {
  const RecordFixture& f = fixture();
  BufferPool pool;
  xdr::OutMessage msg;
  // Warm the pool and the OutMessage's vectors; steady state is what is measured.
  for (int i = 0; i < 2; ++i) {
    msg.clear();
    xdr::XdrWriter w(pool, msg);
    testing::encode(w, f.rec);
    w.finish();
  }
  const uint64_t before = allocations();
  for (auto _ : state) {
    msg.clear();
    xdr::XdrWriter w(pool, msg);
    bool ok = testing::encode(w, f.rec) && w.finish();
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(msg.iov().data());
  }
  report_allocs(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.wire.size()));
  if (msg.size() != f.wire.size() + 4) state.SkipWithError("encoded size differs from libtirpc's");
}

void BM_EncodeStruct_libtirpc(benchmark::State& state) {
  const RecordFixture& f = fixture();
  void* native = tirpc_bench_make(&f.plain);
  std::vector<uint8_t> buf(1024);
  for (auto _ : state) {
    int n = tirpc_bench_encode(native, buf.data(), buf.size());
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  tirpc_bench_destroy(native);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.wire.size()));
}

void BM_DecodeStruct_ringrpc(benchmark::State& state) {
  const RecordFixture& f = fixture();
  Arena arena;
  uint64_t sum = 0;
  for (int i = 0; i < 2; ++i) {
    arena.reset();
    xdr::XdrReader r(f.wire);
    testing::BenchRecord out;
    testing::decode(r, out, arena);
  }
  const uint64_t before = allocations();
  for (auto _ : state) {
    arena.reset();
    xdr::XdrReader r(f.wire);
    testing::BenchRecord out;
    if (!testing::decode(r, out, arena) || !r.finish()) {
      state.SkipWithError("decode failed");
      break;
    }
    sum += testing::checksum(out);
  }
  benchmark::DoNotOptimize(sum);
  report_allocs(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.wire.size()));
}

void BM_DecodeStruct_libtirpc(benchmark::State& state) {
  const RecordFixture& f = fixture();
  uint64_t sum = 0;
  for (auto _ : state) {
    if (!tirpc_bench_decode_free(f.wire.data(), f.wire.size(), &sum)) {
      state.SkipWithError("decode failed");
      break;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.wire.size()));
}

struct ArrayBuffers {
  std::vector<uint8_t> src;
  std::vector<uint32_t> dst;
  explicit ArrayBuffers(size_t bytes) : src(bytes), dst(bytes / 4) {
    for (size_t i = 0; i < bytes; ++i) src[i] = static_cast<uint8_t>(i * 131 + 7);
  }
};

void BM_DecodeU32Array_ringrpc(benchmark::State& state) {
  ArrayBuffers b(static_cast<size_t>(state.range(0)));
  const size_t n = b.dst.size();
  const uint64_t before = allocations();
  for (auto _ : state) {
    xdr::XdrReader r(b.src);
    bool ok = r.get_array(b.dst.data(), n);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  report_allocs(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_DecodeU32Array_scalar(benchmark::State& state) {
  ArrayBuffers b(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    xdr::internal::scalar_swap32(b.src.data(), b.dst.data(), b.dst.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
  ArrayBuffers b(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    std::memcpy(b.dst.data(), b.src.data(), b.src.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void register_all() {
  benchmark::RegisterBenchmark("BM_EncodeStruct/ringrpc", BM_EncodeStruct_ringrpc);
  benchmark::RegisterBenchmark("BM_EncodeStruct/libtirpc", BM_EncodeStruct_libtirpc);
  benchmark::RegisterBenchmark("BM_DecodeStruct/ringrpc", BM_DecodeStruct_ringrpc);
  benchmark::RegisterBenchmark("BM_DecodeStruct/libtirpc", BM_DecodeStruct_libtirpc);
  for (auto* b :
       {benchmark::RegisterBenchmark("BM_DecodeU32Array/ringrpc", BM_DecodeU32Array_ringrpc),
        benchmark::RegisterBenchmark("BM_DecodeU32Array/scalar", BM_DecodeU32Array_scalar),
        benchmark::RegisterBenchmark("BM_Memcpy", BM_Memcpy)}) {
    b->Arg(4096)->Arg(65536)->Arg(16777216);
  }
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Collects per-repetition times (ns per iteration) by benchmark name, for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      Sample& s = samples_[r.benchmark_name()];
      s.ns.push_back(r.GetAdjustedRealTime() * unit_ns(r.time_unit));
      auto it = r.counters.find("allocs_per_op");
      if (it != r.counters.end()) s.allocs = std::max(s.allocs, static_cast<double>(it->second));
    }
  }

  void print_summary() const {
    std::printf(
        "\nSide by side (medians of repetitions; spread = min..max; same run, same machine)\n");
    std::printf("%-40s %12s %20s %9s %8s %s\n", "comparison", "ratio", "spread", "target", "result",
                "allocs/op");
    row("struct encode: libtirpc / ringrpc", "BM_EncodeStruct/libtirpc", "BM_EncodeStruct/ringrpc",
        10.0, "BM_EncodeStruct/ringrpc");
    row("struct decode: libtirpc / ringrpc", "BM_DecodeStruct/libtirpc", "BM_DecodeStruct/ringrpc",
        10.0, "BM_DecodeStruct/ringrpc");
    for (const char* n : {"4096", "65536", "16777216"}) {
      const std::string ours = std::string("BM_DecodeU32Array/ringrpc/") + n;
      const std::string lim = std::string("BM_Memcpy/") + n;
      const std::string label = std::string("u32[] decode ") + n + " B: vs memcpy";
      row(label.c_str(), lim, ours, std::string(n) == "65536" ? 0.8 : 0.0, ours);
      const std::string scalar = std::string("BM_DecodeU32Array/scalar/") + n;
      const std::string label2 = std::string("u32[] decode ") + n + " B: vs scalar";
      row(label2.c_str(), scalar, ours, 0.0, "");
    }
    std::printf("ratio > 1 means ringrpc is faster (time of the baseline / time of ringrpc).\n");
  }

 private:
  struct Sample {
    std::vector<double> ns;
    double allocs = -1;
  };
  static double unit_ns(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kNanosecond:
        return 1;
      case benchmark::kMicrosecond:
        return 1e3;
      case benchmark::kMillisecond:
        return 1e6;
      default:
        return 1e9;
    }
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  void row(const char* label, const std::string& base, const std::string& ours, double target,
           const std::string& alloc_of) const {
    auto b = samples_.find(base), o = samples_.find(ours);
    if (b == samples_.end() || o == samples_.end() || b->second.ns.empty() || o->second.ns.empty())
      return;
    const double ratio = median(b->second.ns) / median(o->second.ns);
    // Spread of the ratio over repetitions, pairing the i-th run of each.
    std::vector<double> ratios;
    for (size_t i = 0; i < std::min(b->second.ns.size(), o->second.ns.size()); ++i) {
      ratios.push_back(b->second.ns[i] / o->second.ns[i]);
    }
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    char spread[64], tgt[16] = "-", allocs[16] = "";
    std::snprintf(spread, sizeof spread, "%.2f..%.2f", *lo, *hi);
    if (target > 0) std::snprintf(tgt, sizeof tgt, ">= %.1f", target);
    auto a = samples_.find(alloc_of);
    if (!alloc_of.empty() && a != samples_.end() && a->second.allocs >= 0) {
      std::snprintf(allocs, sizeof allocs, "%.0f", a->second.allocs);
    }
    std::printf("%-40s %11.2fx %20s %9s %8s %s\n", label, ratio, spread, tgt,
                target > 0 ? (ratio >= target ? "met" : "MISSED") : "", allocs);
  }
  std::map<std::string, Sample> samples_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  auto given = [&](const char* flag) {
    for (int i = 1; i < argc; ++i) {
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
    }
    return false;
  };
  // Defaults for a noisy 2-core VM: several repetitions, interleaved in random order so that a
  // slow phase of the machine does not fall on one side of a ratio only.
  static char reps[] = "--benchmark_repetitions=5";
  static char interleave[] = "--benchmark_enable_random_interleaving=true";
  if (!given("--benchmark_repetitions")) args.push_back(reps);
  if (!given("--benchmark_enable_random_interleaving")) args.push_back(interleave);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;

  utsname u{};
  uname(&u);
  benchmark::AddCustomContext("kernel", u.release);
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("swap_kernel", xdr::active_swap_kernel().name);
#if defined(RINGRPC_WITH_MIMALLOC)
  benchmark::AddCustomContext("allocator", "mimalloc (process-wide, libtirpc included)");
#else
  benchmark::AddCustomContext("allocator", "glibc malloc");
#endif
  register_all();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
