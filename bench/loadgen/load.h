// The load generator of ringrpc-bench: drives one ONC RPC procedure of any server with the
// engine's own client (Channel::call_raw, one Channel per connection, every call pre-encoded
// arguments) and records what it sees.
//
// Two shapes of load:
//  - closed loop: C connections, each keeping D calls in flight; a reply sends the next call.
//    Latency is reply time - send time. Throughput is what the server sustains.
//  - open loop: calls are due at a fixed rate (call k at start + k / rate), whatever the server
//    does; latency is reply time - *intended* send time, so a server that falls behind shows it
//    as latency growing with time instead of a flat line (coordinated omission: a closed-loop
//    client that waits for replies stops asking, and its latency hides the queue). Calls beyond
//    the per-connection in-flight cap wait in the client, still timed from their due time.
//
// A run is a warm-up, then R repetitions, each a window of `duration` seconds (the load runs
// continuously across windows) or of exactly `calls` calls (the load pauses between them, so
// hooks can read counters of a quiet system). Every repetition has its own figures; the
// histograms of all of them merge into the run's. A time line of intervals (calls, errors,
// latency) covers the measured part.
//
// Threading: run_load() blocks its caller; it starts `threads` threads, each with its own
// EventLoop and its share of the connections, and joins them before it returns. Hooks and the
// progress callback run on the caller's thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/loadgen/histogram.h"
#include "engine/client.h"
#include "engine/rpc_error.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace ringrpc::bench {

struct LoadSpec {
  // Where and what.
  TransportKind transport = TransportKind::kTcp;
  transport::SockAddr address;
  uint32_t program = 0;
  uint32_t version = 1;
  uint32_t procedure = 0;
  std::vector<uint8_t> args;  // the arguments' XDR bytes, sent after the call header
  Credentials credentials;
  // Echo servers send the call back: count any record that carries the xid as a reply.
  bool raw_replies = false;

  // Shape.
  unsigned connections = 1;
  unsigned depth = 1;  // closed loop: calls in flight per connection
  unsigned threads = 1;
  double rate = 0;               // > 0: open loop at this many calls/s in all
  unsigned max_inflight = 1024;  // open loop: per connection
  double warmup_s = 1;
  double duration_s = 5;  // per repetition, when calls == 0
  uint64_t calls = 0;     // per repetition, when > 0
  unsigned repetitions = 1;
  double interval_s = 0.1;  // of the time line
  std::chrono::milliseconds timeout{10000};
  // After the last repetition: how long calls still in flight may take before they are given up.
  std::chrono::milliseconds drain{2000};
  transport::Backend backend = transport::Backend::kAuto;
  std::chrono::microseconds idle_poll{0};  // the client loops' LoopOptions::idle_poll
};

constexpr size_t kErrcCount = static_cast<size_t>(Errc::kCannotEncode) + 1;
using ErrorCounts = std::array<uint64_t, kErrcCount>;

// One repetition's figures.
struct RepResult {
  double seconds = 0;
  uint64_t calls = 0;  // replies received in the window (errors included)
  uint64_t errors = 0;
  uint64_t bytes = 0;  // call + reply payload bytes (records as the channel sees them)
  ErrorCounts errors_by_kind{};
  LatencyHistogram latency;
  double client_cpu_s = 0;            // user + system time of this process in the window
  double server_cpu_s = -1;           // of the server process, when its pid is known (-1: unknown)
  double instructions_per_call = -1;  // LoadHooks::after_rep's count per call (-1: none)
  // The whole host's CPUs over the window (bench/loadgen/host_cpu.h): shares in [0, 1], -1 when
  // /proc/stat could not be read.
  double host_busy = -1;
  double host_steal = -1;

  double calls_per_sec() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

struct IntervalPoint {
  double t = 0;  // seconds since the first measured window began
  uint64_t calls = 0;
  uint64_t errors = 0;
  IntervalHistogram latency;
};

struct LoadResult {
  std::vector<RepResult> reps;
  LatencyHistogram latency;  // every repetition
  std::vector<IntervalPoint> timeline;
  std::string client_backend;  // the client's event loop
  // Open loop: calls due but never sent (the in-flight cap held them back to the end), and how
  // late calls went out while a connection had room (the client's own lag: when it is large the
  // load generator, not the server, is the limit).
  uint64_t unsent = 0;
  LatencyHistogram send_lag;
  uint64_t capped = 0;  // calls that waited for the in-flight cap
  uint64_t in_flight_at_end = 0;
  double wall_s = 0;  // the measured part, start of the first window to end of the last
  std::string fatal;  // set when the run could not be made (nothing answered, say)
};

// Called at the edges of each repetition, on the caller's thread; in `calls` mode the load is
// quiet then (no call in flight). after_rep returns a count made over the repetition (the
// server's instructions, say), which becomes the repetition's count per call; -1 for none.
struct LoadHooks {
  std::function<void(unsigned rep)> before_rep;
  std::function<double(unsigned rep)> after_rep;
  // About once a second: seconds since start, calls completed so far, errors so far.
  std::function<void(double t, uint64_t calls, uint64_t errors, bool warming)> progress;
  int server_pid = 0;  // > 0: read its CPU time from /proc around each repetition
};

LoadResult run_load(const LoadSpec& spec, const LoadHooks& hooks = {});

// The XDR bytes of an opaque<> of `n` bytes (0xab each): the argument of ECHO-style procedures.
std::vector<uint8_t> opaque_argument(size_t n);

// CPU seconds (user + system) of a process from /proc/PID/stat; -1 if it cannot be read.
double process_cpu_seconds(int pid);
// CPU seconds of this process (getrusage).
double self_cpu_seconds();

}  // namespace ringrpc::bench
