// The command line the example clients share: where the server is (--host, --transport, --port,
// --unix, --shm) and how to bind to it (the registry, like clnt_create, unless a port or path is
// given; through the registry, a server on this host is reached over shared memory when it
// offers that, unless --no-shm).
//
// Threading: call from main().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/client.h"

namespace ringrpc::examples {

struct ClientArgs {
  std::string host = "127.0.0.1";
  std::string transport = "tcp";  // tcp, udp, unix, shm
  int port = -1;                  // -1: ask the registry
  std::string unix_path;          // --unix, or --shm's path
  bool shared_memory = true;      // false: --no-shm
  bool verbose = false;           // --verbose: say on stderr how the channel was bound
  unsigned long count = 1;
  std::vector<std::string> positional;
};

// Parses the common flags (plus `extra_usage` lines for --help); exits 2 on bad usage, 0 after
// --help.
ClientArgs parse_client_args(int argc, char** argv, const char* name, const char* synopsis,
                             const char* extra_usage);
// A channel to (program, version) as the arguments say; prints why and exits 1 on failure.
std::shared_ptr<Channel> open_channel(const ClientArgs& a, const char* name, uint32_t program,
                                      uint32_t version);

}  // namespace ringrpc::examples
