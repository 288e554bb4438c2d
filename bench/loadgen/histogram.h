// Latency histograms for ringrpc-bench: log-linear buckets of nanoseconds, as HdrHistogram lays
// them out. Each power of two is split into 2^kBits linear sub-buckets, so a value is known to a
// relative precision of 2^-kBits: with kBits = 10 (the load generator's), 1 ns steps up to 1 us,
// 1 us steps up to about 1 ms, 0.1% beyond, up to 2^36 ns (69 s; longer values fall in the last
// bucket, the exact maximum is kept apart). Recording is one index computation and an increment.
//
// Threading: a histogram belongs to one thread; merge() them after the threads have joined.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringrpc::bench {

template <unsigned kBits, typename Count = uint64_t>
class LogHistogram {
 public:
  static constexpr unsigned kMaxMsb = 36;
  static constexpr size_t kSub = size_t{1} << kBits;
  static constexpr size_t kBuckets = (kMaxMsb - kBits + 2) * kSub;

  LogHistogram() : counts_(kBuckets, 0) {}

  void add(uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++n_;
    sum_ += ns;
    max_ = std::max(max_, ns);
    min_ = std::min(min_, ns);
  }
  template <unsigned B, typename C>
  void merge(const LogHistogram<B, C>& o) noexcept {
    if constexpr (B == kBits) {
      for (size_t i = 0; i < kBuckets; ++i) counts_[i] += static_cast<Count>(o.bucket(i));
    } else {
      for (size_t i = 0; i < o.kBuckets; ++i) {
        if (o.bucket(i) != 0) counts_[index(o.upper(i) - 1)] += static_cast<Count>(o.bucket(i));
      }
    }
    n_ += o.count();
    sum_ += o.sum();
    max_ = std::max(max_, o.max());
    min_ = std::min(min_, o.min_raw());
  }
  void clear() noexcept {
    std::fill(counts_.begin(), counts_.end(), Count{0});
    n_ = sum_ = max_ = 0;
    min_ = UINT64_MAX;
  }

  uint64_t count() const noexcept { return n_; }
  uint64_t sum() const noexcept { return sum_; }
  uint64_t max() const noexcept { return max_; }
  uint64_t min() const noexcept { return n_ == 0 ? 0 : min_; }
  uint64_t min_raw() const noexcept { return min_; }
  double mean() const noexcept {
    return n_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(n_);
  }
  uint64_t bucket(size_t i) const noexcept { return counts_[i]; }

  // The smallest recorded value v such that a fraction q of the values are <= v, to the
  // histogram's precision: the upper edge of its bucket, never above the true maximum.
  uint64_t quantile(double q) const noexcept {
    if (n_ == 0) return 0;
    if (q >= 1.0) return max_;
    const uint64_t want =
        std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_))));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= want) return std::min(upper(i) - 1, max_);
    }
    return max_;
  }

  static size_t index(uint64_t v) noexcept {
    if (v < kSub) return static_cast<size_t>(v);
    unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    if (msb > kMaxMsb) return kBuckets - 1;
    const unsigned shift = msb - kBits;
    return (shift + 1) * kSub + static_cast<size_t>((v >> shift) & (kSub - 1));
  }
  // One past the largest value that lands in bucket i.
  static uint64_t upper(size_t i) noexcept {
    if (i < kSub) return i + 1;
    const size_t shift = i / kSub - 1;
    return ((uint64_t{kSub} | (i % kSub)) + 1) << shift;
  }
  static uint64_t lower(size_t i) noexcept {
    if (i < kSub) return i;
    const size_t shift = i / kSub - 1;
    return (uint64_t{kSub} | (i % kSub)) << shift;
  }

 private:
  std::vector<Count> counts_;
  uint64_t n_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

// What every figure of ringrpc-bench is recorded in.
using LatencyHistogram = LogHistogram<10>;
// A coarse one (3% precision, 4 KiB) per interval of the time line.
using IntervalHistogram = LogHistogram<5, uint32_t>;

}  // namespace ringrpc::bench
