// `ringrpc-bench suite`: the engine's performance targets (PRODUCT.md "What fast means"), each
// measured side by side with its baseline in the same run. It starts ringrpc's square-server and
// echo-server, the libtirpc server rpcgen makes from the same .x files (tirpc_peer, built with
// the tests), and ringrpc-raw-echo (an io_uring server that returns the bytes it reads and does
// no RPC work: the machine's limit), drives each with the same load from this process, in
// interleaved rounds so that drift on a shared machine hits every server alike, and prints the
// medians, spreads and ratios beside the targets.
//
// Threading: run_suite() blocks its caller.
#pragma once

#include <string>

#include "transport/event_loop.h"

namespace ringrpc::bench {

struct SuiteOptions {
  std::string bin_dir;  // where the servers are (default: this executable's directory)
  unsigned rounds = 5;
  double seconds = 3;
  unsigned idle_connections = 10000;
  transport::Backend backend = transport::Backend::kAuto;  // the servers' and the client's
  std::string json_path;
  bool quiet = false;
  bool strict = false;  // exit 1 when a target is missed
};

// Returns the exit code: 0 when every measurement ran (a missed target is reported as "no", and
// fails the run only with `strict`), 1 when a server could not be started, a measurement failed,
// or (strict) a target was missed.
int run_suite(const SuiteOptions& options);

}  // namespace ringrpc::bench
