// Open-loop latency includes queueing: against a server that can do 1000 calls/s (one shard,
// every call blocks it for 1 ms), ringrpc-bench asking for 2000 calls/s must report latency that
// grows with time (calls wait longer and longer behind the backlog), while at 300 calls/s it
// stays flat near the service time. A closed loop at the same server stays flat even when
// saturated: it stops asking while it waits, which is why it hides the queue.
#include <gtest/gtest.h>

#include <numeric>

#include "bench/loadgen/load.h"
#include "bench/loadgen/process.h"

namespace ringrpc::bench {
namespace {

constexpr uint32_t kSquareProg = 0x31230000;

class OpenLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(server_.start({RINGRPC_GATE_SERVER, "--port", "0", "--no-register", "--shards", "1",
                               "--sleep-us", "1000"},
                              std::chrono::seconds(10), &err))
        << err;
  }
  LoadSpec spec(double rate) {
    LoadSpec s;
    s.address =
        transport::SockAddr::loopback4(static_cast<uint16_t>(std::stoi(server_.field("tcp"))));
    s.program = kSquareProg;
    s.procedure = 1;
    s.args = {0, 0, 0, 7};
    s.rate = rate;
    s.connections = 4;
    s.warmup_s = 0;
    s.duration_s = 3;
    s.repetitions = 1;
    s.interval_s = 0.25;
    s.drain = std::chrono::milliseconds(200);
    return s;
  }
  // p50 in ms of the calls that completed in time line slots [from, to); -1 if none did. (The
  // server answers in bursts: one shard blocked 1 ms per call works through a batch before it
  // sends, so a single short slot may hold nothing.)
  static double p50_ms(const LoadResult& r, size_t from, size_t to) {
    LatencyHistogram h;
    for (size_t i = from; i < to && i < r.timeline.size(); ++i) h.merge(r.timeline[i].latency);
    return h.count() == 0 ? -1 : static_cast<double>(h.quantile(0.5)) / 1e6;
  }
  ServerProcess server_;
};

TEST_F(OpenLoop, LatencyGrowsWithTimeAboveCapacity) {
  const LoadResult r = run_load(spec(2000));
  ASSERT_TRUE(r.fatal.empty()) << r.fatal;
  ASSERT_GE(r.timeline.size(), 12u);
  const double early = p50_ms(r, 0, 3);  // the first 0.75 s
  const double late = p50_ms(r, 9, 12);  // the last 0.75 s
  // The backlog grows by ~1000 calls a second, i.e. ~1 s of waiting per second of run.
  EXPECT_GT(late, 3 * early) << "early " << early << " ms, late " << late << " ms";
  EXPECT_GT(late, 700.0);
  // The server's rate, not the offered one, is what completes.
  EXPECT_LT(r.reps[0].calls_per_sec(), 1500);
}

TEST_F(OpenLoop, LatencyStaysFlatBelowCapacity) {
  const LoadResult r = run_load(spec(300));
  ASSERT_TRUE(r.fatal.empty()) << r.fatal;
  const double early = p50_ms(r, 0, 3);
  const double late = p50_ms(r, 9, 12);
  EXPECT_LT(late, 20.0) << "early " << early << " ms, late " << late << " ms";
  EXPECT_EQ(r.unsent, 0u);
  EXPECT_NEAR(r.reps[0].calls_per_sec(), 300, 60);
}

TEST_F(OpenLoop, ClosedLoopHidesTheQueue) {
  LoadSpec s = spec(0);
  s.connections = 1;
  s.depth = 1;
  const LoadResult r = run_load(s);
  ASSERT_TRUE(r.fatal.empty()) << r.fatal;
  // Saturated (one call at a time keeps the 1 ms server busy), yet every call looks like ~1 ms.
  EXPECT_LT(p50_ms(r, 9, 12), 5.0);
  EXPECT_GT(r.reps[0].calls_per_sec(), 300);
}

}  // namespace
}  // namespace ringrpc::bench
