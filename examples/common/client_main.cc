#include "examples/common/client_main.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ringrpc::examples {

ClientArgs parse_client_args(int argc, char** argv, const char* name, const char* synopsis,
                             const char* extra_usage) {
  ClientArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value (see --help)\n", name, arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&](unsigned long max) -> unsigned long {
      const std::string v = value();
      char* end = nullptr;
      errno = 0;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (errno != 0 || end == v.c_str() || *end != '\0' || n > max) {
        std::fprintf(stderr, "%s: %s %s: expected a number up to %lu\n", name, arg.c_str(),
                     v.c_str(), max);
        std::exit(2);
      }
      return n;
    };
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: %s %s\n\n"
          "  --host H         server host (default 127.0.0.1)\n"
          "  --transport T    tcp, udp, unix or shm (default tcp)\n"
          "  --port N         the server's port; without it the host's registry is asked\n"
          "  --unix PATH      the server's Unix socket (implies --transport unix)\n"
          "  --shm PATH       the server's shared-memory socket (implies --transport shm)\n"
          "  --no-shm         through the registry, use TCP even when the server is on this\n"
          "                   host and offers shared memory\n"
          "  --verbose        say on stderr which transport and address the call uses\n"
          "  --count N        repeat the call N times (default 1)\n"
          "%s"
          "  --help           this text\n",
          name, synopsis, extra_usage);
      std::exit(0);
    } else if (arg == "--host") {
      a.host = value();
    } else if (arg == "--transport") {
      a.transport = value();
      if (a.transport != "tcp" && a.transport != "udp" && a.transport != "unix" &&
          a.transport != "shm") {
        std::fprintf(stderr, "%s: --transport %s: expected tcp, udp, unix or shm\n", name,
                     a.transport.c_str());
        std::exit(2);
      }
    } else if (arg == "--port") {
      a.port = static_cast<int>(number(65535));
    } else if (arg == "--unix") {
      a.unix_path = value();
      a.transport = "unix";
    } else if (arg == "--shm") {
      a.unix_path = value();
      a.transport = "shm";
    } else if (arg == "--no-shm") {
      a.shared_memory = false;
    } else if (arg == "--verbose") {
      a.verbose = true;
    } else if (arg == "--count") {
      a.count = number(1000000000);
    } else if (arg.size() > 1 && arg[0] == '-' && (arg[1] < '0' || arg[1] > '9')) {
      a.positional.push_back("\x01" + arg);  // an option the program itself handles
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

namespace {

std::shared_ptr<Channel> bound(const ClientArgs& a, const char* name, std::shared_ptr<Channel> ch) {
  if (a.verbose) {
    std::fprintf(stderr, "%s: calling over %s to %s\n", name, to_string(ch->options().transport),
                 ch->options().address.to_string().c_str());
  }
  return ch;
}

}  // namespace

std::shared_ptr<Channel> open_channel(const ClientArgs& a, const char* name, uint32_t program,
                                      uint32_t version) {
  if (a.transport == "unix" || a.transport == "shm") {
    if (a.unix_path.empty()) {
      std::fprintf(stderr, "%s: --transport %s needs --%s PATH\n", name, a.transport.c_str(),
                   a.transport.c_str());
      std::exit(2);
    }
    Result<std::shared_ptr<Channel>> ch = connect(a.unix_path, program, version, a.transport);
    if (!ch.ok()) {
      std::fprintf(stderr, "%s: %s: %s\n", name, a.unix_path.c_str(),
                   ch.error().to_string().c_str());
      std::exit(1);
    }
    return bound(a, name, ch.value());
  }
  if (a.port >= 0) {
    ChannelOptions o;
    o.program = program;
    o.version = version;
    o.transport = a.transport == "udp" ? TransportKind::kUdp : TransportKind::kTcp;
    std::string why;
    if (!transport::SockAddr::resolve(a.host, static_cast<uint16_t>(a.port), false, o.address,
                                      &why) &&
        !transport::SockAddr::resolve(a.host, static_cast<uint16_t>(a.port), true, o.address,
                                      &why)) {
      std::fprintf(stderr, "%s: %s\n", name, why.c_str());
      std::exit(1);
    }
    return bound(a, name, Channel::create(ClientRuntime::shared().loop(), o));
  }
  ChannelOptions base;
  base.shared_memory = a.shared_memory;
  Result<std::shared_ptr<Channel>> ch = connect(a.host, program, version, a.transport, base);
  if (!ch.ok()) {
    std::fprintf(stderr,
                 "%s: %s: %s (is the server running and registered? --port skips the registry)\n",
                 name, a.host.c_str(), ch.error().to_string().c_str());
    std::exit(1);
  }
  return bound(a, name, ch.value());
}

}  // namespace ringrpc::examples
