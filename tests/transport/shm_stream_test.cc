// Shared-memory streams on the event loop, both backends: bytes both ways through rings smaller
// than the messages, in order; the peer's end (closed, or its process killed mid-message) is an
// end of stream after its last bytes; a peer that scribbles over an index or writes on the
// control socket is cut off with EPROTO; a peer that never reads holds our queue without the
// loop spinning, and room it makes later is used; a sleeping loop is woken by its peer's signal.
// Setting up through a listening Unix socket (offer_shm, connect_shm): what the client queued
// early goes out; a server that closes, answers garbage, offers rings too large or never
// answers fails the connect (or leaves it waiting) without blocking the loop.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "transport/event_loop.h"

namespace ringrpc::transport {
namespace {

using namespace std::chrono_literals;
using shm::Direction;
using shm::Segment;

uint8_t pattern(uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 9)); }

xdr::OutMessage bytes_message(EventLoop& loop, std::span<const uint8_t> b) {
  xdr::OutMessage out;
  xdr::EncodeOptions raw;
  raw.record_mark = false;
  xdr::XdrWriter w(loop.send_pool(), out, raw);
  EXPECT_TRUE(w.put_bytes(b.data(), b.size()) && w.finish());
  return out;
}

// Both ends of a connection, set up through the real handoff.
struct Pair {
  ShmEndpoint client, server;
};
Pair make_pair(size_t ring) {
  Pair p;
  std::string err;
  auto seg = Segment::create(ring, &err);
  EXPECT_TRUE(seg) << err;
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const int cw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int sw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  EXPECT_TRUE(shm::send_handoff(sv[0], {seg->fd(), cw, sw}, &err)) << err;
  shm::Handoff h;
  EXPECT_TRUE(shm::receive_handoff(sv[1], h, &err)) << err;
  auto mine = Segment::attach(h.memfd, 1 << 20, &err);
  EXPECT_TRUE(mine) << err;
  p.client = {std::move(seg), true, cw, sw, sv[0]};
  p.server = {std::move(mine), false, h.server_wake, h.client_wake, sv[1]};
  return p;
}
void close_endpoint(ShmEndpoint& e) {
  for (int fd : {e.wake, e.peer_wake, e.control}) {
    if (fd >= 0) ::close(fd);
  }
  e.segment.reset();
}

struct Collector : StreamHandler {
  std::vector<uint8_t> got;
  bool eof = false, closed = false;
  int err = -1;
  void on_data(Stream&, std::span<const uint8_t> d, const Buffer&) override {
    got.insert(got.end(), d.begin(), d.end());
  }
  void on_eof(Stream& s) override {
    eof = true;
    s.close_after_flush();
  }
  void on_closed(Stream&, int e) override {
    closed = true;
    err = e;
  }
};

struct Echo : StreamHandler {
  void on_data(Stream& s, std::span<const uint8_t> d, const Buffer&) override {
    s.send(bytes_message(s.loop(), d));
  }
  void on_closed(Stream&, int) override {}
};

class ShmStreamTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    LoopOptions o;
    o.backend = GetParam();
    std::string why;
    loop_ = EventLoop::create(o, &why);
    if (!loop_) {
      ASSERT_EQ(GetParam(), Backend::kIoUring) << why;
      GTEST_SKIP() << "io_uring unavailable: " << why;
    }
  }
  void TearDown() override {
    if (loop_) loop_->drain(1s);
    loop_.reset();
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
      if (done()) return true;
      loop_->run_once(20ms);
    }
    return done();
  }
  // Handlers outlive the loop's drain in TearDown, which tells them of streams still open.
  Collector client_, server_;
  Echo echo_;
  std::unique_ptr<EventLoop> loop_;
};

TEST_P(ShmStreamTest, BytesBothWaysThroughARingSmallerThanTheMessages) {
  Pair p = make_pair(16 * 1024);
  Stream* c = loop_->add_shm_stream(std::move(p.client), client_);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(loop_->add_shm_stream(std::move(p.server), echo_), nullptr);
  std::mt19937 rng(3);
  uint64_t sent = 0;
  std::vector<uint8_t> m;
  for (int i = 0; i < 40; ++i) {
    m.resize(rng() % (200 * 1024));
    for (size_t k = 0; k < m.size(); ++k) m[k] = pattern(sent + k);
    c->send(bytes_message(*loop_, m));
    sent += m.size();
  }
  ASSERT_TRUE(run_until([&] { return client_.got.size() >= sent; }))
      << client_.got.size() << " of " << sent;
  EXPECT_EQ(client_.got.size(), sent);
  bool intact = true;
  for (size_t k = 0; k < client_.got.size(); ++k) intact = intact && client_.got[k] == pattern(k);
  EXPECT_TRUE(intact);
  EXPECT_FALSE(client_.closed);
}

TEST_P(ShmStreamTest, ThePeerClosingIsAnEndOfStreamAfterItsLastBytes) {
  Pair p = make_pair(4096);
  Stream* c = loop_->add_shm_stream(std::move(p.client), client_);
  loop_->add_shm_stream(std::move(p.server), server_);
  std::vector<uint8_t> m(10000, 7);
  c->send(bytes_message(*loop_, m));
  c->close_after_flush();
  ASSERT_TRUE(run_until([&] { return server_.closed; }));
  EXPECT_EQ(server_.got.size(), m.size());
  EXPECT_TRUE(server_.eof);
  EXPECT_EQ(server_.err, 0);
  EXPECT_TRUE(client_.closed);
}

TEST_P(ShmStreamTest, APeerKilledMidMessageIsAnEndOfStreamNotAHang) {
  Pair p = make_pair(4096);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The peer: half of a 200-byte message, a signal, and death without closing anything.
    shm::Producer out = p.client.segment->producer(Direction::kToServer);
    uint8_t half[100];
    std::memset(half, 9, sizeof half);
    out.write(half);
    if (out.consumer_needs_wake()) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(p.client.peer_wake, &one, sizeof one);
    }
    ::_exit(0);
  }
  close_endpoint(p.client);  // only the child holds the client's end now
  loop_->add_shm_stream(std::move(p.server), server_);
  ASSERT_TRUE(run_until([&] { return server_.closed; }, 5s));
  EXPECT_EQ(server_.got.size(), 100u);
  EXPECT_TRUE(server_.eof);
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
}

TEST_P(ShmStreamTest, AScribblingPeerIsCutOffWithEproto) {
  Pair p = make_pair(4096);
  loop_->add_shm_stream(std::move(p.server), server_);
  loop_->run_once(0ms);
  // The peer's write index, more than a ring ahead: no honest producer can have written it.
  auto* base = static_cast<uint8_t*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, p.client.segment->fd(), 0));
  ASSERT_NE(base, MAP_FAILED);
  auto* ctl = reinterpret_cast<shm::RingControl*>(base + 256);  // kToServer's control block
  ctl->head.store(1u << 20);
  const uint64_t one = 1;
  ASSERT_EQ(::write(p.client.peer_wake, &one, sizeof one), 8);
  ASSERT_TRUE(run_until([&] { return server_.closed; }, 5s));
  EXPECT_EQ(server_.err, EPROTO);
  EXPECT_TRUE(server_.got.empty());
  ::munmap(base, 4096);
  close_endpoint(p.client);
}

TEST_P(ShmStreamTest, BytesOnTheControlSocketAreAProtocolError) {
  Pair p = make_pair(4096);
  loop_->add_shm_stream(std::move(p.server), server_);
  ASSERT_EQ(::write(p.client.control, "x", 1), 1);
  ASSERT_TRUE(run_until([&] { return server_.closed; }, 5s));
  EXPECT_EQ(server_.err, EPROTO);
  close_endpoint(p.client);
}

TEST_P(ShmStreamTest, APeerThatNeverReadsHoldsOurQueueWithoutTheLoopSpinning) {
  Pair p = make_pair(16 * 1024);
  Stream* s = loop_->add_shm_stream(std::move(p.server), server_);
  std::vector<uint8_t> m(1 << 20);
  for (size_t k = 0; k < m.size(); ++k) m[k] = pattern(k);
  s->send(bytes_message(*loop_, m));
  const uint64_t before = loop_->stats().iterations;
  const auto end = Clock::now() + 300ms;
  while (Clock::now() < end) loop_->run_once(50ms);
  // Asleep, not busy: a handful of iterations in 300 ms (a spinning loop makes millions).
  EXPECT_LT(loop_->stats().iterations - before, 100u);
  EXPECT_GT(s->queued_bytes(), 0u);
  EXPECT_FALSE(server_.closed);
  // Now the peer reads, from another thread, signalling as it makes room: everything arrives.
  std::atomic<bool> done{false};
  std::vector<uint8_t> got;
  std::thread reader([&] {
    shm::Consumer in = p.client.segment->consumer(Direction::kToClient);
    std::vector<uint8_t> buf(8192);
    const auto limit = Clock::now() + 10s;
    while (got.size() < m.size() && Clock::now() < limit) {
      const size_t n = in.read(buf);
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      if (in.producer_needs_wake()) {
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t k = ::write(p.client.peer_wake, &one, sizeof one);
      }
      if (n == 0) std::this_thread::sleep_for(100us);
    }
    done = true;
  });
  run_until([&] { return done.load(); }, 15s);
  reader.join();
  ASSERT_EQ(got.size(), m.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), m.begin()));
  EXPECT_EQ(s->queued_bytes(), 0u);
  close_endpoint(p.client);
}

TEST_P(ShmStreamTest, ASleepingLoopIsWokenByItsPeer) {
  Pair p = make_pair(4096);
  loop_->add_shm_stream(std::move(p.server), server_);
  loop_->run_once(0ms);
  std::thread peer([&] {
    std::this_thread::sleep_for(100ms);
    shm::Producer out = p.client.segment->producer(Direction::kToServer);
    const uint8_t m[5] = {1, 2, 3, 4, 5};
    out.write(m);
    // The loop went to sleep with its word set: the peer must see it and signal.
    EXPECT_TRUE(out.consumer_needs_wake());
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(p.client.peer_wake, &one, sizeof one);
  });
  const auto start = Clock::now();
  while (server_.got.empty() && Clock::now() - start < 5s) loop_->run_once(3s);
  const auto took = Clock::now() - start;
  peer.join();
  EXPECT_EQ(server_.got.size(), 5u);
  EXPECT_LT(took, 2s);  // woken by the signal, not by the 3 s timeout
  close_endpoint(p.client);
}

INSTANTIATE_TEST_SUITE_P(Backends, ShmStreamTest,
                         ::testing::Values(Backend::kIoUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(i.param == Backend::kIoUring ? "io_uring" : "epoll");
                         });

// A listener that answers every connection as a shared-memory server does: an offer (or, for
// the refusal tests, whatever `answer` does instead), then a stream on the ring.
struct OfferingListener : AcceptHandler {
  EventLoop* loop = nullptr;
  StreamHandler* handler = nullptr;
  size_t ring = 64 * 1024;
  std::function<void(int)> answer;  // set: answers with this instead of an offer
  int accepted = 0;
  void on_accept(int fd, const SockAddr&) override {
    ++accepted;
    if (answer) {
      answer(fd);
      return;
    }
    ShmEndpoint e;
    std::string err;
    ASSERT_TRUE(offer_shm(fd, ring, e, &err)) << err;
    ASSERT_NE(loop->add_shm_stream(std::move(e), *handler), nullptr);
  }
};

struct ConnectWatcher : Collector {
  int connected = -1;
  void on_connected(Stream&, int e) override { connected = e; }
};

class ShmConnectTest : public ShmStreamTest {
 protected:
  void SetUp() override {
    ShmStreamTest::SetUp();
    if (IsSkipped()) return;
    path_ = "/tmp/ringrpc-shm-connect-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path_.c_str());
    ASSERT_TRUE(SockAddr::unix_path(path_, addr_));
    IoError io;
    const int fd = listen_stream(addr_, {}, io);
    ASSERT_GE(fd, 0) << io.to_string();
    offering_.loop = loop_.get();
    offering_.handler = &echo_;
    loop_->add_listener(fd, offering_);
  }
  void TearDown() override {
    ShmStreamTest::TearDown();
    ::unlink(path_.c_str());
  }
  std::string path_;
  SockAddr addr_;
  OfferingListener offering_;
  ConnectWatcher watcher_;
};

TEST_P(ShmConnectTest, ConnectsThroughTheOfferAndSendsWhatWasQueuedBefore) {
  IoError io;
  Stream* c = loop_->connect_shm(addr_, watcher_, 1 << 20, io);
  ASSERT_NE(c, nullptr) << io.to_string();
  // Queued while the offer is still on its way: goes out once the rings exist.
  std::vector<uint8_t> m(300 * 1024);
  for (size_t k = 0; k < m.size(); ++k) m[k] = pattern(k);
  c->send(bytes_message(*loop_, m));
  ASSERT_TRUE(run_until([&] { return watcher_.got.size() >= m.size(); }))
      << watcher_.got.size() << " of " << m.size();
  EXPECT_EQ(watcher_.connected, 0);
  EXPECT_EQ(watcher_.got, m);
  EXPECT_EQ(offering_.accepted, 1);
  c->close();
  ASSERT_TRUE(run_until([&] { return watcher_.closed; }));
  EXPECT_EQ(watcher_.err, 0);
}

TEST_P(ShmConnectTest, NobodyListeningIsRefusedAtOnce) {
  SockAddr nowhere;
  ASSERT_TRUE(SockAddr::unix_path(path_ + ".absent", nowhere));
  IoError io;
  Stream* c = loop_->connect_shm(nowhere, watcher_, 1 << 20, io);
  EXPECT_EQ(c, nullptr);
  EXPECT_EQ(io.code, ENOENT);
}

TEST_P(ShmConnectTest, AServerThatClosesWithoutAnOfferIsAResetConnect) {
  offering_.answer = [](int fd) { ::close(fd); };
  IoError io;
  ASSERT_NE(loop_->connect_shm(addr_, watcher_, 1 << 20, io), nullptr);
  ASSERT_TRUE(run_until([&] { return watcher_.closed; }, 5s));
  EXPECT_EQ(watcher_.connected, ECONNRESET);
  EXPECT_EQ(watcher_.err, ECONNRESET);
}

TEST_P(ShmConnectTest, AnAnswerThatIsNotAnOfferIsRefusedWithEproto) {
  offering_.answer = [](int fd) {
    const char junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    [[maybe_unused]] ssize_t n = ::send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL);
    ::close(fd);
  };
  IoError io;
  ASSERT_NE(loop_->connect_shm(addr_, watcher_, 1 << 20, io), nullptr);
  ASSERT_TRUE(run_until([&] { return watcher_.closed; }, 5s));
  EXPECT_EQ(watcher_.connected, EPROTO);
}

TEST_P(ShmConnectTest, RingsLargerThanTheClientAllowsAreRefused) {
  offering_.ring = 1 << 20;
  IoError io;
  ASSERT_NE(loop_->connect_shm(addr_, watcher_, 64 * 1024, io), nullptr);
  ASSERT_TRUE(run_until([&] { return watcher_.closed; }, 5s));
  EXPECT_EQ(watcher_.connected, EPROTO);
}

TEST_P(ShmConnectTest, AServerThatNeverAnswersLeavesTheLoopFree) {
  std::vector<int> held;
  offering_.answer = [&held](int fd) { held.push_back(fd); };
  IoError io;
  Stream* c = loop_->connect_shm(addr_, watcher_, 1 << 20, io);
  ASSERT_NE(c, nullptr);
  c->send(bytes_message(*loop_, std::vector<uint8_t>(100, 1)));
  // The loop goes on serving other streams while this one waits.
  Pair p = make_pair(4096);
  Stream* other = loop_->add_shm_stream(std::move(p.client), client_);
  loop_->add_shm_stream(std::move(p.server), echo_);
  other->send(bytes_message(*loop_, std::vector<uint8_t>(10, 2)));
  ASSERT_TRUE(run_until([&] { return client_.got.size() == 10; }, 5s));
  EXPECT_EQ(watcher_.connected, -1);
  EXPECT_FALSE(watcher_.closed);
  for (int fd : held) ::close(fd);
  ASSERT_TRUE(run_until([&] { return watcher_.closed; }, 5s));
  EXPECT_EQ(watcher_.connected, ECONNRESET);
}

INSTANTIATE_TEST_SUITE_P(Backends, ShmConnectTest,
                         ::testing::Values(Backend::kIoUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(i.param == Backend::kIoUring ? "io_uring" : "epoll");
                         });

}  // namespace
}  // namespace ringrpc::transport
