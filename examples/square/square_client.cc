// square-client: calls SQUAREPROC on any SQUARE_PROG server (ringrpc's or rpcgen's) and prints
// `square(N) = R`. See examples/README.md.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/common/client_main.h"
#include "square.h"

int main(int argc, char** argv) {
  const char* name = "square-client";
  ringrpc::examples::ClientArgs args =
      ringrpc::examples::parse_client_args(argc, argv, name, "[options] NUMBER", "");
  if (args.positional.size() != 1 || args.positional[0][0] == '\x01') {
    std::fprintf(stderr, "%s: expected one NUMBER (see --help)\n", name);
    return 2;
  }
  char* end = nullptr;
  const long n = std::strtol(args.positional[0].c_str(), &end, 10);
  if (*end != '\0' || n < INT32_MIN || n > INT32_MAX) {
    std::fprintf(stderr, "%s: %s is not a 32-bit integer\n", name, args.positional[0].c_str());
    return 2;
  }
  square::SQUARE_VERS_Client client(ringrpc::examples::open_channel(
      args, name, square::SQUARE_VERS_Proto::program, square::SQUARE_VERS_Proto::version));
  square::square_in in;
  in.arg1 = static_cast<int32_t>(n);
  for (unsigned long i = 0; i < args.count; ++i) {
    ringrpc::Result<square::square_out> r = client.SQUAREPROC(in);
    if (!r.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, r.error().to_string().c_str());
      return 1;
    }
    if (i + 1 == args.count) std::printf("square(%ld) = %d\n", n, r->res1);
  }
  return 0;
}
