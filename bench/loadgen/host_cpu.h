// What the whole host's CPUs did while ringrpc-bench measured: how much of their time was busy,
// and how much the hypervisor took for other guests (steal). On a shared VM a run's throughput
// depends as much on its neighbours as on the code; a figure measured while a tenth of the CPU
// time was stolen does not compare with one from a quiet hour, and a reader (or `compare`) must
// be told. Read from the aggregate "cpu" line of /proc/stat (proc(5)), in USER_HZ ticks, so a
// window of one second on two CPUs resolves to half a percent.
//
// Threading: pure functions, except read_host_cpu(), which reads /proc and may run anywhere.
#pragma once

#include <optional>
#include <string_view>

namespace ringrpc::bench {

// From this share of steal in any measured window on, ringrpc-bench's report and `compare` say
// so. An idle guest of our machine class sees well under 1%; one whose neighbours are busy sees
// 20-40% under load, and its throughput varies by up to 3-4x from run to run.
inline constexpr double kNotableSteal = 0.05;

// The aggregate "cpu" line's counters, in ticks since boot.
struct HostCpuTicks {
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
};

// Shares of all CPUs' time over a window, each in [0, 1]; busy counts user, nice, system, irq
// and softirq (guest time is inside user); idle counts idle and iowait; steal is what the
// hypervisor ran elsewhere while a CPU of ours wanted to run.
struct HostCpuShare {
  double busy = 0;
  double idle = 0;
  double steal = 0;
};

// The first line of /proc/stat's text ("cpu  user nice system idle iowait irq softirq steal ..."),
// nullopt when it is not one. Kernels before 2.6.11 had no steal field: read as 0.
std::optional<HostCpuTicks> parse_proc_stat(std::string_view text);
// /proc/stat now; nullopt when it cannot be read (not Linux, /proc not mounted).
std::optional<HostCpuTicks> read_host_cpu();
// The shares between two readings; nullopt when no tick passed (or the counters went back).
std::optional<HostCpuShare> host_share(const HostCpuTicks& before, const HostCpuTicks& after);

}  // namespace ringrpc::bench
