#include "bench/loadgen/compare.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "bench/loadgen/host_cpu.h"

namespace ringrpc::bench {

using nlohmann::json;

namespace {

struct MetricInfo {
  const char* name;
  bool higher_is_better;
};
constexpr MetricInfo kMetrics[] = {
    {"calls_per_sec", true},
    {"mb_per_sec", true},
    {"p50_us", false},
    {"p90_us", false},
    {"p99_us", false},
    {"p999_us", false},
    {"max_us", false},
    {"mean_us", false},
    {"client_cpu_us_per_call", false},
    {"server_cpu_us_per_call", false},
    {"instructions_per_call", false},
};

std::vector<double> samples(const json& j, const std::string& metric) {
  std::vector<double> v;
  if (!j.contains("repetitions") || !j["repetitions"].is_array()) return v;
  for (const json& rep : j["repetitions"]) {
    if (rep.is_object() && rep.contains(metric) && rep[metric].is_number()) {
      v.push_back(rep[metric].get<double>());
    }
  }
  return v;
}

bool has_metric(const json& j, const std::string& metric) { return !samples(j, metric).empty(); }

std::string describe_load(const json& j) {
  if (!j.contains("load") || !j.contains("target")) return "";
  json k = j["load"];
  k.erase("repetitions");
  json t = j["target"];
  t.erase("server_pid");
  t.erase("address");
  return j.value("mode", std::string()) + " " + t.dump() + " " + k.dump();
}

}  // namespace

bool higher_is_better(const std::string& metric, bool* known) {
  for (const MetricInfo& m : kMetrics) {
    if (metric == m.name) {
      if (known != nullptr) *known = true;
      return m.higher_is_better;
    }
  }
  if (known != nullptr) *known = false;
  return false;
}

bool compare_results(const json& base, const json& next, const CompareOptions& options,
                     std::vector<MetricVerdict>& verdicts, std::vector<std::string>& notes,
                     std::string* error) {
  for (const json* j : {&base, &next}) {
    if (!j->is_object() || j->value("tool", std::string()) != "ringrpc-bench") {
      *error = "not a ringrpc-bench result file (no \"tool\": \"ringrpc-bench\")";
      return false;
    }
    if (j->value("schema", 0) != 1) {
      *error = "result file schema " + std::to_string(j->value("schema", 0)) +
               " is not one this ringrpc-bench reads (1)";
      return false;
    }
  }
  if (describe_load(base) != describe_load(next)) {
    notes.push_back(
        "the two runs did not use the same target and load; the comparison may "
        "say more about the set-up than about the code");
  }
  // Steal is the host's neighbours, not the code: a regression found while either run had a lot
  // of it may be theirs. The gate still decides; the reader is told.
  for (int i = 0; i < 2; ++i) {
    const std::vector<double> steal = samples(i == 0 ? base : next, "host_steal_pct");
    if (!steal.empty() && max_of(steal) >= kNotableSteal * 100) {
      char text[160];
      std::snprintf(text, sizeof text,
                    "%s ran while the hypervisor took up to %.0f%% of the host's CPU time "
                    "(steal): its figures depend on the host's neighbours",
                    i == 0 ? "BASE" : "NEW", max_of(steal));
      notes.emplace_back(text);
    }
  }
  std::vector<std::string> metrics = options.metrics;
  if (metrics.empty()) {
    if (has_metric(base, "instructions_per_call") && has_metric(next, "instructions_per_call")) {
      metrics = {"instructions_per_call"};
    } else {
      metrics = {"calls_per_sec", "p50_us", "p99_us"};
    }
  }
  for (const std::string& m : metrics) {
    bool known = false;
    const bool higher = higher_is_better(m, &known);
    if (!known) {
      *error = "unknown figure '" + m +
               "' (calls_per_sec, mb_per_sec, p50_us, p90_us, p99_us, "
               "p999_us, max_us, mean_us, client_cpu_us_per_call, server_cpu_us_per_call, "
               "instructions_per_call)";
      return false;
    }
    const std::vector<double> b = samples(base, m);
    const std::vector<double> n = samples(next, m);
    if (b.empty() || n.empty()) {
      if (!options.metrics.empty()) {
        *error = "'" + m + "' is not measured in " + (b.empty() ? "BASE" : "NEW");
        return false;
      }
      notes.push_back("'" + m + "' is not in both files; left out");
      continue;
    }
    MetricVerdict v;
    v.name = m;
    v.higher_is_better = higher;
    v.c = compare_samples(b, n, higher, options.max_regression, options.confidence);
    verdicts.push_back(v);
  }
  if (verdicts.empty()) {
    *error = "no figure is measured in both files";
    return false;
  }
  return true;
}

int compare_files(const std::string& base_path, const std::string& new_path,
                  const CompareOptions& options, std::FILE* out) {
  json files[2];
  const std::string paths[2] = {base_path, new_path};
  for (int i = 0; i < 2; ++i) {
    std::ifstream f(paths[i]);
    if (!f) {
      std::fprintf(stderr, "ringrpc-bench compare: cannot read %s\n", paths[i].c_str());
      return 2;
    }
    files[i] = json::parse(f, nullptr, false);
    if (files[i].is_discarded()) {
      std::fprintf(stderr, "ringrpc-bench compare: %s is not valid JSON\n", paths[i].c_str());
      return 2;
    }
  }
  std::vector<MetricVerdict> verdicts;
  std::vector<std::string> notes;
  std::string error;
  if (!compare_results(files[0], files[1], options, verdicts, notes, &error)) {
    std::fprintf(stderr, "ringrpc-bench compare: %s\n", error.c_str());
    return 2;
  }
  std::fprintf(out, "%s -> %s (regression allowed: %.1f%%, confidence %.0f%%)\n\n",
               base_path.c_str(), new_path.c_str(), options.max_regression * 100,
               options.confidence * 100);
  std::fprintf(out, "%-24s %5s %14s %14s %9s %21s %9s  %s\n", "figure", "n", "base (median)",
               "new (median)", "new/base", "confidence interval", "p(within)", "verdict");
  bool regressed = false;
  for (const MetricVerdict& v : verdicts) {
    const double mb = median(samples(files[0], v.name));
    const double mn = median(samples(files[1], v.name));
    const char* verdict = "same";
    if (v.c.regressed) {
      verdict = "REGRESSED";
      regressed = true;
    } else if (!v.c.note.empty() && !v.c.exact) {
      verdict = "untested";
    } else if (v.c.slowdown < -options.max_regression &&
               (v.c.exact || 1 - v.c.p_worse < 1 - options.confidence)) {
      verdict = "better";
    } else if (v.c.slowdown > 0 && !v.c.exact && v.c.p_worse < 1 - options.confidence) {
      verdict = "worse, within the allowance";
    }
    char ci[64];
    std::snprintf(ci, sizeof ci, "[%.4f, %.4f]", v.c.ratio_low, v.c.ratio_high);
    std::fprintf(out, "%-24s %2zu/%-2zu %14.4g %14.4g %9.4f %21s %9.3g  %s", v.name.c_str(),
                 v.c.n_base, v.c.n_new, mb, mn, v.c.ratio, ci, v.c.p_beyond, verdict);
    if (v.c.regressed) {
      std::fprintf(out, " (%.1f%% %s)", v.c.slowdown * 100,
                   v.higher_is_better ? "lower throughput" : "higher");
    }
    std::fprintf(out, "\n");
    if (!v.c.note.empty()) std::fprintf(out, "  %s: %s\n", v.name.c_str(), v.c.note.c_str());
  }
  for (const std::string& n : notes) std::fprintf(out, "note: %s\n", n.c_str());
  std::fprintf(out, "\n%s\n",
               regressed ? "REGRESSION: NEW is slower than BASE (see above)"
                         : "no regression beyond the allowance");
  return regressed ? 1 : 0;
}

}  // namespace ringrpc::bench
