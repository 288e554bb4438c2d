#include "codec/check.h"

#include <cstdio>
#include <cstdlib>

namespace ringrpc::internal {

void check_failed(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "ringrpc: check failed at %s:%d: %s (%s)\n", file, line, expr, msg);
  std::fflush(stderr);
  std::abort();
}

}  // namespace ringrpc::internal
