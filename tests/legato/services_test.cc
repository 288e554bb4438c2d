// Legato's connect-service handshake between two proxies on loopback ("Alice" listens, "Bob"
// connects): a want is connected when the peer offers the alias with the same protocol id, and
// refused with LE_FORMAT_ERROR, LE_UNAVAILABLE or LE_DUPLICATE otherwise (and asked again every
// resend period); data reaches the right side; a DISCONNECT_SERVICE starts the requests again;
// link down disconnects everything and link up brings it back.
#include <gtest/gtest.h>

#include <functional>

#include "engine/legato/services.h"
#include "tests/legato/run_until.h"

namespace ringrpc::legato {
namespace {

using namespace std::chrono_literals;
using transport::SockAddr;

struct Side : ServicesHandler {
  int connected = 0, disconnected = 0, opened = 0, closed = 0;
  int32_t open_result = kLeOk;
  std::vector<Message> data;
  void on_want_connected(Want&) override { ++connected; }
  void on_want_disconnected(Want&) override { ++disconnected; }
  int32_t open_offer(Offer&) override {
    ++opened;
    return open_result;
  }
  void on_offer_closed(Offer&) override { ++closed; }
  bool on_data(const DataMessage& d, Want* w, Offer* o, std::string*) override {
    Message m;
    m.header = d.header;
    m.msg_id = d.msg_id;
    m.body.assign(d.body.begin(), d.body.end());  // it lives only during the call
    m.service_name = w != nullptr   ? "want:" + w->local_alias
                     : o != nullptr ? "offer:" + o->alias
                                    : "none";
    data.push_back(m);
    return true;
  }
};

constexpr const char* kProto = "4a2b9c1d0e5f67a8b9c0d1e2f3a4b5c6";

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    loop_ = transport::EventLoop::create({}, &err);
    ASSERT_TRUE(loop_) << err;
    LinkOptions a;
    a.peer_name = "Bob";
    a.role = LinkRole::kListen;
    a.address = SockAddr::loopback4(0);
    a.timers.retry = 50ms;
    alice_ = std::make_unique<Services>(*loop_, a, alice_side_, 100ms);
    ASSERT_TRUE(alice_->start(&err)) << err;
    LinkOptions b;
    b.peer_name = "Alice";
    b.role = LinkRole::kConnect;
    b.address = alice_->link().local_address();
    b.timers.retry = 50ms;
    bob_ = std::make_unique<Services>(*loop_, b, bob_side_, 100ms);
  }
  void TearDown() override {
    alice_.reset();
    bob_.reset();
    loop_->drain(1s);
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
    return testing::run_until(*loop_, done, limit);
  }
  void connect_bob() {
    std::string err;
    ASSERT_TRUE(bob_->start(&err)) << err;
    ASSERT_TRUE(run_until([&] { return bob_->link().state() == LinkState::kUp; }));
  }

  std::unique_ptr<transport::EventLoop> loop_;
  Side alice_side_, bob_side_;
  std::unique_ptr<Services> alice_, bob_;
};

TEST_F(ServicesTest, HandshakeThenDataBothWays) {
  // Alice's bobServer is served on Bob, where it is called bobClient (the helloRpc sample).
  ASSERT_TRUE(alice_->add_want("bobServer", "bobClient", kProto));
  ASSERT_TRUE(bob_->add_offer("bobClient", kProto));
  EXPECT_FALSE(bob_->add_offer("bobClient", kProto));
  connect_bob();
  ASSERT_TRUE(run_until([&] { return alice_->want("bobServer")->connected; }));
  EXPECT_EQ(alice_side_.connected, 1);
  EXPECT_EQ(bob_side_.opened, 1);
  const Offer* o = bob_->offer("bobClient");
  ASSERT_TRUE(o->connected);
  EXPECT_EQ(o->service_id, alice_->want("bobServer")->service_id);  // the requester's choice

  Message req;
  req.header = {alice_->link().next_id(), o->service_id, MsgType::kClientRequest};
  req.body = {0x9f, 0x01, 0xff};
  ASSERT_TRUE(alice_->link().send(req));
  ASSERT_TRUE(run_until([&] { return !bob_side_.data.empty(); }));
  EXPECT_EQ(bob_side_.data[0].service_name, "offer:bobClient");
  Message resp = bob_side_.data[0];
  resp.header.type = MsgType::kServerResponse;
  ASSERT_TRUE(bob_->link().send(resp));
  ASSERT_TRUE(run_until([&] { return !alice_side_.data.empty(); }));
  EXPECT_EQ(alice_side_.data[0].service_name, "want:bobServer");
  EXPECT_EQ(alice_side_.data[0].header.id, req.header.id);
}

TEST_F(ServicesTest, RefusalsCarryLegatosCodesAndAreAskedAgain) {
  ASSERT_TRUE(alice_->add_want("wrongProto", "printer", "0000"));
  ASSERT_TRUE(alice_->add_want("missing", "noSuchService", kProto));
  ASSERT_TRUE(alice_->add_want("first", "bobClient", kProto));
  ASSERT_TRUE(bob_->add_offer("printer", kProto));
  ASSERT_TRUE(bob_->add_offer("bobClient", kProto));
  connect_bob();
  ASSERT_TRUE(run_until([&] {
    return alice_->want("wrongProto")->last_code == kLeFormatError &&
           alice_->want("missing")->last_code == kLeUnavailable && alice_->want("first")->connected;
  }));
  // A second binding to the same remote service while it is connected: LE_DUPLICATE.
  ASSERT_TRUE(alice_->add_want("second", "bobClient", kProto));
  ASSERT_TRUE(run_until([&] { return alice_->want("second")->last_code == kLeDuplicate; }));
  // Refused requests go again every resend period (100 ms here, 15 s in Legato).
  const uint64_t before = bob_->link().stats().messages_in;
  ASSERT_TRUE(run_until([&] { return bob_->link().stats().messages_in >= before + 6; }, 1000ms));
  EXPECT_FALSE(alice_->want("wrongProto")->connected);
  // Once the offer exists, the next resend connects it.
  ASSERT_TRUE(bob_->add_offer("noSuchService", kProto));
  ASSERT_TRUE(run_until([&] { return alice_->want("missing")->connected; }));
}

TEST_F(ServicesTest, OpenFailureIsTheServersCode) {
  bob_side_.open_result = -6;  // LE_TIMEOUT: the real server is not up yet
  ASSERT_TRUE(alice_->add_want("bobServer", "bobClient", kProto));
  ASSERT_TRUE(bob_->add_offer("bobClient", kProto));
  connect_bob();
  ASSERT_TRUE(run_until([&] { return alice_->want("bobServer")->last_code == -6; }));
  bob_side_.open_result = kLeOk;
  ASSERT_TRUE(run_until([&] { return alice_->want("bobServer")->connected; }));
  EXPECT_GE(bob_side_.opened, 2);
}

TEST_F(ServicesTest, DisconnectServiceAndLinkLoss) {
  ASSERT_TRUE(alice_->add_want("bobServer", "bobClient", kProto));
  ASSERT_TRUE(bob_->add_offer("bobClient", kProto));
  connect_bob();
  ASSERT_TRUE(run_until([&] { return alice_->want("bobServer")->connected; }));
  // Bob's real server goes away: Alice hears it, asks again, and Bob opens it again.
  bob_->close_offer("bobClient");
  EXPECT_EQ(bob_side_.closed, 1);
  ASSERT_TRUE(
      run_until([&] { return alice_side_.disconnected == 1 && alice_side_.connected == 2; }));
  EXPECT_EQ(bob_side_.opened, 2);
  // The link goes: everything is disconnected on both sides, and comes back with the link.
  bob_->stop();
  ASSERT_TRUE(run_until([&] { return alice_side_.disconnected == 2; }));
  EXPECT_FALSE(alice_->want("bobServer")->connected);
  std::string err;
  ASSERT_TRUE(bob_->start(&err)) << err;
  ASSERT_TRUE(run_until([&] { return alice_side_.connected == 3; }));
}

}  // namespace
}  // namespace ringrpc::legato
