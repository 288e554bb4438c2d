// Statistics for ringrpc-bench: medians and spreads of repetitions, and the test that decides
// whether a new build is slower than a base one.
//
// The regression test works on the logarithms of the repetitions' figures (benchmark figures are
// ratios at heart, and their noise is multiplicative), with Welch's t-test, which does not assume
// both sides are equally noisy. Its result is the ratio NEW/BASE of the geometric means with a
// confidence interval; a figure has regressed when NEW is worse than BASE by more than the
// allowance with confidence: the one-sided test of "worse by at most the allowance" rejects it
// at alpha. Testing against the allowance rather than against "no change" keeps noise from
// firing the gate (a CI gate that cries wolf gets switched off). Identical repetitions (an
// instruction count) have no variance: then the ratio is exact and needs no test.
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ringrpc::bench {

double median(std::vector<double> v);
double min_of(const std::vector<double>& v);
double max_of(const std::vector<double>& v);

// Student's t distribution: P(T <= t) with `df` degrees of freedom (df may be fractional).
double t_cdf(double t, double df);
// The t with t_cdf(t, df) == p.
double t_quantile(double p, double df);

struct Comparison {
  size_t n_base = 0;
  size_t n_new = 0;
  double ratio = 1;      // geometric mean of NEW / geometric mean of BASE
  double ratio_low = 1;  // the confidence interval of `ratio`
  double ratio_high = 1;
  double p_worse = 1;   // one-sided p-value of "NEW is no worse than BASE"
  double p_beyond = 1;  // one-sided p-value of "NEW is worse by at most the allowance"
  double slowdown = 0;  // how much worse NEW is, as a fraction (0.05 = 5% worse); < 0: better
  bool regressed = false;
  bool exact = false;  // no variance on either side
  std::string note;    // why no test could be made, when so
};

// `higher_is_better`: throughput (a lower NEW is worse); otherwise latency, CPU, instructions.
// `max_regression`: the fraction of slow-down tolerated (0.05); `confidence`: of the interval and
// of the test (0.95 gives alpha 0.05). Needs at least 2 repetitions a side unless both are
// exact; all values must be positive.
Comparison compare_samples(const std::vector<double>& base, const std::vector<double>& next,
                           bool higher_is_better, double max_regression, double confidence);

}  // namespace ringrpc::bench
