// ringrpc-pingpong: the baselines the shared-memory transport is measured against, between two
// processes (a forked echo child), as the engine's own figures are: a message and its echo,
// timed one round trip at a time, reported as percentiles in the units ringrpc-bench uses.
//
//   ring_spin   both sides spin on a raw shared-memory ring (shm_ring.h), no event loop, no RPC
//   ring_wake   the same ring, each side sleeping on its eventfd when empty (no spinning)
//   eventfd     two eventfds and no data: a wake-up each way, the floor of any sleeping wait
//   tcp         the message over loopback TCP, blocking reads
//
// bench/transport/shm_engine_bench.sh runs these beside ringrpc-bench over shared memory and
// TCP, round by round (bench/README.md "Shared-memory rings").
//
// Threading: single-threaded in each process.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/transport/baseline_io.h"
#include "transport/shm_ring.h"

namespace {

using ringrpc::bench::cpu_relax;
using ringrpc::bench::full_io;

using Clock = std::chrono::steady_clock;
using namespace ringrpc::transport::shm;

// The two ends: what one side reads from and writes to, whichever kind.
struct End {
  Producer out;
  Consumer in;
  int wake = -1;       // this side sleeps on it (ring_wake), or is woken by it (eventfd)
  int peer_wake = -1;  // the other side's
  int sock = -1;       // tcp
};

bool ring_read(End& e, uint8_t* p, size_t n, Clock::time_point give_up) {
  size_t got = 0;
  unsigned spins = 0;
  while (got < n) {
    const size_t r = e.in.read(std::span<uint8_t>(p + got, n - got));
    got += r;
    if (r != 0) continue;
    if (e.wake < 0) {
      cpu_relax();
      // The other side may be gone: look at the clock now and then, not on every spin.
      if (++spins % 4096 == 0 && Clock::now() > give_up) return false;
    } else if (!e.in.prepare_sleep()) {
      uint64_t v;
      if (::read(e.wake, &v, sizeof v) < 0) return false;
    }
  }
  return true;
}

void ring_write(End& e, const uint8_t* p, size_t n) {
  size_t off = 0;
  while (off < n) {
    const size_t w = e.out.write(std::span<const uint8_t>(p + off, n - off));
    off += w;
    if (w == 0) cpu_relax();
  }
  if (e.peer_wake >= 0 && e.out.consumer_needs_wake()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t k = ::write(e.peer_wake, &one, sizeof one);
  }
}

// One exchange from the side that starts it (or answers it, with `echo`).
bool exchange(const std::string& kind, End& e, uint8_t* m, size_t n, bool echo,
              Clock::time_point give_up) {
  if (kind == "eventfd") {
    const uint64_t one = 1;
    uint64_t v;
    if (!echo && ::write(e.peer_wake, &one, sizeof one) != 8) return false;
    if (::read(e.wake, &v, sizeof v) != 8) return false;
    return !echo || ::write(e.peer_wake, &one, sizeof one) == 8;
  }
  if (kind == "tcp") {
    if (!echo && !full_io(false, e.sock, m, n)) return false;
    if (!full_io(true, e.sock, m, n)) return false;
    return !echo || full_io(false, e.sock, m, n);
  }
  if (!echo) ring_write(e, m, n);
  if (!ring_read(e, m, n, give_up)) return false;
  if (echo) ring_write(e, m, n);
  return true;
}

int usage(FILE* out, int code) {
  std::fprintf(out,
               "usage: ringrpc-pingpong --kind ring_spin|ring_wake|eventfd|tcp [options]\n\n"
               "One message and its echo between this process and a forked child, timed one\n"
               "round trip at a time. Prints: kind, round trips, round trips/s, p50/p90/p99 us.\n\n"
               "  --size BYTES     message size (default 64)\n"
               "  --duration S     measure this long (default 2; at most 5 M round trips)\n"
               "  --warmup S       exchange this long first, unmeasured (default 0.5)\n"
               "  --help           this text\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kind;
  size_t size = 64;
  double duration = 2, warmup = 0.5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage(stdout, 0);
    if (i + 1 >= argc) return usage(stderr, 2);
    const char* v = argv[++i];
    if (a == "--kind") {
      kind = v;
    } else if (a == "--size") {
      size = std::strtoul(v, nullptr, 10);
    } else if (a == "--duration") {
      duration = std::strtod(v, nullptr);
    } else if (a == "--warmup") {
      warmup = std::strtod(v, nullptr);
    } else {
      std::fprintf(stderr, "ringrpc-pingpong: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (kind != "ring_spin" && kind != "ring_wake" && kind != "eventfd" && kind != "tcp") {
    std::fprintf(stderr, "ringrpc-pingpong: --kind is ring_spin, ring_wake, eventfd or tcp\n");
    return 2;
  }
  if (size == 0 || size > (1u << 20) || duration <= 0 || duration > 60 || warmup < 0 ||
      warmup > 60) {
    std::fprintf(stderr, "ringrpc-pingpong: --size 1..1048576, --duration and --warmup 0..60\n");
    return 2;
  }

  std::string err;
  std::unique_ptr<Segment> seg = Segment::create(std::max<size_t>(64 * 1024, 2 * size), &err);
  if (!seg) {
    std::fprintf(stderr, "ringrpc-pingpong: %s\n", err.c_str());
    return 1;
  }
  // Blocking eventfds: a read is the sleep.
  const bool wakes = kind == "ring_wake" || kind == "eventfd";
  const int to_parent = wakes ? ::eventfd(0, EFD_CLOEXEC) : -1;
  const int to_child = wakes ? ::eventfd(0, EFD_CLOEXEC) : -1;
  int sv[2] = {-1, -1};
  if (kind == "tcp") {
    // A real loopback TCP connection (a socketpair would be a Unix socket).
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    sv[0] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
        ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        ::connect(sv[0], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        (sv[1] = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC)) < 0) {
      std::fprintf(stderr, "ringrpc-pingpong: loopback TCP: %s\n", std::strerror(errno));
      return 1;
    }
    ::close(l);
    const int one = 1;
    for (int fd : sv) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  const auto total = std::chrono::duration<double>(warmup + duration);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("ringrpc-pingpong: fork");
    return 1;
  }
  if (child == 0) {
    // The echo side: ends with the parent, or when the parent stops sending.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    End e{seg->producer(Direction::kToClient), seg->consumer(Direction::kToServer), to_child,
          to_parent, sv[1]};
    std::vector<uint8_t> m(size);
    const auto give_up =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(total) + std::chrono::seconds(5);
    while (exchange(kind, e, m.data(), size, true, give_up)) {
    }
    ::_exit(0);
  }
  End e{seg->producer(Direction::kToServer), seg->consumer(Direction::kToClient), to_parent,
        to_child, sv[0]};
  std::vector<uint8_t> m(size, 0x5a);
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const auto end = start + std::chrono::duration_cast<Clock::duration>(total);
  const auto give_up = end + std::chrono::seconds(5);
  std::vector<uint32_t> ns;
  ns.reserve(1u << 20);
  bool ok = true;
  Clock::time_point measured_start{};
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 >= end || ns.size() >= 5000000) break;
    if (!exchange(kind, e, m.data(), size, false, give_up)) {
      ok = false;
      break;
    }
    if (t0 >= measure_from) {
      if (ns.empty()) measured_start = t0;
      const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0);
      ns.push_back(static_cast<uint32_t>(std::min<int64_t>(d.count(), UINT32_MAX)));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - measured_start).count();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  if (!ok || ns.empty()) {
    std::fprintf(stderr, "ringrpc-pingpong: the echo child stopped answering\n");
    return 1;
  }
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    return ns[std::min(ns.size() - 1, static_cast<size_t>(p * static_cast<double>(ns.size())))] /
           1000.0;
  };
  std::printf("%s round_trips=%zu per_sec=%.0f p50_us=%.3f p90_us=%.3f p99_us=%.3f\n", kind.c_str(),
              ns.size(), static_cast<double>(ns.size()) / seconds, pct(0.5), pct(0.9), pct(0.99));
  return 0;
}
