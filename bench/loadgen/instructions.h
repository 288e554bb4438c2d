// Instructions per call: the deterministic figure for noisy CI machines. Time per call moves by
// 10-50% from run to run on a shared 2-core VM; the number of instructions a server executes per
// call moves by a fraction of a percent, so a regression gate on it can be tight and not flaky.
//
// Two ways to count, the first that works is used:
//  - perf: a hardware instruction counter (user space only) on every thread of the server
//    process, read around each repetition. Needs a PMU the kernel exposes (many VMs have none)
//    and permission (root, or perf_event_paranoid <= 1 for one's own processes).
//  - valgrind: the server is started under `valgrind --tool=cachegrind --cache-sim=no`, which
//    counts every instruction it executes, twice per repetition, with N and 2N calls; the
//    difference over N removes start-up and shutdown. Slower (the server runs ~50x slower), so
//    it is meant for short runs of a few thousand calls.
// Either way the count depends on batching (a server woken for 32 calls spends fewer
// instructions per call than one woken for each), so the load for it is one connection with one
// call in flight unless told otherwise.
//
// Threading: used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringrpc::bench {

// Hardware instruction counters on every thread of one process (user space only).
class PerfInstructionCounter {
 public:
  // nullptr, with the reason, when the kernel offers no counter or no permission.
  static std::unique_ptr<PerfInstructionCounter> open(int pid, std::string* why);
  ~PerfInstructionCounter();
  PerfInstructionCounter(const PerfInstructionCounter&) = delete;
  PerfInstructionCounter& operator=(const PerfInstructionCounter&) = delete;
  // Instructions counted so far, over the threads that existed when it was opened.
  uint64_t read() const;
  size_t threads() const noexcept { return fds_.size(); }

 private:
  PerfInstructionCounter() = default;
  std::vector<int> fds_;
};

// Whether this process may count instructions with perf at all (tried on itself).
bool perf_counters_available(std::string* why);

// The valgrind command prefix for counting, or empty with the reason when valgrind is missing.
std::vector<std::string> valgrind_prefix(const std::string& log_file, std::string* why);
// "I refs" from a cachegrind log; -1 if it is not there.
double cachegrind_total(const std::string& log_file);

}  // namespace ringrpc::bench
