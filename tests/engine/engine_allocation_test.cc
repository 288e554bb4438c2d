// Zero heap allocations per call in a server's steady state: after a warm-up, thousands more
// pipelined calls over TCP (NULL and SQUARE, through the generated dispatch) must not allocate
// at all, with either backend. The client is a raw socket in the test thread, so every counted
// allocation is the server's.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "codec/rpc_msg.h"
#include "engine/server.h"
#include "engine_test.h"
#include "tests/support/alloc_counter.h"

namespace {

using ringrpc::transport::Backend;
using ringrpc::transport::SockAddr;

class V1 final : public engine_test::ENGINE_TEST_V1_Service {
 public:
  void SQUARE(ringrpc::Call&, const int32_t& x, int32_t& r) override { r = x * x; }
  void ECHO(ringrpc::Call&, const std::span<const uint8_t>&, engine_test::blob&) override {}
  void DEFERRED(ringrpc::Call&, const int32_t&, int32_t&) override {}
  void BLOCKING(ringrpc::Call&, const int32_t&, int32_t&) override {}
  void REFUSE(ringrpc::Call&, const int32_t&, int32_t&) override {}
  void HOLD(ringrpc::Call&) override {}
};

std::vector<uint8_t> batch(uint32_t first_xid, int n) {
  std::vector<uint8_t> out;
  ringrpc::BufferPool pool;
  for (int i = 0; i < n; ++i) {
    ringrpc::xdr::OutMessage m;
    ringrpc::xdr::XdrWriter w(pool, m);
    ringrpc::rpc::CallHeader h;
    h.xid = first_xid + static_cast<uint32_t>(i);
    h.prog = engine_test::ENGINE_TEST_V1_Proto::program;
    h.vers = 1;
    h.proc = i % 2;  // NULL and SQUARE
    ringrpc::rpc::encode_call_header(w, h);
    if (h.proc == 1) w.put_i32(i);
    w.finish();
    const auto b = m.flatten();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

// Sends `bytes` and reads until `replies` records came back. Allocates nothing itself.
void exchange(int fd, const std::vector<uint8_t>& bytes, int replies) {
  static uint8_t buf[1 << 16];
  size_t sent = 0;
  int got = 0;
  size_t have = 0;
  while (got < replies) {
    if (sent < bytes.size()) {
      const ssize_t n =
          ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) FAIL() << "no reply within 2 s";
    const ssize_t n = ::recv(fd, buf + have, sizeof buf - have, MSG_DONTWAIT);
    if (n <= 0) continue;
    have += static_cast<size_t>(n);
    size_t at = 0;
    while (have - at >= 4) {
      const uint32_t len = ringrpc::xdr::load_be32(buf + at) & 0x7fffffff;
      if (have - at < 4 + len) break;
      at += 4 + len;
      ++got;
    }
    std::memmove(buf, buf + at, have - at);
    have -= at;
  }
}

class EngineAllocationTest : public ::testing::TestWithParam<Backend> {};

TEST_P(EngineAllocationTest, SteadyStateCallsDoNotAllocate) {
  V1 v1;
  ringrpc::ServerOptions o;
  o.shards = 1;
  o.loop.backend = GetParam();
  o.log = false;
  ringrpc::Server server(o);
  server.add_service(v1);
  server.listen_tcp(SockAddr::loopback4(0));
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const SockAddr a = SockAddr::loopback4(server.tcp_port());
  ASSERT_EQ(::connect(fd, a.get(), a.len()), 0);
  const std::vector<uint8_t> calls = batch(1, 2000);
  // Warm-up: the pools, the stream's queue and the arena reach their steady size.
  for (int i = 0; i < 3; ++i) exchange(fd, calls, 2000);
  const uint64_t before = ringrpc::testing::allocation_count();
  for (int i = 0; i < 5; ++i) exchange(fd, calls, 2000);
  const uint64_t after = ringrpc::testing::allocation_count();
  EXPECT_EQ(after - before, 0u) << "allocations during 10000 calls";
  ::close(fd);
  EXPECT_EQ(server.stats().replies, 16000u);
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineAllocationTest,
                         ::testing::Values(Backend::kIoUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return i.param == Backend::kIoUring ? std::string("io_uring")
                                                               : std::string("epoll");
                         });

}  // namespace
