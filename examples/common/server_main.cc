#include "examples/common/server_main.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ringrpc::examples {
namespace {

void usage(FILE* out, const char* name, const char* what) {
  std::fprintf(out,
               "usage: %s [options]\n"
               "%s\n\n"
               "  --port N         TCP and UDP port (default 0: any free port)\n"
               "  --shards N       event-loop threads (default: one per CPU)\n"
               "  --unix PATH      also listen on a Unix stream socket\n"
               "  --shm PATH       also serve clients on this host over shared memory, set up\n"
               "                   through the Unix socket PATH (registered as ringrpc-shm)\n"
               "  --no-register    do not register with the host's rpcbind/portmap\n"
               "  --backend B      io_uring, epoll or auto (default auto)\n"
               "  --idle-poll US   before sleeping, look for events this long (0..1000 us,\n"
               "                   yielding the CPU between looks; default 0, off)\n"
               "  --help           this text\n\n"
               "Prints `listening tcp=PORT udp=PORT` (and unix=, shm=) when ready; stops on\n"
               "SIGINT/SIGTERM after answering the calls in flight.\n",
               name, what);
}

bool parse_uint(const char* s, unsigned long max, unsigned long& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > max) return false;
  out = v;
  return true;
}

}  // namespace

int serve_main(int argc, char** argv, const char* name, const char* what,
               std::initializer_list<Service*> services) {
  ServerOptions options;
  unsigned long port = 0;
  bool do_register = true;
  std::string unix_path;
  std::string shm_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value (see --help)\n", name, flag);
        std::exit(2);
      }
      return argv[++i];
    };
    unsigned long n = 0;
    if (a == "--help" || a == "-h") {
      usage(stdout, name, what);
      return 0;
    } else if (a == "--port") {
      const char* v = value("--port");
      if (!parse_uint(v, 65535, port)) {
        std::fprintf(stderr, "%s: --port %s: expected 0..65535\n", name, v);
        return 2;
      }
    } else if (a == "--shards") {
      const char* v = value("--shards");
      if (!parse_uint(v, 256, n) || n == 0) {
        std::fprintf(stderr, "%s: --shards %s: expected 1..256\n", name, v);
        return 2;
      }
      options.shards = static_cast<unsigned>(n);
    } else if (a == "--unix") {
      unix_path = value("--unix");
    } else if (a == "--shm") {
      shm_path = value("--shm");
    } else if (a == "--no-register") {
      do_register = false;
    } else if (a == "--backend") {
      const char* v = value("--backend");
      if (!transport::parse_backend(v, options.loop.backend)) {
        std::fprintf(stderr, "%s: --backend %s: expected io_uring, epoll or auto\n", name, v);
        return 2;
      }
    } else if (a == "--idle-poll") {
      const char* v = value("--idle-poll");
      if (!parse_uint(v, 1000, n)) {
        std::fprintf(stderr, "%s: --idle-poll %s: expected 0..1000 (microseconds)\n", name, v);
        return 2;
      }
      options.loop.idle_poll = std::chrono::microseconds(n);
    } else {
      std::fprintf(stderr, "%s: unknown argument %s (see --help)\n", name, a.c_str());
      return 2;
    }
  }

  block_termination_signals();
  Server server(options);
  for (Service* s : services) server.add_service(*s);
  server.listen_tcp(transport::SockAddr::any4(static_cast<uint16_t>(port)));
  server.listen_udp(transport::SockAddr::any4(static_cast<uint16_t>(port)));
  if (!unix_path.empty()) server.listen_unix(unix_path);
  if (!shm_path.empty()) server.listen_shm(shm_path);
  std::string error;
  if (!server.start(&error)) {
    std::fprintf(stderr, "%s: %s\n", name, error.c_str());
    return 1;
  }
  if (do_register) {
    if (server.register_with_rpcbind(&error)) {
      std::fprintf(stderr, "%s: registered with the %s\n", name,
                   server.registry_description().c_str());
    } else {
      std::fprintf(stderr, "%s: not registered: %s (use --no-register to skip)\n", name,
                   error.c_str());
    }
  }
  std::printf("listening tcp=%u udp=%u", server.tcp_port(), server.udp_port());
  if (!unix_path.empty()) std::printf(" unix=%s", unix_path.c_str());
  if (!shm_path.empty()) std::printf(" shm=%s", shm_path.c_str());
  std::printf("\n");
  std::fflush(stdout);
  wait_for_termination_signal();
  server.stop();
  server.wait();
  return 0;
}

}  // namespace ringrpc::examples
