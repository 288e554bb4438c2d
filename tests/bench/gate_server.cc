// A SQUARE_PROG server for ringrpc-bench's own tests, built twice: as gate_server, and as
// gate_server_slowed with RINGRPC_GATE_SLOWED, which makes every SQUAREPROC call copy 32 bytes
// one at a time on its way through (a deliberate extra copy in the per-call path: about 10% more
// instructions per call). The regression gate must flag the slowed build and pass the other.
//
// --sleep-us N makes every SQUAREPROC block its shard for N microseconds: with one shard, a
// server whose capacity is 1e6 / N calls/s, for the open-loop queueing test. The other flags are
// the examples' (PRODUCT.md conventions).
//
// Threading: the handler runs on the shard threads; it shares nothing.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "examples/common/server_main.h"
#include "square.h"

namespace {

long sleep_us = 0;

class Square final : public square::SQUARE_VERS_Service {
 public:
  void SQUAREPROC(ringrpc::Call&, const square::square_in& in, square::square_out& out) override {
    if (sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
#ifdef RINGRPC_GATE_SLOWED
    // volatile, so that the compiler keeps every byte of the copy.
    static thread_local unsigned char from[32], to[32];
    from[0] = static_cast<unsigned char>(in.arg1);
    for (size_t i = 0; i < sizeof from; ++i) {
      static_cast<volatile unsigned char*>(to)[i] = static_cast<volatile unsigned char*>(from)[i];
    }
#endif
    out.res1 =
        static_cast<int32_t>(static_cast<uint32_t>(in.arg1) * static_cast<uint32_t>(in.arg1));
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sleep-us") == 0 && i + 1 < argc) {
      sleep_us = std::atol(argv[++i]);
      continue;
    }
    rest.push_back(argv[i]);
  }
  rest.push_back(nullptr);
  Square square;
  return ringrpc::examples::serve_main(
      static_cast<int>(rest.size()) - 1, rest.data(), "gate_server",
      "SQUARE_PROG for ringrpc-bench's tests (--sleep-us N).", {&square});
}
