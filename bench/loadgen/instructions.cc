#include "bench/loadgen/instructions.h"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace ringrpc::bench {

namespace {

int open_counter(pid_t tid, std::string* why) {
  perf_event_attr a{};
  a.type = PERF_TYPE_HARDWARE;
  a.size = sizeof a;
  a.config = PERF_COUNT_HW_INSTRUCTIONS;
  // Kernel instructions depend on what the network stack and the scheduler are doing; only the
  // server's own code is deterministic.
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  const int fd = static_cast<int>(syscall(SYS_perf_event_open, &a, tid, -1, -1, 0));
  if (fd < 0 && why != nullptr) {
    if (errno == ENOENT || errno == EOPNOTSUPP || errno == ENODEV) {
      *why = "the kernel exposes no hardware instruction counter (a VM without a virtual PMU)";
    } else if (errno == EACCES || errno == EPERM) {
      *why =
          "no permission for perf counters (run as root or lower "
          "/proc/sys/kernel/perf_event_paranoid)";
    } else {
      *why = std::string("perf_event_open: ") + std::strerror(errno);
    }
  }
  return fd;
}

}  // namespace

std::unique_ptr<PerfInstructionCounter> PerfInstructionCounter::open(int pid, std::string* why) {
  std::unique_ptr<PerfInstructionCounter> c(new PerfInstructionCounter());
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const pid_t tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
    const int fd = open_counter(tid, why);
    if (fd < 0) return nullptr;
    c->fds_.push_back(fd);
  }
  if (c->fds_.empty()) {
    *why = "no such process: " + std::to_string(pid);
    return nullptr;
  }
  return c;
}

PerfInstructionCounter::~PerfInstructionCounter() {
  for (int fd : fds_) close(fd);
}

uint64_t PerfInstructionCounter::read() const {
  uint64_t sum = 0;
  for (int fd : fds_) {
    uint64_t v = 0;
    if (::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) sum += v;
  }
  return sum;
}

bool perf_counters_available(std::string* why) {
  const int fd = open_counter(0, why);
  if (fd < 0) return false;
  close(fd);
  return true;
}

std::vector<std::string> valgrind_prefix(const std::string& log_file, std::string* why) {
  bool found = false;
  const char* path = getenv("PATH");
  std::string p = path != nullptr ? path : "/usr/bin:/bin";
  size_t at = 0;
  while (at <= p.size()) {
    const size_t colon = p.find(':', at);
    const std::string dir =
        p.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
    if (!dir.empty() && access((dir + "/valgrind").c_str(), X_OK) == 0) {
      found = true;
      break;
    }
    if (colon == std::string::npos) break;
    at = colon + 1;
  }
  if (!found) {
    *why = "valgrind is not installed (apt-get install valgrind), and no perf counter works";
    return {};
  }
  return {"valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
          "--log-file=" + log_file};
}

double cachegrind_total(const std::string& log_file) {
  std::ifstream f(log_file);
  std::string line;
  while (std::getline(f, line)) {
    const size_t at = line.find("I   refs:");
    if (at == std::string::npos) continue;
    std::string digits;
    for (char c : line.substr(at + 9)) {
      if (c >= '0' && c <= '9') digits += c;
    }
    if (!digits.empty()) return std::stod(digits);
  }
  return -1;
}

}  // namespace ringrpc::bench
