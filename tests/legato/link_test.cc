// A Legato link on loopback: two Links (listen and connect) come UP, carry messages both ways
// and keep each other alive; a peer that never answers keep-alives, one that sends garbage and
// one that goes away are detected and the connecting side comes back by itself; a second peer
// is refused while one is UP, as networkSocket does.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "engine/legato/link.h"
#include "tests/legato/run_until.h"

namespace ringrpc::legato {
namespace {

using namespace std::chrono_literals;
using transport::SockAddr;

struct Recorder : LinkHandler {
  std::vector<Message> got;
  std::vector<std::string> downs;
  int ups = 0;
  bool refuse = false;
  void on_link_up() override { ++ups; }
  void on_link_down(const std::string& why) override { downs.push_back(why); }
  bool on_message(Message& m, std::string* why) override {
    got.push_back(m);
    if (refuse) *why = "refused by the test";
    return !refuse;
  }
};

LinkTimers fast() {
  LinkTimers t;
  // Short enough to run ten periods in a second, long enough that a loaded CI machine (a
  // sanitizer build, tests in parallel) never misses one.
  t.keepalive = 100ms;
  t.keepalive_timeout = 400ms;
  t.retry = 50ms;
  return t;
}

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    loop_ = transport::EventLoop::create({}, &err);
    ASSERT_TRUE(loop_) << err;
  }
  void TearDown() override { loop_->drain(1s); }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
    return testing::run_until(*loop_, done, limit);
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }
  std::unique_ptr<Link> make(Recorder& r, LinkRole role, const char* peer, uint16_t port) {
    LinkOptions o;
    o.peer_name = peer;
    o.role = role;
    o.address = SockAddr::loopback4(port);
    o.timers = fast();
    auto l = std::make_unique<Link>(*loop_, o, r);
    std::string err;
    EXPECT_TRUE(l->start(&err)) << err;
    return l;
  }
  std::unique_ptr<Link> listener(Recorder& r, uint16_t port = 0) {
    return make(r, LinkRole::kListen, "Bob", port);
  }
  std::unique_ptr<Link> connector(Recorder& r, uint16_t port) {
    return make(r, LinkRole::kConnect, "Alice", port);
  }
  std::unique_ptr<transport::EventLoop> loop_;
};

Message request(uint32_t id) {
  Message m;
  m.header = {id, 3, MsgType::kClientRequest};
  m.msg_id = 0;
  m.body = {0x9f, 0x03, 0x0a, 0xff};
  return m;
}

TEST(LinkParameters, NetworkSocketAndBeyond) {
  SockAddr a;
  std::string err;
  ASSERT_TRUE(parse_link_parameters("192.168.3.2 54323", a, &err)) << err;
  EXPECT_EQ(a.to_string(), "192.168.3.2:54323");
  ASSERT_TRUE(parse_link_parameters("::1 54323", a, &err)) << err;
  EXPECT_EQ(a.family(), AF_INET6);
  ASSERT_TRUE(parse_link_parameters("unix /run/legato.sock", a, &err)) << err;
  EXPECT_TRUE(a.is_unix());
  EXPECT_FALSE(parse_link_parameters("192.168.3.2", a, &err));
  EXPECT_FALSE(parse_link_parameters("192.168.3.2 70000", a, &err));
  EXPECT_FALSE(parse_link_parameters("bob.example 54323", a, &err));
  EXPECT_FALSE(parse_link_parameters("1.2.3.4 5 6", a, &err));
}

TEST_F(LinkTest, ComesUpCarriesMessagesAndKeepsAlive) {
  Recorder ra, rb;
  auto a = listener(ra);
  auto b = connector(rb, a->local_address().port());
  ASSERT_TRUE(
      run_until([&] { return a->state() == LinkState::kUp && b->state() == LinkState::kUp; }));
  EXPECT_EQ(b->next_id(), 2u);  // Legato's first id
  ASSERT_TRUE(b->send(request(7)));
  ASSERT_TRUE(run_until([&] { return !ra.got.empty(); }));
  EXPECT_EQ(ra.got[0].header.id, 7u);
  EXPECT_EQ(ra.got[0].body, request(7).body);
  Message resp = request(7);
  resp.header.type = MsgType::kServerResponse;
  ASSERT_TRUE(a->send(resp));
  ASSERT_TRUE(run_until([&] { return !rb.got.empty(); }));
  EXPECT_EQ(rb.got[0].header.type, MsgType::kServerResponse);
  // Ten keep-alive periods: answered, and nobody goes down.
  run_for(1000ms);
  EXPECT_EQ(a->state(), LinkState::kUp);
  EXPECT_EQ(b->state(), LinkState::kUp);
  EXPECT_GE(a->stats().keepalives_answered + b->stats().keepalives_answered, 5u);
  // Every answer counted on one side was echoed (and counted) on the other first; one more may
  // be on its way back.
  EXPECT_GE(a->stats().keepalives_received, b->stats().keepalives_answered);
  EXPECT_GE(b->stats().keepalives_received, a->stats().keepalives_answered);
  EXPECT_LE(a->stats().keepalives_received, b->stats().keepalives_answered + 1);
  EXPECT_LE(b->stats().keepalives_received, a->stats().keepalives_answered + 1);
  EXPECT_TRUE(ra.downs.empty());
  EXPECT_TRUE(rb.downs.empty());
}

// A TCP peer run on its own thread: accepts one connection, optionally writes `greeting`, then
// reads (and ignores) until the connection closes or `hold` passes.
class RawPeer {
 public:
  RawPeer(std::vector<uint8_t> greeting, std::chrono::milliseconds hold) {
    SockAddr addr = SockAddr::loopback4(0);
    transport::IoError e;
    fd_ = transport::listen_stream(addr, {}, e);
    port_ = addr.port();
    thread_ = std::thread([this, greeting, hold] {
      const auto end = std::chrono::steady_clock::now() + hold;
      while (std::chrono::steady_clock::now() < end && !done_) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK);
        if (c < 0) {
          std::this_thread::sleep_for(5ms);
          continue;
        }
        ++accepted_;
        if (!greeting.empty()) (void)::send(c, greeting.data(), greeting.size(), MSG_NOSIGNAL);
        char buf[4096];
        while (std::chrono::steady_clock::now() < end && !done_) {
          const ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n == 0) break;
          if (n < 0) std::this_thread::sleep_for(5ms);
        }
        ::close(c);
      }
    });
  }
  ~RawPeer() {
    done_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(LinkTest, SilentPeerTimesOutAndTheLinkComesBack) {
  RawPeer peer({}, 3000ms);
  Recorder r;
  auto b = connector(r, peer.port());
  ASSERT_TRUE(run_until([&] { return !r.downs.empty(); }));
  EXPECT_NE(r.downs[0].find("no KEEPALIVE_RESPONSE"), std::string::npos) << r.downs[0];
  // The connecting side tries again by itself.
  ASSERT_TRUE(run_until([&] { return r.ups >= 2; }));
  // (The kernel completes the connection before the peer's thread accepts it.)
  EXPECT_TRUE(run_until([&] { return peer.accepted() >= 2; }));
  b->stop();
}

TEST_F(LinkTest, GarbageTakesTheLinkDown) {
  RawPeer peer({0, 0, 0, 1, 0, 0, 0, 0, 11}, 3000ms);  // message type 11
  Recorder r;
  auto b = connector(r, peer.port());
  ASSERT_TRUE(run_until([&] { return !r.downs.empty(); }));
  EXPECT_NE(r.downs[0].find("message type 11"), std::string::npos) << r.downs[0];
  b->stop();
}

TEST_F(LinkTest, HandlerErrorTakesTheLinkDownAndItReconnects) {
  Recorder ra, rb;
  ra.refuse = true;
  auto a = listener(ra);
  auto b = connector(rb, a->local_address().port());
  ASSERT_TRUE(run_until([&] { return b->state() == LinkState::kUp; }));
  ASSERT_TRUE(b->send(request(9)));
  ASSERT_TRUE(run_until([&] { return !ra.downs.empty(); }));
  EXPECT_EQ(ra.downs[0], "refused by the test");
  ra.refuse = false;
  ASSERT_TRUE(run_until([&] { return rb.ups >= 2 && b->state() == LinkState::kUp; }));
}

TEST_F(LinkTest, OnePeerAtATime) {
  Recorder ra, rb;
  auto a = listener(ra);
  auto b = connector(rb, a->local_address().port());
  ASSERT_TRUE(run_until([&] { return a->state() == LinkState::kUp; }));
  const int intruder = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const SockAddr to = a->local_address();
  (void)::connect(intruder, to.get(), to.len());
  bool closed = false;
  ASSERT_TRUE(run_until([&] {
    char c;
    const ssize_t n = ::recv(intruder, &c, 1, 0);
    closed = n == 0;
    return closed;
  }));
  ::close(intruder);
  EXPECT_EQ(a->state(), LinkState::kUp);
  EXPECT_EQ(ra.ups, 1);
}

TEST_F(LinkTest, ListenerGoneAndBack) {
  Recorder ra, rb;
  auto a = listener(ra);
  const uint16_t port = a->local_address().port();
  auto b = connector(rb, port);
  ASSERT_TRUE(run_until([&] { return b->state() == LinkState::kUp; }));
  a->stop();
  ASSERT_TRUE(run_until([&] { return !rb.downs.empty(); }));
  EXPECT_EQ(b->state(), LinkState::kDown);
  Recorder ra2;
  auto a2 = listener(ra2, port);
  ASSERT_TRUE(run_until([&] { return b->state() == LinkState::kUp && rb.ups == 2; }));
  EXPECT_EQ(a2->state(), LinkState::kUp);
}

}  // namespace
}  // namespace ringrpc::legato
