// The event loop's clock and its idle poll, on both backends: handlers see the time their event
// was picked up (not when the loop went to sleep), an idle poll finds events that follow each
// other closely without sleeping, and one that finds nothing turns itself off so that an idle
// loop sleeps.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "transport/event_loop.h"

namespace ringrpc::transport {
namespace {

using namespace std::chrono_literals;

struct Collector : StreamHandler {
  size_t bytes = 0;
  TimePoint loop_now{};
  TimePoint clock_now{};
  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer&) override {
    bytes += data.size();
    loop_now = s.loop().now();
    clock_now = Clock::now();
  }
  void on_closed(Stream&, int) override {}
};

class EventLoopTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<EventLoop> make(Duration idle_poll = Duration::zero()) {
    LoopOptions o;
    o.backend = GetParam();
    o.idle_poll = idle_poll;
    auto loop = EventLoop::create(o, &why_);
    // Only io_uring may be missing (a container's seccomp filter, an old kernel).
    if (!loop) {
      EXPECT_EQ(GetParam(), Backend::kIoUring) << why_;
    }
    return loop;
  }
  // A stream on `loop` whose other end the test keeps in peer_.
  Stream* pair(EventLoop& loop, StreamHandler& h) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    peer_ = fds[1];
    return loop.add_stream(fds[0], h, SockAddr{});
  }
  void TearDown() override {
    if (peer_ >= 0) ::close(peer_);
  }
  int peer_ = -1;
  std::string why_;
};

TEST_P(EventLoopTest, HandlersSeeTheTimeTheirEventWasPickedUp) {
  auto loop = make();
  if (!loop) GTEST_SKIP() << why_;
  Collector c;
  pair(*loop, c);
  loop->run_once(0ms);  // arms the receive
  std::thread writer([this] {
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(::write(peer_, "x", 1), 1);
  });
  const auto end = Clock::now() + 3s;
  while (c.bytes == 0 && Clock::now() < end) loop->run_once(1s);
  writer.join();
  ASSERT_EQ(c.bytes, 1u);
  // Before the fix the handler saw the time the loop went to sleep, 300 ms earlier.
  EXPECT_LT(c.clock_now - c.loop_now, 50ms);
  EXPECT_GE(c.clock_now, c.loop_now);
  loop->drain(1s);
}

TEST_P(EventLoopTest, IdlePollFindsEventsThatFollowCloselyWithoutSleeping) {
  auto loop = make(2ms);
  if (!loop) GTEST_SKIP() << why_;
  Collector c;
  pair(*loop, c);
  // A peer that writes a byte every ~100 us: well within the poll, so most waits end by polling.
  constexpr int kWrites = 500;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      while (::write(peer_, "x", 1) != 1) std::this_thread::sleep_for(1ms);
      std::this_thread::sleep_for(100us);
    }
    done = true;
  });
  const auto end = Clock::now() + 10s;
  while ((c.bytes < kWrites || !done) && Clock::now() < end) loop->run_once(100ms);
  writer.join();
  EXPECT_EQ(c.bytes, static_cast<size_t>(kWrites));
  EXPECT_GT(loop->stats().idle_polls, 0u);
  EXPECT_GT(loop->stats().idle_polls, loop->stats().idle_poll_misses);
  loop->drain(1s);
}

TEST_P(EventLoopTest, AnIdlePollThatFindsNothingTurnsItselfOff) {
  auto loop = make(500us);
  if (!loop) GTEST_SKIP() << why_;
  Collector c;
  pair(*loop, c);
  // Nothing happens: the first wait polls and misses, then sleeps out its 20 ms; a sleep that
  // long leaves polling off, so the later waits sleep at once.
  for (int i = 0; i < 10; ++i) loop->run_once(20ms);
  EXPECT_EQ(loop->stats().idle_poll_misses, 1u);
  EXPECT_EQ(loop->stats().idle_polls, 0u);
  // An event after a short sleep turns it on again. The wait ends at once, since the byte is
  // there before it starts, but a busy host (CI runs tests in parallel) can deschedule us for
  // longer than the 500 us between the sleep and its end: then that sleep counts as long, as it
  // should. A few tries keep that from failing the test; a loop that never turns polling back on
  // still fails every one.
  constexpr int kTries = 5;
  for (int i = 0; i < kTries && loop->stats().idle_poll_misses == 1; ++i) {
    ASSERT_EQ(::write(peer_, "x", 1), 1);
    loop->run_once(20ms);
    EXPECT_EQ(c.bytes, static_cast<size_t>(i + 1));
    loop->run_once(20ms);  // polls again (and misses) when the sleep above was short
  }
  EXPECT_EQ(loop->stats().idle_poll_misses, 2u);
  loop->drain(1s);
}

TEST_P(EventLoopTest, NoIdlePollUnlessAskedFor) {
  auto loop = make();
  if (!loop) GTEST_SKIP() << why_;
  Collector c;
  pair(*loop, c);
  for (int i = 0; i < 3; ++i) loop->run_once(5ms);
  ASSERT_EQ(::write(peer_, "x", 1), 1);
  for (int i = 0; i < 3 && c.bytes == 0; ++i) loop->run_once(100ms);
  EXPECT_EQ(c.bytes, 1u);
  EXPECT_EQ(loop->stats().idle_polls + loop->stats().idle_poll_misses, 0u);
  loop->drain(1s);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLoopTest,
                         ::testing::Values(Backend::kIoUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(i.param == Backend::kIoUring ? "io_uring" : "epoll");
                         });

}  // namespace
}  // namespace ringrpc::transport
