#include "bench/loadgen/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/loadgen/host_cpu.h"
#include "bench/loadgen/stats.h"

#ifndef RINGRPC_VERSION
#define RINGRPC_VERSION "unknown"
#endif
#ifndef RINGRPC_GIT
#define RINGRPC_GIT "unknown"
#endif
#ifndef RINGRPC_LIBURING_VERSION
#define RINGRPC_LIBURING_VERSION "unknown"
#endif
#ifndef RINGRPC_BUILD_TYPE
#define RINGRPC_BUILD_TYPE "unknown"
#endif

namespace ringrpc::bench {

using nlohmann::json;

namespace {

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

std::string utc_now() {
  const time_t t = time(nullptr);
  tm tmv{};
  gmtime_r(&t, &tmv);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  return buf;
}

bool instruction_mode(const RunReport& r) { return r.mode == "instructions"; }

std::string fmt(const char* f, double v) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Calls/s with a unit people read at a glance.
std::string rate_text(double v) {
  if (v >= 1e6) return fmt("%.2f M", v / 1e6);
  if (v >= 1e3) return fmt("%.1f k", v / 1e3);
  return fmt("%.0f", v);
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

}  // namespace

const char* error_key(Errc e) noexcept {
  switch (e) {
    case Errc::kOk:
      return "ok";
    case Errc::kTimedOut:
      return "timed_out";
    case Errc::kRefused:
      return "refused";
    case Errc::kReset:
      return "reset";
    case Errc::kCannotSend:
      return "cannot_send";
    case Errc::kUnknownHost:
      return "unknown_host";
    case Errc::kNotRegistered:
      return "not_registered";
    case Errc::kCancelled:
      return "cancelled";
    case Errc::kTooManyCalls:
      return "too_many_calls";
    case Errc::kProgUnavail:
      return "PROG_UNAVAIL";
    case Errc::kProgMismatch:
      return "PROG_MISMATCH";
    case Errc::kProcUnavail:
      return "PROC_UNAVAIL";
    case Errc::kGarbageArgs:
      return "GARBAGE_ARGS";
    case Errc::kSystemErr:
      return "SYSTEM_ERR";
    case Errc::kRpcMismatch:
      return "RPC_MISMATCH";
    case Errc::kAuthError:
      return "AUTH_ERROR";
    case Errc::kCannotDecode:
      return "cannot_decode";
    case Errc::kCannotEncode:
      return "cannot_encode";
  }
  return "unknown";
}

std::vector<std::pair<std::string, double>> rep_figures(const RunReport& r, const RepResult& rep) {
  std::vector<std::pair<std::string, double>> f;
  f.emplace_back("calls", static_cast<double>(rep.calls));
  f.emplace_back("errors", static_cast<double>(rep.errors));
  if (rep.instructions_per_call >= 0)
    f.emplace_back("instructions_per_call", rep.instructions_per_call);
  if (instruction_mode(r)) return f;
  f.emplace_back("seconds", rep.seconds);
  f.emplace_back("calls_per_sec", rep.calls_per_sec());
  f.emplace_back("mb_per_sec",
                 rep.seconds > 0 ? static_cast<double>(rep.bytes) / rep.seconds / 1e6 : 0);
  f.emplace_back("p50_us", us(rep.latency.quantile(0.5)));
  f.emplace_back("p90_us", us(rep.latency.quantile(0.9)));
  f.emplace_back("p99_us", us(rep.latency.quantile(0.99)));
  f.emplace_back("p999_us", us(rep.latency.quantile(0.999)));
  f.emplace_back("max_us", us(rep.latency.max()));
  f.emplace_back("mean_us", rep.latency.mean() / 1000.0);
  if (rep.calls > 0) {
    f.emplace_back("client_cpu_us_per_call",
                   rep.client_cpu_s * 1e6 / static_cast<double>(rep.calls));
    if (rep.server_cpu_s >= 0) {
      f.emplace_back("server_cpu_us_per_call",
                     rep.server_cpu_s * 1e6 / static_cast<double>(rep.calls));
    }
  }
  if (rep.seconds > 0) f.emplace_back("client_cpu_util", rep.client_cpu_s / rep.seconds);
  if (rep.host_busy >= 0) f.emplace_back("host_busy_pct", rep.host_busy * 100);
  if (rep.host_steal >= 0) f.emplace_back("host_steal_pct", rep.host_steal * 100);
  return f;
}

ErrorCounts errors_by_kind(const LoadResult& res) noexcept {
  ErrorCounts all{};
  for (const RepResult& rep : res.reps) {
    for (size_t k = 0; k < kErrcCount; ++k) all[k] += rep.errors_by_kind[k];
  }
  return all;
}

std::string describe_errors(const LoadResult& res) {
  const ErrorCounts all = errors_by_kind(res);
  std::string out;
  for (size_t k = 0; k < kErrcCount; ++k) {
    if (all[k] == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::to_string(all[k]) + " x " + RpcError::of(static_cast<Errc>(k)).to_string();
  }
  return out;
}

void analyse(RunReport& r) {
  const LoadResult& res = r.result;
  uint64_t calls = 0, errors = 0;
  double cpu = 0, secs = 0;
  for (const RepResult& rep : res.reps) {
    calls += rep.calls;
    errors += rep.errors;
    cpu += rep.client_cpu_s;
    secs += rep.seconds;
  }
  if (!instruction_mode(r)) {
    double steal = -1;
    for (const RepResult& rep : res.reps) steal = std::max(steal, rep.host_steal);
    if (steal >= kNotableSteal) {
      r.warnings.push_back(
          fmt("the hypervisor took up to %.0f%% of this host's CPU time for other guests (steal) "
              "in a measured window: throughput and latency depend on the neighbours, and compare "
              "poorly with a run on a quiet host",
              steal * 100));
    }
  }
  if (!instruction_mode(r) && secs > 0) {
    // A thread of ours that is busy nearly all the time cannot ask faster: the figures are the
    // client's limit, not the server's.
    const double util = cpu / secs / static_cast<double>(r.spec.threads);
    if (util > 0.85) {
      r.warnings.push_back(
          fmt("ringrpc-bench was busy %.0f%% of its threads' time: it may be the "
              "bottleneck (add --threads, or run it on another machine)",
              util * 100));
    }
  }
  if (r.spec.rate > 0) {
    if (res.send_lag.count() > 0 && res.send_lag.quantile(0.99) > 1000000) {
      r.warnings.push_back(
          fmt("ringrpc-bench sent calls late while connections had room (p99 "
              "%.1f ms behind schedule): it could not keep the rate itself",
              static_cast<double>(res.send_lag.quantile(0.99)) / 1e6));
    }
    if (res.capped > 0) {
      r.warnings.push_back(
          std::to_string(res.capped) +
          " calls waited in the client because every connection had --max-inflight "
          "calls outstanding: the server is not keeping up (their latency counts "
          "from when they were due)");
    }
    if (res.unsent > 0) {
      r.warnings.push_back(std::to_string(res.unsent) +
                           " calls were due but never sent: latency figures are a lower bound");
    }
  }
  if (res.in_flight_at_end > 0) {
    r.warnings.push_back(std::to_string(res.in_flight_at_end) +
                         " calls were still in flight at the end and are not counted");
  }
  if (errors > 0) {
    r.warnings.push_back(std::to_string(errors) + " of " + std::to_string(calls) + " calls failed");
  }
}

json environment_json(const std::string& client_backend) {
  utsname u{};
  uname(&u);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return json{{"kernel", std::string(u.sysname) + " " + u.release},
              {"machine", u.machine},
              {"hostname", host},
              {"cpu_model", cpu_model()},
              {"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
              {"client_backend", client_backend},
              {"ringrpc_version", RINGRPC_VERSION},
              {"ringrpc_git", RINGRPC_GIT},
              {"liburing", RINGRPC_LIBURING_VERSION},
              {"compiler", __VERSION__},
              {"build_type", RINGRPC_BUILD_TYPE},
              {"date", utc_now()}};
}

json to_json(const RunReport& r) {
  const LoadSpec& s = r.spec;
  const LoadResult& res = r.result;
  json j;
  j["tool"] = "ringrpc-bench";
  j["schema"] = 1;
  j["label"] = r.label;
  j["mode"] = r.mode;
  if (!r.counter.empty()) j["instruction_counter"] = r.counter;
  j["environment"] = environment_json(res.client_backend);
  j["target"] = {{"transport", to_string(s.transport)},
                 {"address", r.target},
                 {"host", r.host},
                 {"program", s.program},
                 {"version", s.version},
                 {"procedure", s.procedure},
                 {"args_bytes", s.args.size()},
                 {"raw_replies", s.raw_replies}};
  if (r.server_pid > 0) j["target"]["server_pid"] = r.server_pid;
  j["load"] = {{"connections", s.connections},   {"depth", s.depth},
               {"threads", s.threads},           {"rate", s.rate},
               {"max_inflight", s.max_inflight}, {"warmup_s", s.warmup_s},
               {"repetitions", s.repetitions},   {"timeout_ms", s.timeout.count()}};
  if (s.calls > 0) {
    j["load"]["calls_per_repetition"] = s.calls;
  } else {
    j["load"]["duration_s"] = s.duration_s;
  }

  json reps = json::array();
  std::map<std::string, std::vector<double>> by_name;
  std::vector<std::string> order;
  for (const RepResult& rep : res.reps) {
    json o;
    for (const auto& [k, v] : rep_figures(r, rep)) {
      o[k] = v;
      if (!by_name.count(k)) order.push_back(k);
      by_name[k].push_back(v);
    }
    json kinds = json::object();
    for (size_t k = 0; k < kErrcCount; ++k) {
      if (rep.errors_by_kind[k] != 0)
        kinds[error_key(static_cast<Errc>(k))] = rep.errors_by_kind[k];
    }
    o["errors_by_kind"] = kinds;
    reps.push_back(o);
  }
  j["repetitions"] = reps;
  json summary;
  json spread;
  for (const std::string& k : order) {
    summary[k] = median(by_name[k]);
    spread[k] = {min_of(by_name[k]), max_of(by_name[k])};
  }
  summary["spread"] = spread;
  if (!instruction_mode(r)) {
    summary["all"] = {{"calls", res.latency.count()},
                      {"p50_us", us(res.latency.quantile(0.5))},
                      {"p90_us", us(res.latency.quantile(0.9))},
                      {"p99_us", us(res.latency.quantile(0.99))},
                      {"p999_us", us(res.latency.quantile(0.999))},
                      {"max_us", us(res.latency.max())}};
    if (s.rate > 0) {
      summary["open_loop"] = {{"unsent", res.unsent},
                              {"waited_for_inflight_cap", res.capped},
                              {"send_lag_p50_us", us(res.send_lag.quantile(0.5))},
                              {"send_lag_p99_us", us(res.send_lag.quantile(0.99))}};
    }
    summary["in_flight_at_end"] = res.in_flight_at_end;
  }
  j["summary"] = summary;

  if (!instruction_mode(r)) {
    json t = json::array(), rate = json::array(), errs = json::array(), p50 = json::array(),
         p99 = json::array(), mx = json::array();
    for (const IntervalPoint& p : res.timeline) {
      t.push_back(p.t);
      rate.push_back(static_cast<double>(p.calls) / s.interval_s);
      errs.push_back(p.errors);
      p50.push_back(us(p.latency.quantile(0.5)));
      p99.push_back(us(p.latency.quantile(0.99)));
      mx.push_back(us(p.latency.max()));
    }
    j["timeline"] = {{"interval_s", s.interval_s},
                     {"t", t},
                     {"calls_per_sec", rate},
                     {"errors", errs},
                     {"p50_us", p50},
                     {"p99_us", p99},
                     {"max_us", mx}};
    json buckets = json::array();
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      if (res.latency.bucket(i) != 0) {
        buckets.push_back({LatencyHistogram::upper(i) - 1, res.latency.bucket(i)});
      }
    }
    j["histogram"] = {
        {"unit", "ns"}, {"precision", 1.0 / LatencyHistogram::kSub}, {"buckets", buckets}};
  }
  j["warnings"] = r.warnings;
  return j;
}

void print_table(std::FILE* out, const RunReport& r) {
  const LoadSpec& s = r.spec;
  const LoadResult& res = r.result;
  std::fprintf(out, "%s%s%s, program %u (0x%x) version %u procedure %u, %zu argument bytes\n",
               r.label.empty() ? "" : r.label.c_str(), r.label.empty() ? "" : ": ",
               r.target.c_str(), s.program, s.program, s.version, s.procedure, s.args.size());
  if (s.rate > 0) {
    std::fprintf(out, "open loop at %.0f calls/s over %u connection(s), %u thread(s)\n", s.rate,
                 s.connections, s.threads);
  } else {
    std::fprintf(out, "closed loop: %u connection(s) x %u in flight, %u thread(s)\n", s.connections,
                 s.depth, s.threads);
  }
  std::fprintf(out, "client event loop: %s\n\n", res.client_backend.c_str());
  if (instruction_mode(r)) {
    std::fprintf(out, "%-5s %10s %12s\n", "rep", "calls", "instr/call");
    std::vector<double> v;
    for (size_t i = 0; i < res.reps.size(); ++i) {
      std::fprintf(out, "%-5zu %10llu %12.1f\n", i + 1,
                   static_cast<unsigned long long>(res.reps[i].calls),
                   res.reps[i].instructions_per_call);
      v.push_back(res.reps[i].instructions_per_call);
    }
    std::fprintf(out, "\nserver instructions per call (%s): median %.1f, min %.1f, max %.1f\n",
                 r.counter.c_str(), median(v), min_of(v), max_of(v));
  } else {
    std::fprintf(out, "%-5s %10s %12s %9s %9s %9s %9s %9s %9s %8s %10s %10s\n", "rep", "calls",
                 "calls/s", "MB/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "errors",
                 "cli us/c", "srv us/c");
    for (size_t i = 0; i < res.reps.size(); ++i) {
      const RepResult& rep = res.reps[i];
      const double n = static_cast<double>(std::max<uint64_t>(rep.calls, 1));
      std::fprintf(
          out, "%-5zu %10llu %12s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8llu %10.2f %10s\n", i + 1,
          static_cast<unsigned long long>(rep.calls), rate_text(rep.calls_per_sec()).c_str(),
          rep.seconds > 0 ? static_cast<double>(rep.bytes) / rep.seconds / 1e6 : 0,
          us(rep.latency.quantile(0.5)), us(rep.latency.quantile(0.9)),
          us(rep.latency.quantile(0.99)), us(rep.latency.quantile(0.999)), us(rep.latency.max()),
          static_cast<unsigned long long>(rep.errors), rep.client_cpu_s * 1e6 / n,
          rep.server_cpu_s >= 0 ? fmt("%.2f", rep.server_cpu_s * 1e6 / n).c_str() : "-");
    }
    std::vector<double> rates;
    for (const RepResult& rep : res.reps) rates.push_back(rep.calls_per_sec());
    std::fprintf(out,
                 "\nthroughput: median %s calls/s (min %s, max %s over %zu repetitions)\n"
                 "latency, all repetitions: p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
                 "max %.1f us\n",
                 rate_text(median(rates)).c_str(), rate_text(min_of(rates)).c_str(),
                 rate_text(max_of(rates)).c_str(), rates.size(), us(res.latency.quantile(0.5)),
                 us(res.latency.quantile(0.9)), us(res.latency.quantile(0.99)),
                 us(res.latency.quantile(0.999)), us(res.latency.max()));
    std::vector<double> busy, steal;
    for (const RepResult& rep : res.reps) {
      if (rep.host_busy >= 0) busy.push_back(rep.host_busy * 100);
      if (rep.host_steal >= 0) steal.push_back(rep.host_steal * 100);
    }
    if (!busy.empty() && !steal.empty()) {
      std::fprintf(out,
                   "host CPU (all %ld CPUs, medians): busy %.0f%%, stolen by the hypervisor "
                   "%.0f%% (max %.0f%%)\n",
                   sysconf(_SC_NPROCESSORS_ONLN), median(busy), median(steal), max_of(steal));
    }
    const ErrorCounts all = errors_by_kind(res);
    for (size_t k = 0; k < kErrcCount; ++k) {
      if (all[k] != 0) {
        std::fprintf(out, "errors: %llu x %s\n", static_cast<unsigned long long>(all[k]),
                     RpcError::of(static_cast<Errc>(k)).to_string().c_str());
      }
    }
  }
  for (const std::string& w : r.warnings) std::fprintf(out, "note: %s\n", w.c_str());
}

// --- drawing ---------------------------------------------------------------------------------

namespace {

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;
};

// "Nice" tick values for [lo, hi].
std::vector<double> ticks(double lo, double hi, int want) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / want;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (mag * m >= raw) {
      step = mag * m;
      break;
    }
  }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6) return fmt("%gM", v / 1e6);
  if (a >= 1e3) return fmt("%gk", v / 1e3);
  return fmt("%g", v);
}

// One chart at (x0, y0), w x h, into `svg`. `x_nines`: the x values are quantiles drawn on a
// log scale of 1/(1-q) (as HdrHistogram plots them); `log_y`: a log scale for y.
void chart(std::ostringstream& svg, double x0, double y0, double w, double h,
           const std::string& title, const std::string& xlabel, const std::string& ylabel,
           const std::vector<Series>& series, bool x_nines, bool log_y) {
  const double L = 70, R = 20, T = 30, B = 45;
  const double pw = w - L - R, ph = h - T - B;
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  auto tx = [&](double x) { return x_nines ? -std::log10(std::max(1e-7, 1 - x)) : x; };
  auto ty = [&](double y) { return log_y ? std::log10(std::max(y, 1e-3)) : y; };
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      xmin = std::min(xmin, tx(x));
      xmax = std::max(xmax, tx(x));
      ymin = std::min(ymin, ty(y));
      ymax = std::max(ymax, ty(y));
    }
  }
  if (xmin > xmax) xmin = 0, xmax = 1;
  if (ymin > ymax) ymin = 0, ymax = 1;
  if (!log_y) ymin = std::min(0.0, ymin);
  if (log_y) {
    ymin = std::floor(ymin);
    ymax = std::ceil(ymax);
  }
  if (ymax <= ymin) ymax = ymin + 1;
  if (xmax <= xmin) xmax = xmin + 1;
  if (!log_y) ymax *= 1.05;
  auto px = [&](double x) { return x0 + L + (x - xmin) / (xmax - xmin) * pw; };
  auto py = [&](double y) { return y0 + T + ph - (y - ymin) / (ymax - ymin) * ph; };

  svg << "<g font-family=\"sans-serif\" font-size=\"11\">\n";
  svg << "<text x=\"" << x0 + L << "\" y=\"" << y0 + 18
      << "\" font-size=\"14\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  svg << "<rect x=\"" << x0 + L << "\" y=\"" << y0 + T << "\" width=\"" << pw << "\" height=\""
      << ph << "\" fill=\"#fafafa\" stroke=\"#999\"/>\n";
  // y ticks
  std::vector<double> yt;
  if (log_y) {
    for (double e = ymin; e <= ymax + 1e-9; e += 1) yt.push_back(e);
  } else {
    yt = ticks(ymin, ymax, 5);
  }
  for (double v : yt) {
    const double y = py(v);
    svg << "<line x1=\"" << x0 + L << "\" x2=\"" << x0 + L + pw << "\" y1=\"" << y << "\" y2=\""
        << y << "\" stroke=\"#ddd\"/>";
    svg << "<text x=\"" << x0 + L - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
        << tick_label(log_y ? std::pow(10, v) : v) << "</text>\n";
  }
  // x ticks
  std::vector<std::pair<double, std::string>> xt;
  if (x_nines) {
    const char* names[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"};
    for (int k = 0; k <= 6 && k <= xmax + 1e-9; ++k) xt.emplace_back(k, names[k]);
  } else {
    for (double v : ticks(xmin, xmax, 8)) xt.emplace_back(v, tick_label(v));
  }
  for (const auto& [v, name] : xt) {
    const double x = px(v);
    svg << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << y0 + T << "\" y2=\""
        << y0 + T + ph << "\" stroke=\"#ddd\"/>";
    svg << "<text x=\"" << x << "\" y=\"" << y0 + T + ph + 15 << "\" text-anchor=\"middle\">"
        << name << "</text>\n";
  }
  svg << "<text x=\"" << x0 + L + pw / 2 << "\" y=\"" << y0 + h - 8 << "\" text-anchor=\"middle\">"
      << xml_escape(xlabel) << "</text>\n";
  svg << "<text transform=\"translate(" << x0 + 16 << "," << y0 + T + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(ylabel) << "</text>\n";
  double lx = x0 + L + pw - 10;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    svg << "<text x=\"" << lx << "\" y=\"" << y0 + 18 << "\" text-anchor=\"end\" fill=\""
        << it->color << "\">" << xml_escape(it->name) << "</text>\n";
    lx -= 12 + 7 * static_cast<double>(it->name.size());
  }
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.8\" points=\"";
    for (const auto& [x, y] : s.points) svg << px(tx(x)) << ',' << py(ty(y)) << ' ';
    svg << "\"/>\n";
  }
  svg << "</g>\n";
}

std::string charts_body(const RunReport& r, double width, double& height) {
  const LoadResult& res = r.result;
  std::ostringstream svg;
  svg.setf(std::ios::fixed);
  svg.precision(1);
  const double h = 300;
  double y = 0;
  // Latency by percentile.
  {
    Series s{"latency", "#1f77b4", {}};
    const LatencyHistogram& hist = res.latency;
    if (hist.count() > 0) {
      for (double nines = 0; nines <= 6.0; nines += 0.05) {
        const double q = 1 - std::pow(10, -nines);
        s.points.emplace_back(q, us(hist.quantile(q)));
        if (q * static_cast<double>(hist.count()) >= static_cast<double>(hist.count()) - 1) break;
      }
      s.points.emplace_back(1 - 1.0 / static_cast<double>(hist.count()), us(hist.max()));
    }
    const bool log_y =
        hist.count() > 0 && hist.max() > 20 * std::max<uint64_t>(hist.quantile(0.0), 1);
    chart(svg, 0, y, width, h, "Latency by percentile (all repetitions)", "percentile",
          "latency (us)", {s}, true, log_y);
    y += h;
  }
  // Throughput and latency over time.
  {
    Series rate{"calls/s", "#2ca02c", {}};
    Series errs{"errors/s", "#d62728", {}};
    Series p50{"p50", "#1f77b4", {}};
    Series p99{"p99", "#ff7f0e", {}};
    bool any_errors = false;
    for (const IntervalPoint& p : res.timeline) {
      const double mid = p.t + r.spec.interval_s / 2;
      rate.points.emplace_back(mid, static_cast<double>(p.calls) / r.spec.interval_s);
      errs.points.emplace_back(mid, static_cast<double>(p.errors) / r.spec.interval_s);
      any_errors |= p.errors > 0;
      if (p.latency.count() > 0) {
        p50.points.emplace_back(mid, us(p.latency.quantile(0.5)));
        p99.points.emplace_back(mid, us(p.latency.quantile(0.99)));
      }
    }
    std::vector<Series> t{rate};
    if (any_errors) t.push_back(errs);
    chart(svg, 0, y, width, h, "Throughput over time", "seconds since the measurement began",
          "calls/s", t, false, false);
    y += h;
    chart(svg, 0, y, width, h, "Latency over time", "seconds since the measurement began",
          "latency (us)", {p50, p99}, false, false);
    y += h;
  }
  height = y;
  return svg.str();
}

}  // namespace

std::string svg_charts(const RunReport& r) {
  double height = 0;
  const double width = 900;
  const std::string body = charts_body(r, width, height);
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << ' ' << height << "\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << body << "</svg>\n";
  return o.str();
}

std::string html_report(const RunReport& r) {
  std::ostringstream o;
  std::string table;
  {
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    print_table(mem, r);
    std::fclose(mem);
    table.assign(buf, len);
    std::free(buf);
  }
  o << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ringrpc-bench "
    << xml_escape(r.label.empty() ? r.target : r.label) << "</title>\n"
    << "<style>body{font-family:sans-serif;margin:2em;max-width:960px}"
       "pre{background:#f4f4f4;padding:1em;overflow-x:auto}</style></head><body>\n"
    << "<h1>ringrpc-bench: " << xml_escape(r.label.empty() ? r.target : r.label) << "</h1>\n"
    << "<pre>" << xml_escape(table) << "</pre>\n"
    << svg_charts(r) << "\n<h2>Environment</h2>\n<pre>"
    << xml_escape(environment_json(r.result.client_backend).dump(2)) << "</pre>\n</body></html>\n";
  return o.str();
}

bool write_file(const std::string& path, const std::string& text, std::string* error) {
  std::ofstream f(path, std::ios::trunc);
  if (!f) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  f << text;
  f.close();
  if (!f) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace ringrpc::bench
