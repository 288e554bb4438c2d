// ringrpc-shm-bench: one 64-byte message and its echo between two threads, side by side in one
// run over each way the shared-memory transport can wait, and over what it is measured against
// (issue 8): the raw ring spinning on both sides, the ring with its eventfd wake-ups and no spin
// (what the transport does with the spin budget at zero), a bare eventfd ping-pong (the floor for
// any sleeping wait), and TCP over loopback. Time per iteration is one round trip.
//
//   BM_PingPong/ring_spin     both sides spin on the ring (reference/performance.md 4d: 0.44 us)
//   BM_PingPong/ring_wake     the ring, sleeping on eventfds when empty (prepare_sleep protocol)
//   BM_PingPong/eventfd       two eventfds, no data: the cost of two cross-thread wake-ups
//   BM_PingPong/tcp           64 bytes each way over a loopback TCP connection, blocking
//   BM_Pipelined/ring_spin    32 messages in flight through the spinning ring: messages/s
//   BM_LoopPingPong/...       the same round trip between two event loops (one per thread)
//                             over a shared-memory Stream, idle-polling (shm_poll: the loops
//                             look for 200 us before sleeping) or not (shm_sleep), and over a
//                             loopback TCP Stream (tcp): the transport's own cost, handlers and
//                             buffers included
//
// Threads in one process see the same cache-coherence and wake-up costs as two processes; the
// processes' own figures come with the transport. Spinning needs two free cores: on a 2-vCPU VM
// with anything else runnable, ring_spin falls by 3x (performance.md 4d), so run it on an idle
// machine and compare within one run.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "bench/transport/baseline_io.h"
#include "transport/event_loop.h"
#include "transport/shm_ring.h"
#include "transport/socket.h"

namespace {

using ringrpc::bench::cpu_relax;
using ringrpc::bench::full_io;

using namespace ringrpc::transport::shm;
constexpr size_t kMsg = 64;

// Reads exactly out.size() bytes from the ring, spinning or sleeping on `wake`.
bool ring_read(Consumer& c, uint8_t* out, size_t n, int wake, const std::atomic<bool>& stop) {
  size_t got = 0;
  while (got < n) {
    const size_t r = c.read(std::span<uint8_t>(out + got, n - got));
    got += r;
    if (r != 0) continue;
    if (stop.load(std::memory_order_relaxed)) return false;
    if (wake < 0) {
      cpu_relax();
    } else if (!c.prepare_sleep()) {
      uint64_t v;
      if (::read(wake, &v, sizeof v) < 0 && errno != EAGAIN) return false;
    }
  }
  return true;
}

void ring_write(Producer& p, const uint8_t* m, size_t n, int peer_wake) {
  size_t off = 0;
  while (off < n) {
    const size_t w = p.write(std::span<const uint8_t>(m + off, n - off));
    off += w;
    if (w == 0) cpu_relax();
  }
  if (peer_wake >= 0 && p.consumer_needs_wake()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t k = ::write(peer_wake, &one, sizeof one);
  }
}

void ring_pingpong(benchmark::State& state, bool sleep) {
  std::string err;
  auto seg = Segment::create(64 * 1024, &err);
  if (!seg) {
    state.SkipWithError(err.c_str());
    return;
  }
  // Blocking eventfds for the sleeping variant: the wait is the read.
  const int a_wake = sleep ? ::eventfd(0, EFD_CLOEXEC) : -1;
  const int b_wake = sleep ? ::eventfd(0, EFD_CLOEXEC) : -1;
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    Consumer in = seg->consumer(Direction::kToServer);
    Producer out = seg->producer(Direction::kToClient);
    uint8_t m[kMsg];
    while (ring_read(in, m, kMsg, b_wake, stop)) ring_write(out, m, kMsg, a_wake);
  });
  Producer out = seg->producer(Direction::kToServer);
  Consumer in = seg->consumer(Direction::kToClient);
  uint8_t m[kMsg] = {1};
  for (auto _ : state) {
    ring_write(out, m, kMsg, b_wake);
    ring_read(in, m, kMsg, a_wake, stop);
  }
  stop = true;
  if (b_wake >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t k = ::write(b_wake, &one, sizeof one);
  }
  echo.join();
  if (sleep) {
    ::close(a_wake);
    ::close(b_wake);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PingPong_ring_spin(benchmark::State& state) { ring_pingpong(state, false); }
void BM_PingPong_ring_wake(benchmark::State& state) { ring_pingpong(state, true); }

void BM_PingPong_eventfd(benchmark::State& state) {
  const int a = ::eventfd(0, EFD_CLOEXEC), b = ::eventfd(0, EFD_CLOEXEC);
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    uint64_t v;
    const uint64_t one = 1;
    while (::read(b, &v, sizeof v) == 8 && !stop.load()) {
      [[maybe_unused]] ssize_t k = ::write(a, &one, sizeof one);
    }
  });
  const uint64_t one = 1;
  uint64_t v;
  for (auto _ : state) {
    [[maybe_unused]] ssize_t k = ::write(b, &one, sizeof one);
    k = ::read(a, &v, sizeof v);
  }
  stop = true;
  [[maybe_unused]] ssize_t k = ::write(b, &one, sizeof one);
  echo.join();
  ::close(a);
  ::close(b);
  state.SetItemsProcessed(state.iterations());
}

void BM_PingPong_tcp(benchmark::State& state) {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    state.SkipWithError("cannot listen on 127.0.0.1");
    ::close(l);
    return;
  }
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    state.SkipWithError("cannot connect to 127.0.0.1");
    ::close(l);
    ::close(c);
    return;
  }
  const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  const int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::thread echo([s] {
    uint8_t m[kMsg];
    while (full_io(true, s, m, kMsg) && full_io(false, s, m, kMsg)) {
    }
  });
  uint8_t m[kMsg] = {1};
  for (auto _ : state) {
    full_io(false, c, m, kMsg);
    full_io(true, c, m, kMsg);
  }
  ::shutdown(c, SHUT_RDWR);
  echo.join();
  for (int fd : {l, c, s}) ::close(fd);
  state.SetItemsProcessed(state.iterations());
}

void BM_Pipelined_ring_spin(benchmark::State& state) {
  constexpr int kWindow = 32;
  std::string err;
  auto seg = Segment::create(64 * 1024, &err);
  if (!seg) {
    state.SkipWithError(err.c_str());
    return;
  }
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    Consumer in = seg->consumer(Direction::kToServer);
    Producer out = seg->producer(Direction::kToClient);
    uint8_t m[kMsg * kWindow];
    for (;;) {
      const size_t n = in.read(m);
      if (n == 0) {
        if (stop.load(std::memory_order_relaxed)) return;
        cpu_relax();
        continue;
      }
      ring_write(out, m, n, -1);
    }
  });
  Producer out = seg->producer(Direction::kToServer);
  Consumer in = seg->consumer(Direction::kToClient);
  uint8_t batch[kMsg * kWindow] = {};
  for (auto _ : state) {  // one iteration: a window of 32 messages out, and their 32 echoes back
    ring_write(out, batch, sizeof batch, -1);
    ring_read(in, batch, sizeof batch, -1, stop);
  }
  stop = true;
  echo.join();
  state.SetItemsProcessed(state.iterations() * kWindow);
}

// --- through two event loops ------------------------------------------------------------------

using ringrpc::transport::Backend;
using ringrpc::transport::EventLoop;
using ringrpc::transport::LoopOptions;
using ringrpc::transport::ShmEndpoint;
using ringrpc::transport::Stream;
using ringrpc::transport::StreamHandler;

ringrpc::xdr::OutMessage message_of(EventLoop& loop, std::span<const uint8_t> b) {
  ringrpc::xdr::OutMessage out;
  ringrpc::xdr::EncodeOptions raw;
  raw.record_mark = false;
  ringrpc::xdr::XdrWriter w(loop.send_pool(), out, raw);
  (void)(w.put_bytes(b.data(), b.size()) && w.finish());
  return out;
}

struct EchoHandler : StreamHandler {
  void on_data(Stream& s, std::span<const uint8_t> d, const ringrpc::Buffer&) override {
    s.send(message_of(s.loop(), d));
  }
  void on_closed(Stream&, int) override {}
};
struct CountHandler : StreamHandler {
  size_t bytes = 0;
  bool closed = false;
  void on_data(Stream&, std::span<const uint8_t> d, const ringrpc::Buffer&) override {
    bytes += d.size();
  }
  void on_closed(Stream&, int) override { closed = true; }
};

enum class LoopLink { kShmPoll, kShmSleep, kTcp };

// The two ends of a connection of kind `k`: shared-memory endpoints, or a connected TCP pair.
struct Ends {
  ShmEndpoint client, server;
  int tcp_client = -1, tcp_server = -1;
};
bool make_ends(LoopLink k, Ends& e, std::string& err) {
  if (k != LoopLink::kTcp) {
    auto seg = Segment::create(256 * 1024, &err);
    if (!seg) return false;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    const int cw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const int sw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    Handoff h;
    if (!send_handoff(sv[0], {seg->fd(), cw, sw}, &err) || !receive_handoff(sv[1], h, &err)) {
      return false;
    }
    auto mine = Segment::attach(h.memfd, 1 << 20, &err);
    if (!mine) return false;
    e.client = {std::move(seg), true, cw, sw, sv[0]};
    e.server = {std::move(mine), false, h.server_wake, h.client_wake, sv[1]};
    return true;
  }
  ringrpc::transport::IoError io;
  ringrpc::transport::SockAddr any = ringrpc::transport::SockAddr::loopback4(0);
  const int l = ringrpc::transport::listen_stream(any, {}, io);
  if (l < 0) {
    err = io.to_string();
    return false;
  }
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  e.tcp_client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(e.tcp_client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(e.tcp_client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    err = "connect to 127.0.0.1 failed";
    ::close(l);
    return false;
  }
  for (int i = 0; i < 1000 && e.tcp_server < 0; ++i) {
    e.tcp_server = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (e.tcp_server < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::close(l);
  ::fcntl(e.tcp_client, F_SETFL, ::fcntl(e.tcp_client, F_GETFL) | O_NONBLOCK);
  return e.tcp_server >= 0;
}

void loop_pingpong(benchmark::State& state, LoopLink k) {
  Ends ends;
  std::string err;
  if (!make_ends(k, ends, err)) {
    state.SkipWithError(("set-up failed: " + err).c_str());
    return;
  }
  LoopOptions lo;
  lo.backend = Backend::kAuto;
  lo.log_fallback = false;
  if (k == LoopLink::kShmPoll) lo.idle_poll = std::chrono::microseconds(200);
  std::atomic<bool> stop{false}, ready{false};
  std::thread server([&] {
    auto loop = EventLoop::create(lo);
    EchoHandler echo;
    if (k == LoopLink::kTcp) {
      loop->add_stream(ends.tcp_server, echo, {});
    } else {
      loop->add_shm_stream(std::move(ends.server), echo);
    }
    ready = true;
    while (!stop.load(std::memory_order_relaxed)) loop->run_once(std::chrono::milliseconds(5));
    loop->drain(std::chrono::seconds(1));
  });
  while (!ready.load()) std::this_thread::yield();
  auto loop = EventLoop::create(lo);
  CountHandler got;
  Stream* s = k == LoopLink::kTcp ? loop->add_stream(ends.tcp_client, got, {})
                                  : loop->add_shm_stream(std::move(ends.client), got);
  const uint8_t m[kMsg] = {1};
  size_t want = 0;
  for (auto _ : state) {
    s->send(message_of(*loop, m));
    want += kMsg;
    loop->run_once(std::chrono::milliseconds(0));  // a send from outside a handler goes out here
    while (got.bytes < want && !got.closed) loop->run_once(std::chrono::milliseconds(5));
  }
  stop = true;
  server.join();
  loop->drain(std::chrono::seconds(1));
  state.SetItemsProcessed(state.iterations());
}

void BM_LoopPingPong_shm_poll(benchmark::State& state) { loop_pingpong(state, LoopLink::kShmPoll); }
void BM_LoopPingPong_shm_sleep(benchmark::State& state) {
  loop_pingpong(state, LoopLink::kShmSleep);
}
void BM_LoopPingPong_tcp(benchmark::State& state) { loop_pingpong(state, LoopLink::kTcp); }

BENCHMARK(BM_PingPong_ring_spin)->Name("BM_PingPong/ring_spin")->UseRealTime();
BENCHMARK(BM_PingPong_ring_wake)->Name("BM_PingPong/ring_wake")->UseRealTime();
BENCHMARK(BM_PingPong_eventfd)->Name("BM_PingPong/eventfd")->UseRealTime();
BENCHMARK(BM_PingPong_tcp)->Name("BM_PingPong/tcp")->UseRealTime();
BENCHMARK(BM_Pipelined_ring_spin)->Name("BM_Pipelined/ring_spin")->UseRealTime();
BENCHMARK(BM_LoopPingPong_shm_poll)->Name("BM_LoopPingPong/shm_poll")->UseRealTime();
BENCHMARK(BM_LoopPingPong_shm_sleep)->Name("BM_LoopPingPong/shm_sleep")->UseRealTime();
BENCHMARK(BM_LoopPingPong_tcp)->Name("BM_LoopPingPong/tcp")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
