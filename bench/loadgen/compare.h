// `ringrpc-bench compare BASE.json NEW.json`: the regression gate. For each figure both files
// measured per repetition, the repetitions of NEW are tested against those of BASE
// (stats.h: Welch's t-test on logarithms); NEW has regressed when a figure is worse by more than
// --max-regression with the test's confidence. Exit 0: no regression; 1: regressed (the figures,
// by how much, with confidence bounds); 2: the files cannot be compared.
//
// Which figures: --metric NAME[,NAME] if given; else instructions_per_call when both files have
// it (the deterministic gate), else calls_per_sec, p50_us and p99_us.
//
// Threading: pure functions.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/loadgen/stats.h"

namespace ringrpc::bench {

struct CompareOptions {
  double max_regression = 0.05;
  double confidence = 0.95;
  std::vector<std::string> metrics;
};

struct MetricVerdict {
  std::string name;
  bool higher_is_better = false;
  Comparison c;
};

// True for figures where more is better (throughput); false for latency, CPU and instructions.
// Unknown names: false, and *known is set false.
bool higher_is_better(const std::string& metric, bool* known = nullptr);

// Compares two parsed result files. False, with the reason, when they cannot be compared.
bool compare_results(const nlohmann::json& base, const nlohmann::json& next,
                     const CompareOptions& options, std::vector<MetricVerdict>& verdicts,
                     std::vector<std::string>& notes, std::string* error);

// The whole command: reads, compares, prints to `out`; returns the exit code.
int compare_files(const std::string& base_path, const std::string& new_path,
                  const CompareOptions& options, std::FILE* out);

}  // namespace ringrpc::bench
