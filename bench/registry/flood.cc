// ringrpc-registry-flood: hostile traffic at a registry (ringrpc-bind or rpcbind) on this host,
// with the registry's cost measured from outside: CPU time and resident memory of its process
// (from /proc), and whether a well-behaved client still gets answers (GETADDR round trips,
// timed, during the flood). Bounded: it stops after --seconds, and it only sends to loopback.
//
// What it sends over UDP, in turn: random bytes; GETADDR whose netid claims 2 GiB (the
// "rpcbomb"); an oversized CALLIT (60 000 bytes of arguments); truncated SETs; and DUMP
// requests of portmap and rpcbind (whose replies are what an amplification attack buys: the
// reply/request byte ratio is reported). Over TCP it holds --tcp connections that each announce
// a 2 GiB record and send a little of it.
//
// usage: ringrpc-registry-flood --pid PID [--port 111] [--seconds 5] [--rate 50000] [--tcp 200]
//                               [--json]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct ProcSample {
  double cpu_seconds = 0;
  long rss_kib = 0;
};

ProcSample sample(int pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close != std::string::npos) {
    // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
    std::vector<std::string> f;
    size_t at = close + 2;
    while (at < text.size()) {
      const size_t sp = text.find(' ', at);
      f.push_back(text.substr(at, sp - at));
      if (sp == std::string::npos) break;
      at = sp + 1;
    }
    if (f.size() > 13) {
      const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
      s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::atol(line.c_str() + 6);
  }
  return s;
}

void put(std::vector<uint8_t>& m, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) m.push_back(static_cast<uint8_t>(v >> s));
}

std::vector<uint8_t> call(uint32_t xid, uint32_t vers, uint32_t proc) {
  std::vector<uint8_t> m;
  for (uint32_t v : {xid, 0u, 2u, 100000u, vers, proc, 0u, 0u, 0u, 0u}) put(m, v);
  return m;
}

void put_string(std::vector<uint8_t>& m, const std::string& s) {
  put(m, static_cast<uint32_t>(s.size()));
  m.insert(m.end(), s.begin(), s.end());
  while (m.size() % 4) m.push_back(0);
}

}  // namespace

int main(int argc, char** argv) {
  int pid = 0;
  uint16_t port = 111;
  double seconds = 5;
  int tcp_conns = 200;
  double rate = 50000;  // datagrams per second
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ringrpc-registry-flood: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--pid") {
      pid = std::atoi(next());
    } else if (a == "--port") {
      port = static_cast<uint16_t>(std::atoi(next()));
    } else if (a == "--seconds") {
      seconds = std::min(60.0, std::atof(next()));
    } else if (a == "--rate") {
      rate = std::max(1.0, std::atof(next()));
    } else if (a == "--tcp") {
      tcp_conns = std::min(1000, std::atoi(next()));
    } else if (a == "--json") {
      json = true;
    } else if (a == "--help") {
      std::printf(
          "usage: ringrpc-registry-flood --pid PID [--port 111] [--seconds 5 (max 60)]\n"
          "                              [--rate DATAGRAMS_PER_S (50000)] [--tcp N (max 1000)]\n"
          "                              [--json]\n"
          "Floods the registry on 127.0.0.1:PORT with malformed and oversized requests\n"
          "and reports its CPU time and memory (process PID) and how a good client fared.\n");
      return 0;
    } else {
      std::fprintf(stderr, "ringrpc-registry-flood: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (pid <= 0) {
    std::fprintf(stderr, "ringrpc-registry-flood: --pid of the registry is required\n");
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  // The hostile datagrams, built once.
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> kinds;
  std::vector<uint8_t> garbage(96);
  for (auto& b : garbage) b = static_cast<uint8_t>(rng());
  kinds.push_back(garbage);
  std::vector<uint8_t> bomb = call(1, 4, 3);  // GETADDR, netid of 2 GiB
  put(bomb, 1);
  put(bomb, 1);
  put(bomb, 0x7fffffff);
  kinds.push_back(bomb);
  std::vector<uint8_t> big = call(2, 2, 5);  // CALLIT with 60 000 bytes of arguments
  put(big, 100000);
  put(big, 2);
  put(big, 0);
  put(big, 60000);
  big.resize(big.size() + 60000);
  kinds.push_back(big);
  std::vector<uint8_t> set = call(3, 4, 1);  // SET cut short
  put(set, 7);
  put(set, 1);
  put(set, 200);
  kinds.push_back(set);
  const std::vector<uint8_t> dump2 = call(4, 2, 4);
  const std::vector<uint8_t> dump3 = call(5, 3, 4);
  kinds.push_back(dump2);
  kinds.push_back(dump3);

  const int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  const int buf = 4 << 20;
  ::setsockopt(tx, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  ::connect(tx, reinterpret_cast<sockaddr*>(&to), sizeof to);

  // TCP connections announcing a 2 GiB record.
  std::vector<int> conns;
  for (int i = 0; i < tcp_conns; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd);
      break;
    }
    const uint8_t head[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0x12, 0x34};
    (void)::send(fd, head, sizeof head, MSG_NOSIGNAL);
    conns.push_back(fd);
  }

  // A good client, timing GETADDR(100000, 2, udp) every 10 ms on its own socket.
  std::atomic<bool> stop{false};
  std::vector<double> rtts;
  int lost = 0;
  std::thread good([&] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    uint32_t xid = 0x70000000;
    while (!stop.load()) {
      std::vector<uint8_t> q = call(++xid, 4, 3);
      put(q, 100000);
      put(q, 2);
      put_string(q, "udp");
      put_string(q, "");
      put_string(q, "");
      const auto t0 = Clock::now();
      (void)::send(fd, q.data(), q.size(), 0);
      bool got = false;
      uint8_t r[512];
      while (!got) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 500) != 1) break;
        const ssize_t n = ::recv(fd, r, sizeof r, 0);
        if (n >= 4 && (static_cast<uint32_t>(r[0]) << 24 | static_cast<uint32_t>(r[1]) << 16 |
                       static_cast<uint32_t>(r[2]) << 8 | r[3]) == xid) {
          got = true;
        }
      }
      if (got) {
        rtts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      } else {
        ++lost;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::close(fd);
  });

  const ProcSample before = sample(pid);
  long rss_max = before.rss_kib;
  uint64_t sent = 0;
  uint64_t sent_bytes = 0;
  uint64_t dump_sent_bytes = 0;
  uint64_t replies = 0;
  uint64_t reply_bytes = 0;
  uint64_t dump_replies = 0;
  uint64_t dump_reply_bytes = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  auto next_sample = Clock::now();
  std::vector<uint8_t> rb(70000);
  size_t k = 0;
  const auto start_time = Clock::now();
  while (Clock::now() < end) {
    // Paced: the datagrams due by now, at most 64 at a time.
    const double due = std::chrono::duration<double>(Clock::now() - start_time).count() * rate;
    const int burst_n =
        static_cast<int>(std::min(64.0, std::max(0.0, due - static_cast<double>(sent))));
    if (burst_n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    for (int burst = 0; burst < burst_n; ++burst) {
      const std::vector<uint8_t>& m = kinds[k++ % kinds.size()];
      if (::send(tx, m.data(), m.size(), 0) > 0) {
        ++sent;
        sent_bytes += m.size();
        if (&m == &kinds[4] || &m == &kinds[5]) dump_sent_bytes += m.size();
      }
    }
    for (;;) {
      const ssize_t n = ::recv(tx, rb.data(), rb.size(), 0);
      if (n <= 0) break;
      ++replies;
      reply_bytes += static_cast<uint64_t>(n);
      const uint32_t xid = static_cast<uint32_t>(rb[3]);
      if (n >= 4 && rb[0] == 0 && rb[1] == 0 && rb[2] == 0 && (xid == 4 || xid == 5)) {
        ++dump_replies;
        dump_reply_bytes += static_cast<uint64_t>(n);
      }
    }
    if (Clock::now() >= next_sample) {
      rss_max = std::max(rss_max, sample(pid).rss_kib);
      next_sample = Clock::now() + std::chrono::milliseconds(100);
    }
  }
  const ProcSample after = sample(pid);
  rss_max = std::max(rss_max, after.rss_kib);
  stop.store(true);
  good.join();
  for (int fd : conns) ::close(fd);
  ::close(tx);

  std::sort(rtts.begin(), rtts.end());
  auto pct = [&](double p) {
    return rtts.empty() ? 0.0
                        : rtts[std::min(rtts.size() - 1, static_cast<size_t>(p * rtts.size()))];
  };
  const double cpu = after.cpu_seconds - before.cpu_seconds;
  const double per_req_us = sent ? cpu * 1e6 / static_cast<double>(sent) : 0;
  const double amp = dump_sent_bytes && dump_replies ? static_cast<double>(dump_reply_bytes) /
                                                           static_cast<double>(dump_sent_bytes)
                                                     : 0;
  if (json) {
    std::printf(
        "{\"seconds\": %.1f, \"sent\": %llu, \"sent_per_s\": %.0f, \"replies\": %llu, "
        "\"server_cpu_s\": %.3f, \"server_cpu_percent\": %.1f, \"server_cpu_us_per_request\": "
        "%.2f, "
        "\"rss_kib_before\": %ld, \"rss_kib_max\": %ld, \"rss_kib_after\": %ld, "
        "\"tcp_held\": %zu, \"dump_reply_request_ratio\": %.2f, "
        "\"good_p50_us\": %.0f, \"good_p99_us\": %.0f, \"good_lost\": %d, \"good_sent\": %zu}\n",
        seconds, static_cast<unsigned long long>(sent), sent / seconds,
        static_cast<unsigned long long>(replies), cpu, 100 * cpu / seconds, per_req_us,
        before.rss_kib, rss_max, after.rss_kib, conns.size(), amp, pct(0.5), pct(0.99), lost,
        rtts.size() + lost);
  } else {
    std::printf(
        "flood: %.1f s, %llu datagrams (%.0f/s, %.1f MB), %llu replies (%.1f MB); %zu TCP "
        "connections announcing 2 GiB records\n",
        seconds, static_cast<unsigned long long>(sent), sent / seconds, sent_bytes / 1e6,
        static_cast<unsigned long long>(replies), reply_bytes / 1e6, conns.size());
    std::printf("registry: %.2f s CPU (%.2f us per datagram), RSS %ld -> max %ld -> %ld KiB\n", cpu,
                per_req_us, before.rss_kib, rss_max, after.rss_kib);
    std::printf("DUMP over UDP: reply/request bytes %.2f\n", amp);
    std::printf("good client: GETADDR p50 %.0f us, p99 %.0f us, %d of %zu unanswered\n", pct(0.5),
                pct(0.99), lost, rtts.size() + lost);
  }
  return 0;
}
