// Shared-memory connections with peers that misbehave, at the level of the engine: a server
// (in this process) and hand-made clients that speak the handoff but then scribble over the
// ring, never read their replies, or die half-way through a call; and a hand-made server that
// scribbles over the client's ring. In every case the misbehaving connection ends, with an
// error that says so, and the other side goes on serving (or calling) on the connections that
// behave. The killed-server case, with a real server process, is in fault_test.cc.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "codec/byteswap.h"
#include "engine/client.h"
#include "engine/server.h"
#include "square.h"
#include "transport/event_loop.h"
#include "transport/shm_ring.h"

namespace {

using namespace std::chrono_literals;
using ringrpc::Errc;
using ringrpc::transport::SockAddr;
namespace shm = ringrpc::transport::shm;

class Square final : public square::SQUARE_VERS_Service {
 public:
  void SQUAREPROC(ringrpc::Call&, const square::square_in& in, square::square_out& out) override {
    out.res1 = in.arg1 * in.arg1;
  }
};

// One SQUAREPROC call as it travels on a stream: record mark, header, AUTH_NONE twice, the int.
std::vector<uint8_t> square_call(uint32_t xid, int32_t x) {
  const uint32_t words[] = {0x80000000u | 44u,
                            xid,
                            0u,
                            2u,
                            square::SQUARE_VERS_Proto::program,
                            square::SQUARE_VERS_Proto::version,
                            1u,
                            0u,
                            0u,
                            0u,
                            0u,
                            static_cast<uint32_t>(x)};
  std::vector<uint8_t> out(sizeof words);
  for (size_t i = 0; i < std::size(words); ++i) ringrpc::xdr::store_be32(&out[4 * i], words[i]);
  return out;
}

// A client that does the handoff by hand and then does whatever the test says with the rings.
struct RawClient {
  int sock = -1;
  shm::Handoff h;
  std::unique_ptr<shm::Segment> seg;
  shm::Producer out;
  shm::Consumer in;

  bool connect(const std::string& path) {
    SockAddr a;
    if (!SockAddr::unix_path(path, a)) return false;
    sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(sock, a.get(), a.len()) != 0) return false;
    std::string err;
    if (!shm::receive_handoff(sock, h, &err)) return false;
    seg = shm::Segment::attach(h.memfd, 1 << 24, &err);
    if (!seg) return false;
    out = seg->producer(shm::Direction::kToServer);
    in = seg->consumer(shm::Direction::kToClient);
    return true;
  }
  void signal() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(h.server_wake, &one, sizeof one);
  }
  // Writes all of `b` (waiting for room when `wait` allows); false when the ring stays full.
  bool send(std::span<const uint8_t> b, std::chrono::milliseconds wait = 2s) {
    const auto end = std::chrono::steady_clock::now() + wait;
    size_t done = 0;
    while (done < b.size()) {
      const size_t n = out.write(b.subspan(done));
      done += n;
      signal();
      if (n == 0) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(1ms);
      }
    }
    return true;
  }
  void close_all() {
    for (int fd : {sock, h.client_wake, h.server_wake}) {
      if (fd >= 0) ::close(fd);
    }
    sock = h.client_wake = h.server_wake = -1;
    seg.reset();
  }
  ~RawClient() { close_all(); }
};

class ShmFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = "/tmp/ringrpc-shm-fault-" + std::to_string(::getpid()) + ".sock";
    ringrpc::ServerOptions o;
    o.shards = 2;
    o.log = false;
    o.shm_ring_bytes = 64 * 1024;
    server_ = std::make_unique<ringrpc::Server>(o);
    server_->add_service(square_);
    server_->listen_shm(path_);
    std::string err;
    ASSERT_TRUE(server_->start(&err)) << err;
  }
  void TearDown() override { server_.reset(); }

  // A well-behaved client on its own connection: must keep being answered.
  void expect_served() {
    ringrpc::ChannelOptions base;
    base.timeout = 5s;
    auto ch = ringrpc::connect(path_, square::SQUARE_VERS_Proto::program,
                               square::SQUARE_VERS_Proto::version, "shm", base);
    ASSERT_TRUE(ch.ok());
    square::SQUARE_VERS_Client c(ch.value());
    auto r = c.SQUAREPROC({.arg1 = 9});
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r.value().res1, 81);
  }
  bool wait_open(uint64_t n, std::chrono::milliseconds limit = 5s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (server_->stats().connections_open != n) {
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }

  Square square_;
  std::string path_;
  std::unique_ptr<ringrpc::Server> server_;
};

TEST_F(ShmFaults, AnHonestRawClientIsAnswered) {
  // The hand-made client is right, so the failures below are the faults, not the client.
  RawClient c;
  ASSERT_TRUE(c.connect(path_));
  ASSERT_TRUE(c.send(square_call(77, 12)));
  std::vector<uint8_t> got;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (got.size() < 4 + 24 + 4 && std::chrono::steady_clock::now() < end) {
    uint8_t b[256];
    const size_t n = c.in.read(b);
    got.insert(got.end(), b, b + n);
    if (n == 0) std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(got.size(), 32u);  // mark, xid, REPLY, ACCEPTED, AUTH_NONE (2), SUCCESS, result
  EXPECT_EQ(ringrpc::xdr::load_be32(got.data() + 4), 77u);
  EXPECT_EQ(ringrpc::xdr::load_be32(got.data() + 28), 144u);
}

TEST_F(ShmFaults, AClientScribblingOverItsRingIsCutOffAndOthersAreServed) {
  RawClient c;
  ASSERT_TRUE(c.connect(path_));
  ASSERT_TRUE(wait_open(1));
  // The write index a whole ring and more ahead of what the server has read.
  auto* base = static_cast<uint8_t*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c.seg->fd(), 0));
  ASSERT_NE(base, MAP_FAILED);
  reinterpret_cast<shm::RingControl*>(base + 256)->head.store(uint64_t{1} << 40);
  c.signal();
  ASSERT_TRUE(wait_open(0)) << "the server kept a connection whose ring was corrupted";
  EXPECT_GE(server_->stats().malformed, 1u);
  ::munmap(base, 4096);
  // Its control socket is closed by the server: the client sees the end.
  char b;
  EXPECT_EQ(::recv(c.sock, &b, 1, 0), 0);
  expect_served();
}

TEST_F(ShmFaults, AClientWritingOnTheControlSocketIsCutOff) {
  RawClient c;
  ASSERT_TRUE(c.connect(path_));
  ASSERT_TRUE(wait_open(1));
  ASSERT_EQ(::send(c.sock, "x", 1, MSG_NOSIGNAL), 1);
  ASSERT_TRUE(wait_open(0));
  expect_served();
}

TEST_F(ShmFaults, AClientThatNeverReadsIsNotBufferedWithoutBound) {
  RawClient c;
  ASSERT_TRUE(c.connect(path_));
  // Replies fill the server's ring (64 KiB), then its queue; past the queue's high-water mark
  // the server stops reading this client's calls. Our own ring then fills, and stays full.
  const std::vector<uint8_t> call = square_call(1, 3);
  size_t sent = 0;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end && sent < 400000) {
    if (c.out.write(call) == call.size()) {
      ++sent;
      if (sent % 64 == 0) c.signal();
      continue;
    }
    c.signal();
    if (c.out.space() < call.size()) {
      // Full: give the server time to read on, if it would.
      std::this_thread::sleep_for(100ms);
      if (c.out.space() < call.size()) break;
    }
  }
  const uint64_t calls = server_->stats().calls;
  EXPECT_LT(sent, 400000u) << "the server read everything a non-reading client sent";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server_->stats().calls, calls) << "the server went on reading";
  // Bounded: what it holds for this client is the rings and a queue near the high-water mark.
  EXPECT_LT(calls * 32, 64u * 1024 + 64u * 1024 + 4 * ringrpc::transport::Stream::kHighWater);
  expect_served();
  c.close_all();
  ASSERT_TRUE(wait_open(0));
}

TEST_F(ShmFaults, AClientKilledHalfWayThroughACallIsForgotten) {
  // Connected here, before the fork: the child then needs no allocation (this process has
  // threads), and once this process closes its copies the child alone holds the connection.
  RawClient c;
  ASSERT_TRUE(c.connect(path_));
  const std::vector<uint8_t> call = square_call(5, 5);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    c.out.write(std::span<const uint8_t>(call).first(call.size() / 2));
    c.signal();
    ::kill(::getpid(), SIGKILL);
  }
  c.close_all();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child failed before its kill: " << status;
  ASSERT_TRUE(wait_open(0)) << "the server kept the dead client's connection";
  EXPECT_EQ(server_->stats().replies, 0u);
  expect_served();
}

// A server that offers rings, then scribbles over the client's: the client's calls fail with
// an error, none hangs, and a new channel to an honest server works.
TEST(ShmClientFaults, AServerScribblingOverTheRingFailsTheCallsInFlight) {
  const std::string path = "/tmp/ringrpc-shm-bad-server-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  SockAddr at;
  ASSERT_TRUE(SockAddr::unix_path(path, at));
  ringrpc::transport::IoError io;
  const int lfd = ringrpc::transport::listen_stream(at, {}, io);
  ASSERT_GE(lfd, 0) << io.to_string();
  std::thread bad([&] {
    pollfd p{lfd, POLLIN, 0};  // the listening socket is non-blocking
    if (::poll(&p, 1, 5000) != 1) return;
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    ringrpc::transport::ShmEndpoint e;
    std::string err;
    if (fd < 0 || !ringrpc::transport::offer_shm(fd, 4096, e, &err)) return;
    // Wait for the client's call, then corrupt the index of the ring it reads.
    shm::Consumer in = e.segment->consumer(shm::Direction::kToServer);
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (in.available() == 0 && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(1ms);
    }
    auto* base = static_cast<uint8_t*>(
        ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, e.segment->fd(), 0));
    reinterpret_cast<shm::RingControl*>(base + 512)->head.store(uint64_t{1} << 40);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(e.peer_wake, &one, sizeof one);
    std::this_thread::sleep_for(500ms);
    ::munmap(base, 4096);
    for (int f : {e.wake, e.peer_wake, e.control}) ::close(f);
  });
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions base;
  base.timeout = 5s;
  auto ch = ringrpc::connect(path, square::SQUARE_VERS_Proto::program,
                             square::SQUARE_VERS_Proto::version, "shm", base, &rt.loop());
  ASSERT_TRUE(ch.ok());
  square::SQUARE_VERS_Client c(ch.value());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.SQUAREPROC({.arg1 = 4});
  const auto took = std::chrono::steady_clock::now() - t0;
  bad.join();
  ::close(lfd);
  ::unlink(path.c_str());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kReset) << r.error().to_string();
  EXPECT_EQ(r.error().sys_errno, EPROTO) << r.error().to_string();
  // Failed when the ring broke, not when the server went 500 ms later.
  EXPECT_LT(took, 400ms);
}

}  // namespace
