// A bounded pool of threads for handlers that block (file I/O, locks, calls to other servers),
// so that a shard never does. Jobs beyond the queue bound are refused, and the server answers
// SYSTEM_ERR at once: a client learns of the overload instead of waiting behind it.
//
// Threading: submit() from any thread; jobs run on the pool's threads; the destructor finishes
// the queued jobs and joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ringrpc {

class OffloadPool {
 public:
  OffloadPool(unsigned threads, size_t max_queue);
  ~OffloadPool();
  OffloadPool(const OffloadPool&) = delete;
  OffloadPool& operator=(const OffloadPool&) = delete;

  // False when `max_queue` jobs are already waiting.
  bool submit(std::function<void()> job);

 private:
  void worker();

  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool done_ = false;                        // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace ringrpc
