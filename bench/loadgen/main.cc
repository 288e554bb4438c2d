// ringrpc-bench: the load generator, the side-by-side suite and the regression gate.
//
//   ringrpc-bench [run] --prog P [options]      drive one procedure of any ONC RPC server
//   ringrpc-bench suite [options]               ringrpc vs libtirpc vs a raw echo server
//   ringrpc-bench compare BASE.json NEW.json    exit 1 when NEW is slower
//
// Threading: main() owns the process; the load runs on threads of its own (load.h).
#include <netdb.h>
#include <rpc/netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bench/loadgen/compare.h"
#include "bench/loadgen/instructions.h"
#include "bench/loadgen/load.h"
#include "bench/loadgen/process.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/suite.h"

namespace {

using namespace ringrpc;
using namespace ringrpc::bench;

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "ringrpc-bench: %s (see ringrpc-bench --help)\n", what.c_str());
  std::exit(2);
}

// Walks the arguments after a subcommand; value() takes the current flag's argument, or ends
// the program with a usage error when there is none.
class ArgWalk {
 public:
  ArgWalk(int argc, char** argv, int first) : argc_(argc), argv_(argv), i_(first) {}
  bool more() {
    if (i_ >= argc_) return false;
    flag_ = argv_[i_++];
    return true;
  }
  const std::string& flag() const { return flag_; }
  std::string value() {
    if (i_ >= argc_) usage_error(flag_ + " needs a value");
    return argv_[i_++];
  }

 private:
  int argc_;
  char** argv_;
  int i_;
  std::string flag_;
};

void print_help() {
  std::printf(
      "usage: ringrpc-bench [run] --prog P [options]\n"
      "       ringrpc-bench suite [--rounds N] [--duration S] [--backend B] [--json FILE]\n"
      "       ringrpc-bench compare BASE.json NEW.json [--max-regression PCT] [--metric M,...]\n"
      "\n"
      "run: drive one procedure of an ONC RPC server and report throughput, latency\n"
      "percentiles, errors by kind and CPU per call.\n"
      "\n"
      "Target:\n"
      "  --host H            server host (default 127.0.0.1)\n"
      "  --port N            server port; without it the registry on H is asked, as\n"
      "                      clnt_create does\n"
      "  --transport T       tcp (default), udp, unix (with --unix PATH) or shm (with\n"
      "                      --shm PATH)\n"
      "  --unix PATH         a Unix stream socket\n"
      "  --shm PATH          a server's shared-memory endpoint (its Unix socket)\n"
      "  --no-shm            through the registry, use TCP even when the server is on\n"
      "                      this host and offers shared memory\n"
      "  --prog P            program: a number (0x for hex) or a name from /etc/rpc\n"
      "  --vers V            version (default 1)\n"
      "  --proc N            procedure (default 0, NULL)\n"
      "  --args-hex HEX      the arguments as raw XDR bytes, in hex\n"
      "  --args-file FILE    the arguments as raw XDR bytes, from a file\n"
      "  --payload BYTES     the arguments are one opaque<> of BYTES (ECHO-style procedures)\n"
      "  --auth none|sys     credential (default none; sys: this process's AUTH_SYS)\n"
      "  --raw               any record that returns the xid is a reply (echo servers)\n"
      "  --spawn 'CMD ...'   start this server first, take its port from its\n"
      "                      'listening tcp=PORT ...' line, stop it at the end\n"
      "  --server-pid PID    the server's process, for its CPU time (from /proc)\n"
      "\n"
      "Load:\n"
      "  --connections C     connections (default 1)\n"
      "  --depth D           closed loop: calls in flight per connection (default 1)\n"
      "  --rate R            open loop: R calls/s in all, latency from each call's due time\n"
      "  --max-inflight N    open loop: calls in flight per connection at most (default 1024)\n"
      "  --threads T         client threads, each with its own event loop (default 1)\n"
      "  --warmup S          seconds before measuring (default 1)\n"
      "  --duration S        seconds per repetition (default 3)\n"
      "  --calls N           N calls per repetition instead of a duration\n"
      "  --repetitions R     measured repetitions (default 3; compare needs 2 or more)\n"
      "  --interval S        time line resolution (default 0.1)\n"
      "  --timeout MS        per call (default 10000)\n"
      "  --backend B         client event loop: auto, io_uring or epoll\n"
      "  --idle-poll US      client loops look for events this long before sleeping\n"
      "                      (0-1000 us, yielding the CPU; default 0, off)\n"
      "  --instructions      count the server's instructions per call instead of timing\n"
      "                      (perf counters, else valgrind; needs --spawn, or --server-pid\n"
      "                      with perf); 1 connection, 1 in flight, 5000 calls by default;\n"
      "                      under valgrind give a ringrpc server --backend epoll\n"
      "\n"
      "Output:\n"
      "  --json FILE         every figure and the environment (the input of compare)\n"
      "  --html FILE         a page with the table and the charts\n"
      "  --svg FILE          the charts alone: latency by percentile, throughput and\n"
      "                      latency over time\n"
      "  --label NAME        a name for the run in reports\n"
      "  --quiet             no progress line\n"
      "  --allow-errors      exit 0 even when calls failed (else 1, and stderr says how many\n"
      "                      failed, and how)\n"
      "The table ends with the whole host's CPU over the measured windows: busy, and\n"
      "stolen by the hypervisor for other guests (steal); from 5%% of steal on, a note.\n"
      "\n"
      "suite: starts square-server, echo-server, tirpc_peer (rpcgen's server for the same .x\n"
      "files) and ringrpc-raw-echo from the build, drives each with the same load in\n"
      "interleaved rounds and prints the engine's targets beside the measured ratios.\n"
      "  --rounds N (5) --duration S (3) --backend B --bin DIR --idle-connections N (10000)\n"
      "  --json FILE, --strict (exit 1 when a target is missed)\n"
      "\n"
      "compare: tests the repetitions of NEW against BASE (Welch's t-test on logarithms) and\n"
      "exits 1 when a figure is worse by more than --max-regression PCT (default 5) with\n"
      "--confidence C percent (default 95).\n"
      "  --metric M,...      figures to gate (default: instructions_per_call when both\n"
      "                      have it, else calls_per_sec,p50_us,p99_us)\n"
      "\n"
      "Exit: 0 success, 1 failure (or a regression, or failed calls), 2 bad usage.\n");
}

uint32_t parse_u32(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 0);
  if (v.empty() || *end != '\0' || errno != 0 || n > UINT32_MAX || v[0] == '-') {
    usage_error(flag + " needs a number, not '" + v + "'");
  }
  return static_cast<uint32_t>(n);
}

double parse_double(const std::string& flag, const std::string& v, double min) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d) || d < min) {
    usage_error(flag + " needs a number of at least " + std::to_string(min) + ", not '" + v + "'");
  }
  return d;
}

uint32_t parse_program(const std::string& v) {
  if (!v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) != 0)) {
    return parse_u32("--prog", v);
  }
  rpcent* e = getrpcbyname(v.c_str());
  if (e == nullptr) usage_error("unknown program name '" + v + "' (not in /etc/rpc)");
  return static_cast<uint32_t>(e->r_number);
}

bool parse_hex(const std::string& s, std::vector<uint8_t>& out) {
  std::string h;
  for (char c : s) {
    if (c != ' ' && c != ':' && c != '\n') h += c;
  }
  if (h.rfind("0x", 0) == 0) h = h.substr(2);
  if (h.size() % 2 != 0) return false;
  for (size_t i = 0; i < h.size(); i += 2) {
    char* end = nullptr;
    const std::string byte = h.substr(i, 2);
    const long v = std::strtol(byte.c_str(), &end, 16);
    if (*end != '\0') return false;
    out.push_back(static_cast<uint8_t>(v));
  }
  return true;
}

struct RunOptions {
  LoadSpec spec;
  std::string host = "127.0.0.1";
  int port = -1;
  std::string unix_path;  // --unix or --shm
  bool shared_memory = true;
  bool transport_given = false;
  bool prog_given = false;
  std::string spawn;
  int server_pid = 0;
  bool instructions = false;
  bool shape_given = false;
  bool calls_given = false;
  std::string json_path, html_path, svg_path, label;
  bool quiet = false;
  bool allow_errors = false;
};

void progress_line(double t, uint64_t calls, uint64_t errors, bool warming) {
  static uint64_t last_calls = 0;
  static double last_t = 0;
  const double rate = t > last_t ? static_cast<double>(calls - last_calls) / (t - last_t) : 0;
  last_calls = calls;
  last_t = t;
  std::fprintf(stderr, "\r[%5.1f s] %s %12llu calls  %10.0f calls/s  %llu errors   ", t,
               warming ? "warming up" : "measuring ", static_cast<unsigned long long>(calls), rate,
               static_cast<unsigned long long>(errors));
  std::fflush(stderr);
}

// Resolves the target address: --unix, --port, the spawned server's line, or the registry.
bool resolve_target(RunOptions& o, const ServerProcess* spawned, std::string& desc) {
  LoadSpec& s = o.spec;
  if (s.transport == TransportKind::kUnix || s.transport == TransportKind::kShm) {
    const char* kind = to_string(s.transport);
    std::string path = o.unix_path;
    if (path.empty() && spawned != nullptr) path = spawned->field(kind);
    if (path.empty() || !transport::SockAddr::unix_path(path, s.address)) {
      std::fprintf(stderr, "ringrpc-bench: --transport %s needs --%s PATH\n", kind, kind);
      return false;
    }
    desc = std::string(kind) + " " + path;
    return true;
  }
  int port = o.port;
  const char* key = s.transport == TransportKind::kUdp ? "udp" : "tcp";
  if (port < 0 && spawned != nullptr) {
    const std::string f = spawned->field(key);
    if (f.empty()) {
      std::fprintf(stderr, "ringrpc-bench: %s did not say which %s port it listens on: '%s'\n",
                   spawned->name().c_str(), key, spawned->listening_line().c_str());
      return false;
    }
    port = std::stoi(f);
  }
  if (port < 0) {
    // Bind through the registry, as clnt_create does.
    ChannelOptions base;
    base.shared_memory = o.shared_memory;
    Result<std::shared_ptr<Channel>> ch = connect(
        o.host, s.program, s.version, s.transport == TransportKind::kUdp ? "udp" : "tcp", base);
    if (!ch.ok()) {
      std::fprintf(stderr, "ringrpc-bench: cannot find program %u version %u on %s: %s\n",
                   s.program, s.version, o.host.c_str(), ch.error().to_string().c_str());
      return false;
    }
    s.address = ch.value()->options().address;
    s.transport = ch.value()->options().transport;  // shared memory, for a server on this host
    ch.value()->close();
    desc = std::string(to_string(s.transport)) + " " + s.address.to_string();
    return true;
  } else {
    std::string why;
    if (!transport::SockAddr::resolve(o.host, static_cast<uint16_t>(port), false, s.address,
                                      &why)) {
      std::fprintf(stderr, "ringrpc-bench: %s\n", why.c_str());
      return false;
    }
  }
  desc = std::string(key) + " " + s.address.to_string();
  return true;
}

int finish_report(RunReport& report, const RunOptions& o) {
  analyse(report);
  print_table(stdout, report);
  std::string err;
  if (!o.json_path.empty() && !write_file(o.json_path, to_json(report).dump(2) + "\n", &err)) {
    std::fprintf(stderr, "ringrpc-bench: %s\n", err.c_str());
    return 1;
  }
  if (!o.html_path.empty() && !write_file(o.html_path, html_report(report), &err)) {
    std::fprintf(stderr, "ringrpc-bench: %s\n", err.c_str());
    return 1;
  }
  if (!o.svg_path.empty() && !write_file(o.svg_path, svg_charts(report), &err)) {
    std::fprintf(stderr, "ringrpc-bench: %s\n", err.c_str());
    return 1;
  }
  uint64_t errors = 0, calls = 0;
  for (const RepResult& r : report.result.reps) {
    errors += r.errors;
    calls += r.calls;
  }
  if (errors == 0 || o.allow_errors) return 0;
  // The table may have gone nowhere (a script sends stdout to /dev/null and tests the status):
  // the reason for the status goes where errors go.
  std::fprintf(stderr, "ringrpc-bench: %llu of %llu calls failed (%s); --allow-errors exits 0\n",
               static_cast<unsigned long long>(errors), static_cast<unsigned long long>(calls),
               describe_errors(report.result).c_str());
  return 1;
}

// Instructions per call under valgrind: per repetition, the server runs twice, for N and 2N
// calls; the difference over N is what N calls cost, without start-up and shutdown.
int run_valgrind_count(RunOptions& o, RunReport& report) {
  const std::vector<std::string> cmd = split_command(o.spawn);
  const uint64_t n = o.spec.calls;
  report.counter = "valgrind";
  for (unsigned rep = 0; rep < o.spec.repetitions; ++rep) {
    double totals[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      char tmpl[] = "/tmp/ringrpc-bench-vg.XXXXXX";
      const int fd = mkstemp(tmpl);
      if (fd < 0) {
        std::fprintf(stderr, "ringrpc-bench: mkstemp: %s\n", std::strerror(errno));
        return 1;
      }
      close(fd);
      const std::string log = tmpl;
      std::string why;
      std::vector<std::string> argv = valgrind_prefix(log, &why);
      if (argv.empty()) {
        std::fprintf(stderr, "ringrpc-bench: cannot count instructions: %s\n", why.c_str());
        return 1;
      }
      argv.insert(argv.end(), cmd.begin(), cmd.end());
      ServerProcess server;
      if (!server.start(argv, std::chrono::seconds(60), &why)) {
        std::fprintf(stderr, "ringrpc-bench: %s\n", why.c_str());
        unlink(log.c_str());
        return 1;
      }
      std::string desc;
      if (!resolve_target(o, &server, desc)) return 1;
      report.target = desc;
      LoadSpec spec = o.spec;
      spec.calls = n * static_cast<uint64_t>(k + 1);
      spec.repetitions = 1;
      spec.warmup_s = 0;
      LoadResult r = run_load(spec);
      const int status = server.stop(std::chrono::seconds(30));
      totals[k] = cachegrind_total(log);
      unlink(log.c_str());
      if (!r.fatal.empty() || r.reps[0].errors > 0) {
        std::fprintf(stderr, "ringrpc-bench: the counted run failed: %s\n",
                     r.fatal.empty() ? "calls failed" : r.fatal.c_str());
        return 1;
      }
      if (totals[k] < 0) {
        std::fprintf(stderr,
                     "ringrpc-bench: valgrind wrote no instruction total (the server exited "
                     "with %d: it must exit on SIGTERM)\n",
                     status);
        return 1;
      }
      report.result.client_backend = r.client_backend;
      if (k == 0) {
        RepResult rr;
        rr.calls = n;
        report.result.reps.push_back(rr);
      }
    }
    report.result.reps.back().instructions_per_call =
        (totals[1] - totals[0]) / static_cast<double>(n);
    if (!o.quiet) {
      std::fprintf(stderr, "repetition %u: %.1f instructions per call\n", rep + 1,
                   report.result.reps.back().instructions_per_call);
    }
  }
  return 0;
}

int run_command(int argc, char** argv, int first) {
  RunOptions o;
  o.spec.duration_s = 3;
  o.spec.repetitions = 3;
  for (ArgWalk args(argc, argv, first); args.more();) {
    const std::string a = args.flag();
    auto next = [&args] { return args.value(); };
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    } else if (a == "--host") {
      o.host = next();
    } else if (a == "--port") {
      o.port = static_cast<int>(parse_u32(a, next()));
      if (o.port > 65535) usage_error("--port is at most 65535");
    } else if (a == "--unix") {
      o.unix_path = next();
      if (!o.transport_given) o.spec.transport = TransportKind::kUnix;
    } else if (a == "--shm") {
      o.unix_path = next();
      if (!o.transport_given) o.spec.transport = TransportKind::kShm;
    } else if (a == "--no-shm") {
      o.shared_memory = false;
    } else if (a == "--transport") {
      const std::string t = next();
      o.transport_given = true;
      if (t == "tcp") {
        o.spec.transport = TransportKind::kTcp;
      } else if (t == "udp") {
        o.spec.transport = TransportKind::kUdp;
      } else if (t == "unix") {
        o.spec.transport = TransportKind::kUnix;
      } else if (t == "shm") {
        o.spec.transport = TransportKind::kShm;
      } else {
        usage_error("--transport is tcp, udp, unix or shm");
      }
    } else if (a == "--prog") {
      o.spec.program = parse_program(next());
      o.prog_given = true;
    } else if (a == "--vers") {
      o.spec.version = parse_u32(a, next());
    } else if (a == "--proc") {
      o.spec.procedure = parse_u32(a, next());
    } else if (a == "--args-hex") {
      o.spec.args.clear();
      if (!parse_hex(next(), o.spec.args))
        usage_error("--args-hex needs an even number of hex digits");
    } else if (a == "--args-file") {
      const std::string path = next();
      std::ifstream f(path, std::ios::binary);
      if (!f) {
        std::fprintf(stderr, "ringrpc-bench: cannot read %s: %s\n", path.c_str(),
                     std::strerror(errno));
        return 1;
      }
      o.spec.args.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    } else if (a == "--payload") {
      const uint32_t n = parse_u32(a, next());
      if (n > (256u << 20)) usage_error("--payload is at most 256 MiB");
      o.spec.args = opaque_argument(n);
    } else if (a == "--auth") {
      const std::string v = next();
      if (v == "none") {
        o.spec.credentials = Credentials::none();
      } else if (v == "sys") {
        o.spec.credentials = Credentials::sys_default();
      } else {
        usage_error("--auth is none or sys");
      }
    } else if (a == "--raw") {
      o.spec.raw_replies = true;
    } else if (a == "--spawn") {
      o.spawn = next();
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<int>(parse_u32(a, next()));
    } else if (a == "--connections") {
      o.spec.connections = std::max(1u, parse_u32(a, next()));
      o.shape_given = true;
    } else if (a == "--depth") {
      o.spec.depth = std::max(1u, parse_u32(a, next()));
      o.shape_given = true;
    } else if (a == "--rate") {
      o.spec.rate = parse_double(a, next(), 0);
    } else if (a == "--max-inflight") {
      o.spec.max_inflight = std::max(1u, parse_u32(a, next()));
    } else if (a == "--threads") {
      o.spec.threads = std::max(1u, parse_u32(a, next()));
    } else if (a == "--warmup") {
      o.spec.warmup_s = parse_double(a, next(), 0);
    } else if (a == "--duration") {
      o.spec.duration_s = parse_double(a, next(), 0.01);
    } else if (a == "--calls") {
      o.spec.calls = std::max(1u, parse_u32(a, next()));
      o.calls_given = true;
    } else if (a == "--repetitions") {
      o.spec.repetitions = std::max(1u, parse_u32(a, next()));
    } else if (a == "--interval") {
      o.spec.interval_s = parse_double(a, next(), 0.001);
    } else if (a == "--timeout") {
      o.spec.timeout = std::chrono::milliseconds(std::max(1u, parse_u32(a, next())));
    } else if (a == "--backend") {
      if (!transport::parse_backend(next(), o.spec.backend)) {
        usage_error("--backend is auto, io_uring or epoll");
      }
    } else if (a == "--idle-poll") {
      const uint32_t us = parse_u32(a, next());
      if (us > 1000) usage_error("--idle-poll is 0-1000 (microseconds)");
      o.spec.idle_poll = std::chrono::microseconds(us);
    } else if (a == "--instructions") {
      o.instructions = true;
    } else if (a == "--json") {
      o.json_path = next();
    } else if (a == "--html") {
      o.html_path = next();
    } else if (a == "--svg") {
      o.svg_path = next();
    } else if (a == "--label") {
      o.label = next();
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--allow-errors") {
      o.allow_errors = true;
    } else {
      usage_error("unknown argument '" + a + "'");
    }
  }
  if (!o.prog_given) usage_error("--prog is needed");
  if (o.spec.transport == TransportKind::kUdp && o.spec.args.size() > 65000) {
    usage_error("the arguments do not fit in a UDP datagram");
  }
  RunReport report;
  report.label = o.label;
  report.host = o.host;
  report.mode = o.instructions ? "instructions" : (o.spec.rate > 0 ? "open" : "closed");

  if (o.instructions) {
    if (!o.calls_given) o.spec.calls = 5000;
    if (!o.shape_given) o.spec.connections = o.spec.depth = 1;
    if (o.spec.rate > 0) usage_error("--instructions counts a closed loop; leave out --rate");
    std::string why;
    const bool perf = perf_counters_available(&why);
    if (!perf && o.spawn.empty()) {
      std::fprintf(stderr,
                   "ringrpc-bench: no perf counters here (%s): counting with valgrind needs "
                   "--spawn 'SERVER COMMAND'\n",
                   why.c_str());
      return 1;
    }
    if (!perf) {
      report.spec = o.spec;
      const int rc = run_valgrind_count(o, report);
      if (rc != 0) return rc;
      return finish_report(report, o);
    }
    report.counter = "perf";
  }

  ServerProcess spawned;
  if (!o.spawn.empty()) {
    std::string why;
    if (!spawned.start(split_command(o.spawn), std::chrono::seconds(10), &why)) {
      std::fprintf(stderr, "ringrpc-bench: %s\n", why.c_str());
      return 1;
    }
    if (o.server_pid == 0) o.server_pid = spawned.pid();
  }
  std::string desc;
  if (!resolve_target(o, o.spawn.empty() ? nullptr : &spawned, desc)) return 1;
  report.target = desc;
  report.server_pid = o.server_pid;
  report.spec = o.spec;

  LoadHooks hooks;
  hooks.server_pid = o.server_pid;
  if (!o.quiet && isatty(2)) hooks.progress = progress_line;
  std::unique_ptr<PerfInstructionCounter> counter;
  uint64_t count_at = 0;
  if (o.instructions) {
    std::string why;
    if (o.server_pid <= 0) {
      std::fprintf(stderr, "ringrpc-bench: --instructions needs --spawn or --server-pid\n");
      return 1;
    }
    counter = PerfInstructionCounter::open(o.server_pid, &why);
    if (!counter) {
      std::fprintf(stderr, "ringrpc-bench: cannot count the server's instructions: %s\n",
                   why.c_str());
      return 1;
    }
    hooks.before_rep = [&](unsigned) { count_at = counter->read(); };
    hooks.after_rep = [&](unsigned) { return static_cast<double>(counter->read() - count_at); };
  }
  report.result = run_load(o.spec, hooks);
  if (hooks.progress) std::fprintf(stderr, "\n");
  if (!o.spawn.empty()) spawned.stop();
  if (!report.result.fatal.empty()) {
    std::fprintf(stderr, "ringrpc-bench: %s: %s\n", desc.c_str(), report.result.fatal.c_str());
    return 1;
  }
  return finish_report(report, o);
}

int suite_command(int argc, char** argv, int first) {
  SuiteOptions o;
  for (ArgWalk args(argc, argv, first); args.more();) {
    const std::string a = args.flag();
    auto next = [&args] { return args.value(); };
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    } else if (a == "--rounds") {
      o.rounds = std::max(1u, parse_u32(a, next()));
    } else if (a == "--duration") {
      o.seconds = parse_double(a, next(), 0.1);
    } else if (a == "--backend") {
      if (!transport::parse_backend(next(), o.backend))
        usage_error("--backend is auto, io_uring or epoll");
    } else if (a == "--bin") {
      o.bin_dir = next();
    } else if (a == "--idle-connections") {
      o.idle_connections = parse_u32(a, next());
    } else if (a == "--json") {
      o.json_path = next();
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--strict") {
      o.strict = true;
    } else {
      usage_error("unknown argument '" + a + "' for suite");
    }
  }
  return run_suite(o);
}

int compare_command(int argc, char** argv, int first) {
  CompareOptions o;
  std::vector<std::string> files;
  for (ArgWalk args(argc, argv, first); args.more();) {
    const std::string a = args.flag();
    auto next = [&args] { return args.value(); };
    if (a == "--help" || a == "-h") {
      print_help();
      return 0;
    } else if (a == "--max-regression") {
      o.max_regression = parse_double(a, next(), 0) / 100;
    } else if (a == "--confidence") {
      const double c = parse_double(a, next(), 50);
      if (c >= 100) usage_error("--confidence is a percentage below 100");
      o.confidence = c / 100;
    } else if (a == "--metric") {
      std::string list = next();
      size_t at = 0;
      while (at <= list.size()) {
        const size_t comma = list.find(',', at);
        const std::string m =
            list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        if (!m.empty()) o.metrics.push_back(m);
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown argument '" + a + "' for compare");
    } else {
      files.push_back(a);
    }
  }
  if (files.size() != 2) usage_error("compare needs BASE.json and NEW.json");
  return compare_files(files[0], files[1], o, stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    const std::string cmd = argv[1];
    if (cmd == "run") return run_command(argc, argv, 2);
    if (cmd == "suite") return suite_command(argc, argv, 2);
    if (cmd == "compare") return compare_command(argc, argv, 2);
    if (cmd == "help") {
      print_help();
      return 0;
    }
  }
  return run_command(argc, argv, 1);
}
