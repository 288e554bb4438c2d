// A SQUARE_PROG server for ringrpc-bench's own tests, built twice: as gate_server, and as
// gate_server_slowed with RINGRPC_GATE_SLOWED, which makes every SQUAREPROC call copy 32 bytes
// one at a time on its way through (a deliberate extra copy in the per-call path: about 10% more
// instructions per call). The regression gate must flag the slowed build and pass the other.
//
// --sleep-us N gives the server a back end that takes N microseconds per call, one call at a
// time: calls are deferred to one worker thread that answers them in order, so the server's
// capacity is 1e6 / N calls/s and replies leave one by one (a handler that slept on the shard
// would answer a whole batch at once, in bursts). For the open-loop queueing test. The other
// flags are the examples' (PRODUCT.md conventions).
//
// Threading: the handler runs on the shard threads; the slow queue is shared under its mutex.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "examples/common/server_main.h"
#include "square.h"

namespace {

long sleep_us = 0;

struct SlowBackEnd {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<ringrpc::ReplyHandle, int32_t>> queue;

  void run() {
    while (true) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !queue.empty(); });
      auto [reply, x] = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
      square::square_out out;
      out.res1 = static_cast<int32_t>(static_cast<uint32_t>(x) * static_cast<uint32_t>(x));
      reply.send<square::SQUARE_VERS_Proto::SQUAREPROC_t::result>(out);
    }
  }
};
// Never destroyed: replies still queued when the server stops must not outlive it in a static
// destructor.
SlowBackEnd* slow = nullptr;

class Square final : public square::SQUARE_VERS_Service {
 public:
  void SQUAREPROC(ringrpc::Call& call, const square::square_in& in,
                  square::square_out& out) override {
    if (slow != nullptr) {
      {
        std::lock_guard<std::mutex> lock(slow->mu);
        slow->queue.emplace_back(call.defer(), in.arg1);
      }
      slow->cv.notify_one();
      return;
    }
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
  if (sleep_us > 0) {
    // This thread starts before serve_main's, so block the termination signals first: they
    // must reach the server's wait, not this thread.
    ringrpc::block_termination_signals();
    slow = new SlowBackEnd();
    std::thread([] { slow->run(); }).detach();
  }
  Square square;
  return ringrpc::examples::serve_main(
      static_cast<int>(rest.size()) - 1, rest.data(), "gate_server",
      "SQUARE_PROG for ringrpc-bench's tests (--sleep-us N).", {&square});
}
