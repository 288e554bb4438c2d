#include "bench/loadgen/host_cpu.h"

#include <cstdlib>
#include <fstream>
#include <string>

namespace ringrpc::bench {

std::optional<HostCpuTicks> parse_proc_stat(std::string_view text) {
  // "cpu" then blanks: the aggregate line, not "cpu0".
  if (text.size() < 4 || text.substr(0, 3) != "cpu" || (text[3] != ' ' && text[3] != '\t')) {
    return std::nullopt;
  }
  const size_t eol = text.find('\n');
  std::string line(text.substr(3, eol == std::string_view::npos ? text.size() - 3 : eol - 3));
  unsigned long long v[8] = {};
  const char* p = line.c_str();
  int n = 0;
  for (; n < 8; ++n) {
    while (*p == ' ' || *p == '\t') ++p;
    if (*p < '0' || *p > '9') break;
    char* end = nullptr;
    v[n] = std::strtoull(p, &end, 10);
    p = end;
  }
  if (n < 4) return std::nullopt;  // user nice system idle are there on every kernel
  while (*p == ' ' || *p == '\t') ++p;
  // After all eight, newer kernels' guest counters may follow; anything else is not this line.
  if (*p != '\0' && (n < 8 || *p < '0' || *p > '9')) return std::nullopt;
  return HostCpuTicks{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
}

std::optional<HostCpuTicks> read_host_cpu() {
  std::ifstream f("/proc/stat");
  std::string first;
  if (!std::getline(f, first)) return std::nullopt;
  return parse_proc_stat(first);
}

std::optional<HostCpuShare> host_share(const HostCpuTicks& a, const HostCpuTicks& b) {
  const unsigned long long before[] = {a.user,   a.nice, a.system,  a.idle,
                                       a.iowait, a.irq,  a.softirq, a.steal};
  const unsigned long long after[] = {b.user,   b.nice, b.system,  b.idle,
                                      b.iowait, b.irq,  b.softirq, b.steal};
  double d[8];
  double total = 0;
  for (int i = 0; i < 8; ++i) {
    // iowait may go backwards (proc(5): it is not reliable); every other counter only grows.
    if (after[i] < before[i]) {
      if (i != 4) return std::nullopt;
      d[i] = 0;
    } else {
      d[i] = static_cast<double>(after[i] - before[i]);
    }
    total += d[i];
  }
  if (total <= 0) return std::nullopt;
  HostCpuShare s;
  s.busy = (d[0] + d[1] + d[2] + d[5] + d[6]) / total;
  s.idle = (d[3] + d[4]) / total;
  s.steal = d[7] / total;
  return s;
}

}  // namespace ringrpc::bench
