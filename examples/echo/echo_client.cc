// echo-client: sends a payload to any ECHO_PROG server and checks that the same bytes come back.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "echo.h"
#include "examples/common/client_main.h"

int main(int argc, char** argv) {
  const char* name = "echo-client";
  ringrpc::examples::ClientArgs args = ringrpc::examples::parse_client_args(
      argc, argv, name, "[options] [TEXT]",
      "  --size BYTES     send BYTES pseudo-random bytes instead of TEXT\n");
  std::string text = "hello";
  long size = -1;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    const std::string& p = args.positional[i];
    if (p == "\x01--size" && i + 1 < args.positional.size()) {
      size = std::strtol(args.positional[++i].c_str(), nullptr, 10);
      if (size < 0 || size > (1L << 30)) {
        std::fprintf(stderr, "%s: --size: expected 0..1073741824\n", name);
        return 2;
      }
    } else if (p[0] == '\x01') {
      std::fprintf(stderr, "%s: unknown argument %s (see --help)\n", name, p.c_str() + 1);
      return 2;
    } else {
      text = p;
    }
  }
  echo::blob payload;
  if (size >= 0) {
    payload.resize(static_cast<size_t>(size));
    uint32_t x = 2463534242u;
    for (auto& b : payload) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      b = static_cast<uint8_t>(x);
    }
  } else {
    payload.assign(text.begin(), text.end());
  }
  ringrpc::ChannelOptions base;
  echo::ECHO_VERS_Client client(ringrpc::examples::open_channel(
      args, name, echo::ECHO_VERS_Proto::program, echo::ECHO_VERS_Proto::version));
  for (unsigned long i = 0; i < args.count; ++i) {
    ringrpc::Result<echo::blob> r = client.ECHO(payload);
    if (!r.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, r.error().to_string().c_str());
      return 1;
    }
    if (r.value() != payload) {
      std::fprintf(stderr, "%s: the reply differs from what was sent (%zu bytes back)\n", name,
                   r->size());
      return 1;
    }
  }
  if (size >= 0) {
    std::printf("echoed %ld bytes\n", size);
  } else {
    std::printf("%s\n", text.c_str());
  }
  return 0;
}
