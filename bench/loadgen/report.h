// What ringrpc-bench tells about a run: the table on the terminal, the JSON file (every figure
// and the environment, the input of `compare`), and the HTML/SVG drawing of the latency
// distribution and of throughput and latency over time.
//
// JSON layout (schema 1), as `compare` and scripts read it:
//   { "tool": "ringrpc-bench", "schema": 1, "label", "mode": "closed"|"open"|"instructions",
//     "environment": {...}, "target": {...}, "load": {...},
//     "summary": { medians over the repetitions, with "spread": {figure: [min, max]} },
//     "repetitions": [ {"calls", "errors", "seconds", "calls_per_sec", "mb_per_sec", "p50_us",
//                       "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
//                       "client_cpu_us_per_call", "server_cpu_us_per_call", "client_cpu_util",
//                       "host_busy_pct", "host_steal_pct",
//                       "instructions_per_call", "errors_by_kind": {KEY: count}} ],
//     "timeline": {"interval_s", "t": [...], "calls_per_sec": [...], "p50_us": [...], ...},
//     "histogram": {"unit": "ns", "buckets": [[upper_ns, count], ...]}, "warnings": [...] }
// A figure that was not measured is left out (instruction mode has no latency: the server ran
// under valgrind). Error keys are the server's verdicts by their RFC 5531 names (PROC_UNAVAIL,
// GARBAGE_ARGS, AUTH_ERROR, ...) and the client's in snake case (timed_out, refused, reset,
// cannot_decode, ...): see error_key().
//
// Threading: pure functions of their arguments.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/loadgen/load.h"

namespace ringrpc::bench {

struct RunReport {
  std::string label;
  std::string mode;     // "closed", "open", "instructions"
  std::string counter;  // instructions mode: "perf" or "valgrind"
  std::string target;   // "tcp 127.0.0.1:2049", for people
  std::string host;
  LoadSpec spec;
  LoadResult result;
  int server_pid = 0;
  std::vector<std::string> warnings;
};

// The JSON key of an error kind.
const char* error_key(Errc e) noexcept;
// Failed calls by kind, over every repetition.
ErrorCounts errors_by_kind(const LoadResult& res) noexcept;
// "3 x RPC: Procedure unavailable, 1 x ...": the failed calls by kind, for a message.
std::string describe_errors(const LoadResult& res);
// Figures of a repetition by name, as in the JSON (only those measured).
std::vector<std::pair<std::string, double>> rep_figures(const RunReport& r, const RepResult& rep);
// Adds the warnings a reader must see: the load generator as the bottleneck (its CPU, its lag
// behind the open-loop schedule), calls never sent, errors, and a host whose hypervisor took
// much of its CPU time for other guests (steal) while it measured.
void analyse(RunReport& r);

nlohmann::json environment_json(const std::string& client_backend);
nlohmann::json to_json(const RunReport& r);
void print_table(std::FILE* out, const RunReport& r);
// A standalone SVG of the charts, and an HTML page with the charts and the figures.
std::string svg_charts(const RunReport& r);
std::string html_report(const RunReport& r);

bool write_file(const std::string& path, const std::string& text, std::string* error);

}  // namespace ringrpc::bench
