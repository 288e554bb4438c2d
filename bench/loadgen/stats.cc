#include "bench/loadgen/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ringrpc::bench {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
double min_of(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}
double max_of(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

namespace {

// The continued fraction of the regularized incomplete beta function I_x(a, b), evaluated with
// the modified Lentz method; converges quickly for x < (a + 1) / (a + b + 2).
double beta_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::fabs(d) < kTiny) d = kTiny;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1) < kEps) break;
  }
  return h;
}

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

struct Moments {
  double mean = 0;
  double var = 0;  // sample variance
};

Moments log_moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += std::log(x);
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (std::log(x) - m.mean) * (std::log(x) - m.mean);
  m.var = v.size() > 1 ? m.var / static_cast<double>(v.size() - 1) : 0;
  return m;
}

}  // namespace

double t_cdf(double t, double df) {
  const double x = df / (df + t * t);
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, x);
  return t >= 0 ? 1 - tail : tail;
}

double t_quantile(double p, double df) {
  // Bisection: t_cdf is monotonic, and 200 halvings of [-1e6, 1e6] are far below any precision
  // a confidence bound needs.
  double lo = -1e6;
  double hi = 1e6;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

Comparison compare_samples(const std::vector<double>& base, const std::vector<double>& next,
                           bool higher_is_better, double max_regression, double confidence) {
  Comparison c;
  c.n_base = base.size();
  c.n_new = next.size();
  if (base.empty() || next.empty()) {
    c.note = "no repetitions on one side";
    return c;
  }
  for (double x : base) {
    if (!(x > 0)) {
      c.note = "a value that is not positive";
      return c;
    }
  }
  for (double x : next) {
    if (!(x > 0)) {
      c.note = "a value that is not positive";
      return c;
    }
  }
  const Moments b = log_moments(base);
  const Moments n = log_moments(next);
  const double diff = n.mean - b.mean;  // log of the ratio
  c.ratio = std::exp(diff);
  // "Worse" as a positive log difference, whichever way the figure goes.
  const double worse = higher_is_better ? -diff : diff;
  c.slowdown = std::exp(worse) - 1;
  const double threshold = std::log1p(max_regression);

  const double se2 = (base.size() > 1 ? b.var / static_cast<double>(base.size()) : 0) +
                     (next.size() > 1 ? n.var / static_cast<double>(next.size()) : 0);
  // Relative noise below 1e-12 is rounding: the repetitions agree exactly.
  if (se2 < 1e-24) {
    if (base.size() < 2 && next.size() < 2) {
      c.note = "one repetition a side: the result is not a test";
    }
    c.exact = true;
    c.ratio_low = c.ratio_high = c.ratio;
    c.p_worse = worse > 0 ? 0 : 1;
    c.p_beyond = worse > threshold ? 0 : 1;
    c.regressed = base.size() + next.size() > 2 && worse > threshold;
    return c;
  }
  if (base.size() < 2 || next.size() < 2) {
    c.note = "at least 2 repetitions a side are needed for a test";
    c.ratio_low = 0;
    c.ratio_high = std::numeric_limits<double>::infinity();
    return c;
  }
  // Welch-Satterthwaite degrees of freedom.
  const double vb = b.var / static_cast<double>(base.size());
  const double vn = n.var / static_cast<double>(next.size());
  const double df = (vb + vn) * (vb + vn) /
                    (vb * vb / static_cast<double>(base.size() - 1) +
                     vn * vn / static_cast<double>(next.size() - 1));
  const double se = std::sqrt(se2);
  const double tq = t_quantile(1 - (1 - confidence) / 2, df);
  c.ratio_low = std::exp(diff - tq * se);
  c.ratio_high = std::exp(diff + tq * se);
  c.p_worse = 1 - t_cdf(worse / se, df);
  c.p_beyond = 1 - t_cdf((worse - threshold) / se, df);
  c.regressed = c.p_beyond < 1 - confidence;
  return c;
}

}  // namespace ringrpc::bench
