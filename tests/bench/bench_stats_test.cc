// ringrpc-bench's arithmetic: histogram precision, the t distribution against published values,
// the regression test's verdicts, and compare's reading of result files.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bench/loadgen/compare.h"
#include "bench/loadgen/histogram.h"
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

}  // namespace
}  // namespace ringrpc::bench
