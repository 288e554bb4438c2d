// The command line every example server shares (PRODUCT.md conventions): --port, --shards,
// --no-register, --backend, --unix, --help; the `listening tcp=PORT udp=PORT` line; a clean stop
// on SIGINT/SIGTERM that finishes calls in flight.
//
// Threading: call serve_main() from main(), before any other thread starts.
#pragma once

#include <initializer_list>

#include "engine/server.h"

namespace ringrpc::examples {

// Parses the flags, serves `services` until SIGINT/SIGTERM, returns the exit code (0, 1 on a
// failure to start, 2 on bad usage).
int serve_main(int argc, char** argv, const char* name, const char* what,
               std::initializer_list<Service*> services);

}  // namespace ringrpc::examples
