// ringrpc-bind: the registry daemon (portmap v2 and rpcbind v3/v4 on port 111 and
// /run/rpcbind.sock), a drop-in for rpcbind. The work is engine/registry/registry_server.h;
// this is its command line.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/registry/registry_server.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: ringrpc-bind [options]\n"
               "\n"
               "The ONC RPC registry (program 100000: portmap version 2, rpcbind versions 3 and\n"
               "4) over TCP and UDP on IPv4 and IPv6 and over a Unix socket; a replacement for\n"
               "rpcbind. Runs in the foreground; stops on SIGINT or SIGTERM.\n"
               "\n"
               "options:\n"
               "  --port N            TCP and UDP port (default 111)\n"
               "  --unix PATH         Unix socket (default %s)\n"
               "  --no-unix           no Unix socket\n"
               "  --no-ipv6           IPv4 only\n"
               "  --state FILE        where registrations are kept across restarts\n"
               "                      (default %s)\n"
               "  --no-state          keep registrations in memory only\n"
               "  -i, --insecure      accept SET and UNSET from other hosts (rpcbind -i)\n"
               "  -r, --remote-calls  forward CALLIT, BCAST and INDIRECT (Debian's rpcbind -r)\n"
               "  --rate-limit N      calls per second per source address over TCP/UDP, bursts\n"
               "                      of 2N; over it, calls are dropped (default 200; 0: none)\n"
               "  --rate-limit-loopback  limit loopback sources too (exempt by default: a forged\n"
               "                      source, as in amplification attacks, is never loopback)\n"
               "  --udp-dump-limit N  DUMP replies over UDP larger than N bytes are refused with\n"
               "                      SYSTEM_ERR, against amplification (default 1400)\n"
               "  --sweep-interval MS how often registrations of exited servers are removed\n"
               "                      (default 2000; 0: only when looked up, as rpcbind)\n"
               "  --shards N          threads serving requests (default 1)\n"
               "  -f                  accepted for rpcbind compatibility (always foreground)\n"
               "  --quiet             no log lines\n"
               "  --help              print this help and exit\n",
               ringrpc::registry::kDefaultUnixPath, ringrpc::registry::kDefaultStateFile);
}

bool parse_uint(const char* s, unsigned long max, unsigned long& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max || s[0] == '-') return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ringrpc::registry::RegistryServerOptions o;
  o.state_file = ringrpc::registry::kDefaultStateFile;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](unsigned long max, unsigned long& out) {
      if (i + 1 >= argc || !parse_uint(argv[i + 1], max, out)) {
        std::fprintf(stderr, "ringrpc-bind: %s needs a number up to %lu (see --help)\n", a.c_str(),
                     max);
        return false;
      }
      ++i;
      return true;
    };
    unsigned long n = 0;
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--port") {
      if (!value(65535, n)) return 2;
      o.port = static_cast<uint16_t>(n);
    } else if (a == "--unix" && i + 1 < argc) {
      o.unix_path = argv[++i];
    } else if (a == "--no-unix") {
      o.unix_path.clear();
    } else if (a == "--no-ipv6") {
      o.ipv6 = false;
    } else if (a == "--state" && i + 1 < argc) {
      o.state_file = argv[++i];
    } else if (a == "--no-state") {
      o.state_file.clear();
    } else if (a == "-i" || a == "--insecure") {
      o.insecure = true;
    } else if (a == "-r" || a == "--remote-calls") {
      o.remote_calls = true;
    } else if (a == "--rate-limit") {
      if (!value(10'000'000, n)) return 2;
      o.rate_limit = static_cast<uint32_t>(n);
    } else if (a == "--rate-limit-loopback") {
      o.rate_limit_loopback = true;
    } else if (a == "--udp-dump-limit") {
      if (!value(1u << 20, n)) return 2;
      o.udp_dump_limit = n;
    } else if (a == "--sweep-interval") {
      if (!value(86'400'000, n)) return 2;
      o.sweep_interval = std::chrono::milliseconds(n);
    } else if (a == "--shards") {
      if (!value(64, n) || n == 0) {
        if (n == 0) std::fprintf(stderr, "ringrpc-bind: --shards needs at least 1\n");
        return 2;
      }
      o.shards = static_cast<unsigned>(n);
    } else if (a == "-f" || a == "-w") {
      // rpcbind's foreground and warm-start flags: both are what ringrpc-bind always does.
    } else if (a == "--quiet") {
      o.log = false;
    } else {
      std::fprintf(stderr, "ringrpc-bind: unknown option %s (see --help)\n", a.c_str());
      return 2;
    }
  }

  ringrpc::block_termination_signals();
  ringrpc::registry::RegistryServer server(o);
  std::string error;
  if (!server.start(&error)) {
    std::fprintf(stderr, "ringrpc-bind: cannot start: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s\n", server.describe().c_str());
  std::fflush(stdout);
  const int sig = ringrpc::wait_for_termination_signal();
  if (o.log) std::fprintf(stderr, "ringrpc-bind: %s, stopping\n", strsignal(sig));
  server.stop();
  return 0;
}
