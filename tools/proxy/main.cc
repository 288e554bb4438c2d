// ringrpc-proxy: ONC RPC services between systems over Legato rpcProxy links. The work is
// engine/legato/proxy.h; this is its command line.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "engine/legato/proxy.h"
#include "engine/server.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/ringrpc/proxy.conf";
constexpr const char* kDefaultDeclarations = "/etc/ringrpc/proxy.decl";
constexpr const char* kDefaultControl = "/run/ringrpc-proxy.sock";

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: ringrpc-proxy [options]\n"
      "\n"
      "Carries ONC RPC services between systems over Legato rpcProxy links: a local client\n"
      "calls a service (found through this host's registry) whose server runs on another\n"
      "system, and neither knows. Runs in the foreground; stops on SIGINT or SIGTERM.\n"
      "What the system exports and wants, and its links, are declared in a file (extern: and\n"
      "links:, engine/legato/DESIGN.md); the bindings and systems (rpctool's) are in the\n"
      "configuration file, which ringrpc-tool edits and which is applied when it changes.\n"
      "\n"
      "options:\n"
      "  --declarations FILE  extern: and links: (default: $RINGRPC_PROXY_DECLARATIONS,\n"
      "                       else %s)\n"
      "  --config FILE        bindings and systems (default: $RINGRPC_PROXY_CONFIG, else\n"
      "                       %s); a missing file is an empty configuration\n"
      "  --control PATH       control socket for ringrpc-tool (default:\n"
      "                       $RINGRPC_PROXY_CONTROL, else %s); \"none\" for none\n"
      "  --name NAME          this system's name (overrides the declarations' \"system\")\n"
      "  --listen-address IP  where services of other systems are offered to local clients\n"
      "                       (default 127.0.0.1)\n"
      "  --no-register        do not register bound services with the host's registry\n"
      "  --registry-socket P  the registry's Unix socket (default /run/rpcbind.sock)\n"
      "  --no-shm             reach local servers found through the registry over TCP even\n"
      "                       when they offer shared memory (ringrpc-shm)\n"
      "  --shm-dir DIR        also offer each client extern to ringrpc clients on this host\n"
      "                       over shared memory, on the Unix socket DIR/ALIAS.shm\n"
      "                       (registered as ringrpc-shm beside its TCP and UDP port;\n"
      "                       two rings of 256 KiB a connection)\n"

      "  --keepalive MS       keep-alive period (default 120000, Legato's)\n"
      "  --keepalive-timeout MS  (default 30000)\n"
      "  --retry MS           link reconnect period (default 15000)\n"
      "  --resend MS          connect-service resend period (default 15000)\n"
      "  --call-timeout MS    a call with no answer by then gets SYSTEM_ERR (default 120000)\n"
      "  --server-retry MS    reconnecting to a local server (default 1000)\n"
      "  --watch-interval MS  how often the configuration file is checked (default 1000)\n"
      "  --max-record BYTES   largest RPC message carried (default 4194304)\n"
      "  --backend auto|io_uring|epoll  the event loop (default auto)\n"
      "  --idle-poll US       before sleeping, look for events this long (0-1000 us,\n"
      "                       yielding the CPU; default 200, 0: off, where a spinning core\n"
      "                       costs power)\n"
      "  --quiet              no log lines\n"
      "  --help               print this help and exit\n",
      kDefaultDeclarations, kDefaultConfig, kDefaultControl);
}

bool parse_ms(const char* s, std::chrono::milliseconds& out) {
  if (s == nullptr || *s == '\0' || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 || v > 86400000ull) return false;
  out = std::chrono::milliseconds(v);
  return true;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using ringrpc::legato::ProxyOptions;
  ProxyOptions o;
  std::string decl_path = env_or("RINGRPC_PROXY_DECLARATIONS", kDefaultDeclarations);
  o.config_path = env_or("RINGRPC_PROXY_CONFIG", kDefaultConfig);
  o.control_path = env_or("RINGRPC_PROXY_CONTROL", kDefaultControl);
  std::string name;
  bool quiet = false;
  ringrpc::transport::LoopOptions lo;
  lo.log_fallback = false;
  // A gateway's loop has work arriving microseconds apart under load, where a sleep and a
  // wake-up per batch cost more than the batch; the poll turns itself off when events are
  // further apart (LoopOptions::idle_poll), so an idle proxy still sleeps.
  lo.idle_poll = std::chrono::microseconds(200);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto need = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ringrpc-proxy: %s needs %s (see --help)\n", a.c_str(), what);
        std::exit(2);
      }
      return argv[++i];
    };
    auto ms = [&](std::chrono::milliseconds& out) {
      const char* v = need("milliseconds");
      if (!parse_ms(v, out)) {
        std::fprintf(stderr, "ringrpc-proxy: %s: \"%s\" is not 1-86400000 ms\n", a.c_str(), v);
        std::exit(2);
      }
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--declarations") {
      decl_path = need("a file");
    } else if (a == "--config") {
      o.config_path = need("a file");
    } else if (a == "--control") {
      o.control_path = need("a path");
      if (o.control_path == "none") o.control_path.clear();
    } else if (a == "--name") {
      name = need("a name");
    } else if (a == "--listen-address") {
      const char* v = need("an IP address");
      if (!ringrpc::transport::SockAddr::parse_ip(v, 0, o.local_address)) {
        std::fprintf(stderr, "ringrpc-proxy: --listen-address: \"%s\" is not an IP address\n", v);
        return 2;
      }
    } else if (a == "--no-register") {
      o.register_services = false;
    } else if (a == "--no-shm") {
      o.shared_memory = false;
    } else if (a == "--shm-dir") {
      o.shm_dir = need("a directory");
      while (o.shm_dir.size() > 1 && o.shm_dir.back() == '/') o.shm_dir.pop_back();
    } else if (a == "--registry-socket") {
      o.registry_socket = need("a path");
    } else if (a == "--keepalive") {
      ms(o.timers.keepalive);
    } else if (a == "--keepalive-timeout") {
      ms(o.timers.keepalive_timeout);
    } else if (a == "--retry") {
      ms(o.timers.retry);
    } else if (a == "--resend") {
      ms(o.resend);
    } else if (a == "--call-timeout") {
      ms(o.call_timeout);
    } else if (a == "--server-retry") {
      ms(o.server_retry);
    } else if (a == "--watch-interval") {
      ms(o.watch_interval);
    } else if (a == "--max-record") {
      const char* v = need("bytes");
      char* end = nullptr;
      unsigned long long n = std::strtoull(v, &end, 10);
      if (*end != '\0' || n < 1024 || n > (64ull << 20)) {
        std::fprintf(stderr, "ringrpc-proxy: --max-record: \"%s\" is not 1024-67108864\n", v);
        return 2;
      }
      o.max_record = static_cast<size_t>(n);
    } else if (a == "--backend") {
      const char* v = need("auto, io_uring or epoll");
      if (!ringrpc::transport::parse_backend(v, lo.backend)) {
        std::fprintf(stderr, "ringrpc-proxy: --backend: \"%s\" is not auto, io_uring or epoll\n",
                     v);
        return 2;
      }
    } else if (a == "--idle-poll") {
      const char* v = need("microseconds");
      char* end = nullptr;
      errno = 0;
      const unsigned long n = std::strtoul(v, &end, 10);
      if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0 || n > 1000) {
        std::fprintf(stderr, "ringrpc-proxy: --idle-poll: \"%s\" is not 0-1000 us\n", v);
        return 2;
      }
      lo.idle_poll = std::chrono::microseconds(n);
    } else if (a == "--quiet") {
      quiet = true;
    } else {
      std::fprintf(stderr, "ringrpc-proxy: unknown option \"%s\" (see --help)\n", a.c_str());
      return 2;
    }
  }
  std::string error;
  auto decl = ringrpc::legato::load_declarations(decl_path, &error);
  if (!decl) {
    std::fprintf(stderr, "ringrpc-proxy: cannot read the declarations: %s\n", error.c_str());
    return 1;
  }
  if (!name.empty()) decl->system_name = name;
  o.declarations = std::move(*decl);
  if (quiet)
    o.log = [](const std::string&) {};
  else {
    o.log = [](const std::string& line) {
      std::fprintf(stderr, "ringrpc-proxy: %s\n", line.c_str());
    };
  }

  // Before any thread starts, so that every thread inherits the mask and the signal waits here.
  ringrpc::block_termination_signals();
  ::signal(SIGPIPE, SIG_IGN);
  auto loop = ringrpc::transport::EventLoop::create(lo, &error);
  if (!loop) {
    std::fprintf(stderr, "ringrpc-proxy: cannot start the event loop: %s\n", error.c_str());
    return 1;
  }
  int exit_code = 0;
  {
    ringrpc::legato::Proxy proxy(*loop, std::move(o));
    if (!proxy.start(&error)) {
      std::fprintf(stderr, "ringrpc-proxy: %s\n", error.c_str());
      proxy.stop();
      loop->drain(std::chrono::seconds(1));
      return 1;
    }
    std::printf("listening %s\n", proxy.describe_listeners().c_str());
    std::fflush(stdout);
    int sig = 0;
    ringrpc::transport::EventLoop* lp = loop.get();
    std::thread waiter([&sig, lp] {
      sig = ringrpc::wait_for_termination_signal();
      lp->stop();
    });
    loop->run();
    waiter.join();
    if (!quiet) std::fprintf(stderr, "ringrpc-proxy: %s, stopping\n", strsignal(sig));
    proxy.stop();
    loop->drain(std::chrono::seconds(2));
  }
  return exit_code;
}
