// ringrpc-bench's arithmetic: histogram precision, the t distribution against published values,
// the regression test's verdicts, compare's reading of result files, and the host's CPU shares
// read from /proc/stat.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bench/loadgen/compare.h"
#include "bench/loadgen/histogram.h"
#include "bench/loadgen/host_cpu.h"
#include "bench/loadgen/stats.h"

namespace ringrpc::bench {
namespace {

TEST(Histogram, QuantilesWithinPrecision) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.add(v * 1000);  // 1 us .. 100 ms, uniform
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 100000 * 1000;
    const double got = static_cast<double>(h.quantile(q));
    EXPECT_NEAR(got, want, want / 1000) << q;  // 0.1%
  }
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.quantile(1.0), h.max());
}

TEST(Histogram, ExactBelowOneMicrosecondAndClampsHuge) {
  LatencyHistogram h;
  h.add(7);
  h.add(999);
  EXPECT_EQ(h.quantile(0.5), 7u);
  EXPECT_EQ(h.quantile(1.0), 999u);
  h.add(uint64_t{1} << 50);  // beyond the range: last bucket, exact maximum kept
  EXPECT_EQ(h.max(), uint64_t{1} << 50);
  EXPECT_EQ(h.count(), 3u);
}

TEST(Histogram, MergeAcrossPrecisions) {
  IntervalHistogram coarse;
  LatencyHistogram fine;
  for (int i = 0; i < 1000; ++i) coarse.add(50000);
  fine.merge(coarse);
  EXPECT_EQ(fine.count(), 1000u);
  EXPECT_NEAR(static_cast<double>(fine.quantile(0.5)), 50000, 50000 * 0.04);
}

TEST(Stats, StudentTAgainstTables) {
  // Two-sided 95% critical values: df 1 -> 12.706, 10 -> 2.228, 30 -> 2.042.
  EXPECT_NEAR(t_quantile(0.975, 1), 12.706, 0.001);
  EXPECT_NEAR(t_quantile(0.975, 10), 2.228, 0.001);
  EXPECT_NEAR(t_quantile(0.975, 30), 2.042, 0.001);
  EXPECT_NEAR(t_cdf(0, 5), 0.5, 1e-12);
  EXPECT_NEAR(t_cdf(2.015, 5), 0.95, 0.0005);
}

TEST(Stats, IdenticalRunsDoNotRegress) {
  const std::vector<double> a = {1000, 1000, 1000};
  const Comparison c = compare_samples(a, a, false, 0.02, 0.95);
  EXPECT_TRUE(c.exact);
  EXPECT_FALSE(c.regressed);
  EXPECT_DOUBLE_EQ(c.ratio, 1.0);
}

TEST(Stats, ExactSlowdownBeyondAllowanceRegresses) {
  const Comparison c = compare_samples({1000, 1000, 1000}, {1100, 1100, 1100}, false, 0.05, 0.95);
  EXPECT_TRUE(c.regressed);
  EXPECT_NEAR(c.slowdown, 0.10, 1e-9);
  // Within the allowance: not a regression.
  EXPECT_FALSE(compare_samples({1000, 1000}, {1030, 1030}, false, 0.05, 0.95).regressed);
}

TEST(Stats, ThroughputDirection) {
  // Fewer calls/s is worse; more is not.
  EXPECT_TRUE(compare_samples({100, 101, 99}, {80, 81, 79}, true, 0.05, 0.95).regressed);
  EXPECT_FALSE(compare_samples({100, 101, 99}, {120, 121, 119}, true, 0.05, 0.95).regressed);
}

TEST(Stats, NoiseIsNotARegression) {
  // Same distribution, 10% noise: a 5% gate must not fire on noise (checked over many draws).
  std::mt19937 rng(7);
  std::normal_distribution<double> d(1000, 100);
  int fired = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> a, b;
    for (int i = 0; i < 5; ++i) a.push_back(d(rng)), b.push_back(d(rng));
    fired += compare_samples(a, b, false, 0.05, 0.95).regressed;
  }
  EXPECT_LT(fired, 10);  // 5% false alarms at most, and the 5% allowance on top
  // A real 30% slow-down under the same noise is found.
  std::normal_distribution<double> slow(1300, 130);
  int found = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> a, b;
    for (int i = 0; i < 5; ++i) a.push_back(d(rng)), b.push_back(slow(rng));
    found += compare_samples(a, b, false, 0.05, 0.95).regressed;
  }
  EXPECT_GT(found, 150);
}

TEST(Stats, OneRepetitionIsNotATest) {
  const Comparison c = compare_samples({100}, {90, 95}, true, 0.05, 0.95);
  EXPECT_FALSE(c.regressed);
  EXPECT_FALSE(c.note.empty());
}

nlohmann::json result(const std::vector<double>& ipc, const std::vector<double>& rate) {
  nlohmann::json j{{"tool", "ringrpc-bench"},
                   {"schema", 1},
                   {"mode", "closed"},
                   {"target", {{"program", 1}}},
                   {"load", {{"connections", 1}}}};
  j["repetitions"] = nlohmann::json::array();
  for (size_t i = 0; i < std::max(ipc.size(), rate.size()); ++i) {
    nlohmann::json r;
    if (i < ipc.size()) r["instructions_per_call"] = ipc[i];
    if (i < rate.size()) r["calls_per_sec"] = rate[i];
    j["repetitions"].push_back(r);
  }
  return j;
}

TEST(Compare, PrefersInstructionsWhenBothHaveThem) {
  std::vector<MetricVerdict> v;
  std::vector<std::string> notes;
  std::string err;
  ASSERT_TRUE(
      compare_results(result({100, 100}, {5, 6}), result({120, 120}, {50, 60}), {}, v, notes, &err))
      << err;
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "instructions_per_call");
  EXPECT_TRUE(v[0].c.regressed);
}

TEST(Compare, RejectsWhatItCannotCompare) {
  std::vector<MetricVerdict> v;
  std::vector<std::string> notes;
  std::string err;
  EXPECT_FALSE(
      compare_results(nlohmann::json{{"tool", "other"}}, result({1}, {}), {}, v, notes, &err));
  CompareOptions o;
  o.metrics = {"bogus"};
  EXPECT_FALSE(compare_results(result({1, 1}, {}), result({1, 1}, {}), o, v, notes, &err));
  EXPECT_NE(err.find("unknown figure"), std::string::npos);
  o.metrics = {"p99_us"};
  EXPECT_FALSE(compare_results(result({1, 1}, {}), result({1, 1}, {}), o, v, notes, &err));
  nlohmann::json newer = result({1, 1}, {});
  newer["schema"] = 2;
  EXPECT_FALSE(compare_results(result({1, 1}, {}), newer, {}, v, notes, &err));
}

TEST(Compare, SaysWhenARunHadStealButStillGates) {
  std::vector<MetricVerdict> v;
  std::vector<std::string> notes;
  std::string err;
  nlohmann::json base = result({}, {100, 101, 99});
  nlohmann::json next = result({}, {50, 51, 49});
  for (auto& r : base["repetitions"]) r["host_steal_pct"] = 0.4;
  ASSERT_TRUE(compare_results(base, next, {}, v, notes, &err)) << err;
  for (const std::string& n : notes) EXPECT_EQ(n.find("steal"), std::string::npos) << n;

  for (auto& r : next["repetitions"]) r["host_steal_pct"] = 3.0;
  next["repetitions"][1]["host_steal_pct"] = 31.6;
  notes.clear();
  v.clear();
  ASSERT_TRUE(compare_results(base, next, {}, v, notes, &err)) << err;
  bool told = false;
  for (const std::string& n : notes) {
    if (n.find("NEW ran while the hypervisor took up to 32%") != std::string::npos) told = true;
    EXPECT_EQ(n.find("BASE ran"), std::string::npos) << n;
  }
  EXPECT_TRUE(told);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].name, "calls_per_sec");
  EXPECT_TRUE(v[0].c.regressed);  // the note informs; the verdict stands
}

TEST(HostCpu, ParsesTheAggregateLine) {
  // As kernel 6.x prints it: ten counters (guest and guest_nice last).
  const auto t = parse_proc_stat(
      "cpu  497484 0 108702 8318785 41315 0 32489 29995 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->user, 497484u);
  EXPECT_EQ(t->system, 108702u);
  EXPECT_EQ(t->idle, 8318785u);
  EXPECT_EQ(t->iowait, 41315u);
  EXPECT_EQ(t->softirq, 32489u);
  EXPECT_EQ(t->steal, 29995u);
  // Before 2.6.11 there was no steal (and before 2.5.41 no iowait): missing reads as 0.
  const auto old = parse_proc_stat("cpu 10 20 30 40");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->idle, 40u);
  EXPECT_EQ(old->steal, 0u);
}

TEST(HostCpu, RejectsWhatIsNotTheAggregateLine) {
  for (const char* bad :
       {"", "cpu", "cpu0 1 2 3 4 5 6 7 8", "intr 1 2 3 4", "cpu  1 2 3", "cpu  1 2 x 4",
        "cpu  1 2 3 4 five", "cpu  1 2 3 4 5 6 7 8 nine", "CPU  1 2 3 4"}) {
    EXPECT_FALSE(parse_proc_stat(bad)) << '"' << bad << '"';
  }
}

TEST(HostCpu, SharesOfAWindow) {
  HostCpuTicks a{100, 0, 50, 1000, 10, 0, 5, 20};
  HostCpuTicks b = a;
  b.user += 120;  // 400 ticks in all: two CPUs for two seconds at USER_HZ 100
  b.system += 40;
  b.softirq += 20;
  b.idle += 60;
  b.iowait += 60;
  b.steal += 100;
  const auto s = host_share(a, b);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->busy, 180.0 / 400);
  EXPECT_DOUBLE_EQ(s->idle, 120.0 / 400);
  EXPECT_DOUBLE_EQ(s->steal, 100.0 / 400);

  EXPECT_FALSE(host_share(a, a));  // no tick passed
  HostCpuTicks back = b;
  back.user = a.user - 1;
  EXPECT_FALSE(host_share(a, back));  // a counter that only grows went back: not one host
  HostCpuTicks io = b;
  io.iowait = a.iowait - 5;  // proc(5): iowait can decrease
  const auto t = host_share(a, io);
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(t->idle, 60.0 / 340);
}

TEST(HostCpu, ReadsThisHost) {
  const auto a = read_host_cpu();
  if (!a) GTEST_SKIP() << "/proc/stat cannot be read here";
  const auto b = read_host_cpu();
  ASSERT_TRUE(b);
  EXPECT_GE(b->user + b->system + b->idle, a->user + a->system + a->idle);
}

}  // namespace
}  // namespace ringrpc::bench
