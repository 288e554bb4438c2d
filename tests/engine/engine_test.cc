// The engine end to end over loopback sockets, with both event-loop backends: typed clients over
// TCP, UDP and Unix sockets against a server on two shards; every way a handler answers
// (directly, deferred to another thread, on the offload pool, failing); and, with a raw socket,
// the wire cases a client library would never produce: RPC version 3, unknown auth flavors,
// records split byte by byte and into many fragments, pipelined calls, oversized records and
// garbage, each time checking that the server goes on serving everybody else.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "codec/rpc_msg.h"
#include "engine/client.h"
#include "engine/server.h"
#include "engine_test.h"

namespace {

using namespace std::chrono_literals;
using engine_test::ENGINE_TEST_V1_Client;
using engine_test::ENGINE_TEST_V1_Proto;
using ringrpc::Errc;
using ringrpc::transport::Backend;
using ringrpc::transport::SockAddr;

constexpr uint32_t kProg = ENGINE_TEST_V1_Proto::program;

class V1 final : public engine_test::ENGINE_TEST_V1_Service {
 public:
  V1() { set_blocking(ENGINE_TEST_V1_Proto::BLOCKING_t::number); }
  ~V1() override { release(); }

  void SQUARE(ringrpc::Call&, const int32_t& x, int32_t& r) override { r = x * x; }
  void ECHO(ringrpc::Call&, const std::span<const uint8_t>& in, engine_test::blob& out) override {
    out.assign(in.begin(), in.end());
  }
  void DEFERRED(ringrpc::Call& call, const int32_t& x, int32_t&) override {
    // Answered from a thread that is not the shard's, after the handler has returned.
    std::thread([h = call.defer(), x]() mutable {
      std::this_thread::sleep_for(1ms);
      h.send<ENGINE_TEST_V1_Proto::DEFERRED_t::result>(x + 1);
    }).detach();
  }
  void BLOCKING(ringrpc::Call&, const int32_t& x, int32_t& r) override {
    std::this_thread::sleep_for(2ms);  // a shard must never do this; the offload pool may
    r = -x;
    blocking_threads_ += 1;
  }
  void REFUSE(ringrpc::Call& call, const int32_t& stat, int32_t&) override {
    call.fail(static_cast<ringrpc::rpc::accept_stat>(stat));
  }
  void HOLD(ringrpc::Call& call) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(call.defer());
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& h : held_) h.send<ringrpc::xdr::VoidCodec>({});
    held_.clear();
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  std::atomic<int> blocking_threads_{0};

 private:
  std::mutex mu_;
  std::vector<ringrpc::ReplyHandle> held_;
};

class V3 final : public engine_test::ENGINE_TEST_V3_Service {
 public:
  void SQUARE(ringrpc::Call&, const int32_t& x, int32_t& r) override { r = 3 * x; }
};

// Procedures the .x does not have, to call with a typed channel: 9 (absent) and SQUARE without
// its argument.
struct P9 {
  static constexpr uint32_t number = 9;
  using arg = ringrpc::xdr::VoidCodec;
  using result = ringrpc::xdr::VoidCodec;
};
struct Null {
  static constexpr uint32_t number = 0;
  using arg = ringrpc::xdr::VoidCodec;
  using result = ringrpc::xdr::VoidCodec;
};
struct Square0 {
  static constexpr uint32_t number = 1;
  using arg = ringrpc::xdr::VoidCodec;
  using result = ringrpc::xdr::VoidCodec;
};

class EngineTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ringrpc::ServerOptions o;
    o.shards = 2;
    o.loop.backend = GetParam();
    o.max_record = 1 << 20;
    o.log = false;
    server_ = std::make_unique<ringrpc::Server>(o);
    server_->add_service(v1_);
    server_->add_service(v3_);
    server_->listen_tcp(SockAddr::loopback4(0));
    server_->listen_udp(SockAddr::loopback4(0));
    unix_path_ = "/tmp/ringrpc-engine-test-" + std::to_string(getpid()) + ".sock";
    server_->listen_unix(unix_path_);
    shm_path_ = "/tmp/ringrpc-engine-test-" + std::to_string(getpid()) + ".shm";
    server_->listen_shm(shm_path_);
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << error;
    ringrpc::transport::LoopOptions lo;
    lo.backend = GetParam();
    runtime_ = std::make_unique<ringrpc::ClientRuntime>(lo);
  }
  void TearDown() override {
    v1_.release();
    runtime_.reset();
    server_.reset();
  }

  std::shared_ptr<ringrpc::Channel> channel(ringrpc::TransportKind t, uint32_t vers = 1) {
    ringrpc::ChannelOptions o;
    o.transport = t;
    o.program = kProg;
    o.version = vers;
    o.timeout = 5s;
    o.udp_retry = 200ms;
    if (t == ringrpc::TransportKind::kUnix) {
      EXPECT_TRUE(SockAddr::unix_path(unix_path_, o.address));
    } else if (t == ringrpc::TransportKind::kShm) {
      EXPECT_TRUE(SockAddr::unix_path(shm_path_, o.address));
    } else {
      o.address = SockAddr::loopback4(t == ringrpc::TransportKind::kUdp ? server_->udp_port()
                                                                        : server_->tcp_port());
    }
    return ringrpc::Channel::create(runtime_->loop(), o);
  }

  V1 v1_;
  V3 v3_;
  std::string unix_path_;
  std::string shm_path_;
  std::unique_ptr<ringrpc::Server> server_;
  std::unique_ptr<ringrpc::ClientRuntime> runtime_;
};

TEST_P(EngineTest, TypedCallsOverEveryTransport) {
  for (auto t : {ringrpc::TransportKind::kTcp, ringrpc::TransportKind::kUdp,
                 ringrpc::TransportKind::kUnix, ringrpc::TransportKind::kShm}) {
    SCOPED_TRACE(ringrpc::to_string(t));
    ENGINE_TEST_V1_Client c(channel(t));
    auto r = c.SQUARE(12);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r.value(), 144);
    engine_test::blob b(3000, 0x5a);
    auto e = c.ECHO(b);
    ASSERT_TRUE(e.ok()) << e.error().to_string();
    EXPECT_EQ(e.value(), b);
    auto n = c.channel().call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(-3);
    EXPECT_EQ(n.value(), 9);
  }
}

// The stream transports: what holds over TCP holds over shared memory.
constexpr ringrpc::TransportKind kStreams[] = {ringrpc::TransportKind::kTcp,
                                               ringrpc::TransportKind::kShm};

TEST_P(EngineTest, ManyCallsInFlightOnOneConnectionAreMatchedByXid) {
  for (auto t : kStreams) {
    SCOPED_TRACE(ringrpc::to_string(t));
    auto ch = channel(t);
    ENGINE_TEST_V1_Client c(ch);
    std::vector<std::future<ringrpc::Result<int32_t>>> fs;
    for (int i = 0; i < 500; ++i) {
      fs.push_back(i % 3 == 0 ? c.DEFERRED_async(i) : c.SQUARE_async(i));
    }
    for (int i = 0; i < 500; ++i) {
      auto r = fs[static_cast<size_t>(i)].get();
      ASSERT_TRUE(r.ok()) << i << ": " << r.error().to_string();
      EXPECT_EQ(r.value(), i % 3 == 0 ? i + 1 : i * i);
    }
  }
}

TEST_P(EngineTest, BlockingHandlersRunOnTheOffloadPool) {
  int expected = 0;
  for (auto t : kStreams) {
    SCOPED_TRACE(ringrpc::to_string(t));
    ENGINE_TEST_V1_Client c(channel(t));
    std::vector<std::future<ringrpc::Result<int32_t>>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(c.BLOCKING_async(i));
    // While they sleep, the shard still answers at once.
    EXPECT_EQ(c.SQUARE(5).value(), 25);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(fs[static_cast<size_t>(i)].get().value(), -i);
    expected += 20;
    EXPECT_EQ(v1_.blocking_threads_.load(), expected);
    EXPECT_EQ(server_->stats().offloaded, static_cast<uint64_t>(expected));
  }
}

TEST_P(EngineTest, ServerVerdictsReachTheCaller) {
  for (auto t : kStreams) {
    SCOPED_TRACE(ringrpc::to_string(t));
    ENGINE_TEST_V1_Client c(channel(t));
    EXPECT_EQ(c.REFUSE(static_cast<int32_t>(ringrpc::rpc::accept_stat::SYSTEM_ERR)).error().code,
              Errc::kSystemErr);
    EXPECT_EQ(channel(t, 2)->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(2).error().code,
              Errc::kProgMismatch);
    EXPECT_EQ(channel(t, 3)->call_sync<P9>({}).error().code, Errc::kProcUnavail);
    EXPECT_EQ(channel(t)->call_sync<Square0>({}).error().code, Errc::kGarbageArgs);
  }
  ENGINE_TEST_V1_Client c(channel(ringrpc::TransportKind::kTcp));
  EXPECT_EQ(c.REFUSE(static_cast<int32_t>(ringrpc::rpc::accept_stat::SYSTEM_ERR)).error().code,
            Errc::kSystemErr);
  EXPECT_EQ(c.REFUSE(static_cast<int32_t>(ringrpc::rpc::accept_stat::GARBAGE_ARGS)).error().code,
            Errc::kGarbageArgs);
  // Version 2 does not exist: PROG_MISMATCH with the range the server has.
  auto v2 = channel(ringrpc::TransportKind::kTcp, 2)->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(2);
  EXPECT_EQ(v2.error().code, Errc::kProgMismatch);
  EXPECT_EQ(v2.error().mismatch.low, 1u);
  EXPECT_EQ(v2.error().mismatch.high, 3u);
  EXPECT_EQ(v2.error().to_string(),
            "RPC: Program/version mismatch; low version = 1, high version = 3");
  auto v3 = channel(ringrpc::TransportKind::kTcp, 3)
                ->call_sync<engine_test::ENGINE_TEST_V3_Proto::SQUARE_t>(2);
  EXPECT_EQ(v3.value(), 6);
  // Procedure 9 of version 3 does not exist.
  EXPECT_EQ(channel(ringrpc::TransportKind::kTcp, 3)->call_sync<P9>({}).error().code,
            Errc::kProcUnavail);
  ringrpc::ChannelOptions o;
  o.program = kProg + 1;
  o.version = 1;
  o.address = SockAddr::loopback4(server_->tcp_port());
  EXPECT_EQ(ringrpc::Channel::create(runtime_->loop(), o)->call_sync<P9>({}).error().code,
            Errc::kProgUnavail);
  // Arguments that do not decode: SQUARE takes an int, send nothing.
  EXPECT_EQ(channel(ringrpc::TransportKind::kUdp)->call_sync<Square0>({}).error().code,
            Errc::kGarbageArgs);
}

TEST_P(EngineTest, DeadlinesFireAndAbandonedHandlesAnswerSystemErr) {
  for (auto t : kStreams) {
    SCOPED_TRACE(ringrpc::to_string(t));
    ENGINE_TEST_V1_Client c(channel(t));
    ringrpc::CallOptions quick;
    quick.timeout = 100ms;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.HOLD(quick);
    EXPECT_EQ(r.error().code, Errc::kTimedOut);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // The server still holds it; a second call waits for release().
    auto f = c.HOLD_async();
    for (int i = 0; i < 200 && v1_.held() < 2; ++i) std::this_thread::sleep_for(5ms);
    v1_.release();
    EXPECT_TRUE(f.get().ok());
  }
}

TEST_P(EngineTest, ConnectionRefusedIsReported) {
  ringrpc::ChannelOptions o;
  o.program = kProg;
  o.version = 1;
  o.address = SockAddr::loopback4(1);  // nothing listens on port 1
  auto r =
      ringrpc::Channel::create(runtime_->loop(), o)->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(1);
  EXPECT_EQ(r.error().code, Errc::kRefused) << r.error().to_string();
}

// --- raw socket -------------------------------------------------------------------------------

std::vector<uint8_t> call_bytes(uint32_t xid, uint32_t rpcvers, uint32_t prog, uint32_t vers,
                                uint32_t proc, uint32_t flavor, std::vector<uint8_t> args,
                                bool record_mark = true) {
  ringrpc::BufferPool pool;
  ringrpc::xdr::OutMessage m;
  ringrpc::xdr::EncodeOptions o;
  o.record_mark = record_mark;
  ringrpc::xdr::XdrWriter w(pool, m, o);
  ringrpc::rpc::CallHeader h;
  h.xid = xid;
  h.rpcvers = rpcvers;
  h.prog = prog;
  h.vers = vers;
  h.proc = proc;
  h.cred.flavor = flavor;
  EXPECT_TRUE(ringrpc::rpc::encode_call_header(w, h));
  w.put_bytes(args.data(), args.size());
  EXPECT_TRUE(w.finish());
  return m.flatten();
}

std::vector<uint8_t> be32(std::initializer_list<uint32_t> v) {
  std::vector<uint8_t> out;
  for (uint32_t x : v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(x >> s));
  }
  return out;
}

class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const SockAddr a = SockAddr::loopback4(port);
    EXPECT_EQ(::connect(fd_, a.get(), a.len()), 0);
  }
  ~RawConn() { ::close(fd_); }
  void send(const std::vector<uint8_t>& b) {
    EXPECT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }
  // One reply record (fragments joined), or empty on close/timeout.
  std::vector<uint8_t> record(int timeout_ms = 3000) {
    std::vector<uint8_t> rec;
    for (;;) {
      uint8_t hdr[4];
      if (!read_n(hdr, 4, timeout_ms)) return {};
      const uint32_t h = (uint32_t{hdr[0]} << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3];
      const size_t len = h & 0x7fffffff;
      const size_t at = rec.size();
      rec.resize(at + len);
      if (!read_n(rec.data() + at, len, timeout_ms)) return {};
      if (h & 0x80000000u) return rec;
    }
  }
  // True when the server closed the connection (EOF) within the timeout.
  bool closed_by_peer(int timeout_ms = 3000) {
    uint8_t b;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    return ::recv(fd_, &b, 1, 0) <= 0;
  }
  int fd() const { return fd_; }

 private:
  bool read_n(uint8_t* p, size_t n, int timeout_ms) {
    while (n > 0) {
      pollfd pf{fd_, POLLIN, 0};
      if (poll(&pf, 1, timeout_ms) != 1) return false;
      const ssize_t r = ::recv(fd_, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_;
};

ringrpc::rpc::ReplyHeader parse_reply(const std::vector<uint8_t>& rec, uint32_t* result = nullptr) {
  ringrpc::xdr::XdrReader r(rec);
  ringrpc::rpc::ReplyHeader h;
  EXPECT_TRUE(ringrpc::rpc::decode_reply_header(r, h)) << rec.size();
  if (result != nullptr) r.get_u32(*result);
  return h;
}

TEST_P(EngineTest, WireErrorRepliesFollowTheDocumentedChoices) {
  RawConn c(server_->tcp_port());
  // rpcvers 3: MSG_DENIED / RPC_MISMATCH (2, 2). libtirpc closes the connection instead.
  c.send(call_bytes(1, 3, kProg, 1, 1, 0, be32({5})));
  auto h = parse_reply(c.record());
  EXPECT_EQ(h.xid, 1u);
  EXPECT_EQ(h.stat, ringrpc::rpc::reply_stat::MSG_DENIED);
  EXPECT_EQ(h.rstat, ringrpc::rpc::reject_stat::RPC_MISMATCH);
  EXPECT_EQ(h.mismatch.low, 2u);
  EXPECT_EQ(h.mismatch.high, 2u);
  // Unknown auth flavor 99: AUTH_ERROR / AUTH_REJECTEDCRED, as libtirpc answers.
  c.send(call_bytes(2, 2, kProg, 1, 1, 99, be32({5})));
  h = parse_reply(c.record());
  EXPECT_EQ(h.rstat, ringrpc::rpc::reject_stat::AUTH_ERROR);
  EXPECT_EQ(h.why, ringrpc::rpc::auth_stat::AUTH_REJECTEDCRED);
  // AUTH_SYS whose body is not an authsys_parms: AUTH_BADCRED.
  {
    std::vector<uint8_t> bad = be32({3, 0, 2, kProg, 1, 1, 1, 4, 0xdeadbeef, 0, 0});
    std::vector<uint8_t> rec = be32({0x80000000u | static_cast<uint32_t>(bad.size() + 4)});
    rec.insert(rec.end(), bad.begin(), bad.end());
    auto arg = be32({5});
    rec.insert(rec.end(), arg.begin(), arg.end());
    c.send(rec);
    h = parse_reply(c.record());
    EXPECT_EQ(h.xid, 3u);
    EXPECT_EQ(h.why, ringrpc::rpc::auth_stat::AUTH_BADCRED);
  }
  // Trailing bytes after the arguments: strict mode says GARBAGE_ARGS (libtirpc accepts).
  c.send(call_bytes(4, 2, kProg, 1, 1, 0, be32({5, 6})));
  h = parse_reply(c.record());
  EXPECT_EQ(h.astat, ringrpc::rpc::accept_stat::GARBAGE_ARGS);
  // A declared length far beyond the bytes present: GARBAGE_ARGS, cheaply.
  c.send(call_bytes(5, 2, kProg, 1, 2, 0, be32({0x7fffffff, 1})));
  h = parse_reply(c.record());
  EXPECT_EQ(h.astat, ringrpc::rpc::accept_stat::GARBAGE_ARGS);
  // NULL with AUTH_SYS credentials: SUCCESS, empty.
  c.send(call_bytes(6, 2, kProg, 1, 0, 0, {}));
  h = parse_reply(c.record());
  EXPECT_EQ(h.astat, ringrpc::rpc::accept_stat::SUCCESS);
  // Still serving on the same connection.
  c.send(call_bytes(7, 2, kProg, 1, 1, 0, be32({9})));
  uint32_t v = 0;
  h = parse_reply(c.record(), &v);
  EXPECT_EQ(v, 81u);
}

TEST_P(EngineTest, RecordsInAnyChunkingAndFragmentation) {
  RawConn c(server_->tcp_port());
  // Byte by byte.
  for (uint8_t b : call_bytes(10, 2, kProg, 1, 1, 0, be32({4}))) {
    c.send({b});
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  uint32_t v = 0;
  parse_reply(c.record(), &v);
  EXPECT_EQ(v, 16u);
  // One call as many fragments, including zero-length ones (the RFC allows them).
  std::vector<uint8_t> body = call_bytes(11, 2, kProg, 1, 1, 0, be32({6}), false);
  std::vector<uint8_t> frags = be32({0});  // zero-length, not last
  for (size_t i = 0; i < body.size(); i += 7) {
    const size_t n = std::min<size_t>(7, body.size() - i);
    const bool last = i + n == body.size();
    auto hdr = be32({(last ? 0x80000000u : 0u) | static_cast<uint32_t>(n)});
    frags.insert(frags.end(), hdr.begin(), hdr.end());
    frags.insert(frags.end(), body.begin() + static_cast<long>(i),
                 body.begin() + static_cast<long>(i + n));
  }
  c.send(frags);
  parse_reply(c.record(), &v);
  EXPECT_EQ(v, 36u);
  // 50 calls in one write, answered in order.
  std::vector<uint8_t> many;
  for (uint32_t i = 0; i < 50; ++i) {
    auto one = call_bytes(100 + i, 2, kProg, 1, 1, 0, be32({i}));
    many.insert(many.end(), one.begin(), one.end());
  }
  c.send(many);
  for (uint32_t i = 0; i < 50; ++i) {
    auto h = parse_reply(c.record(), &v);
    EXPECT_EQ(h.xid, 100 + i);
    EXPECT_EQ(v, i * i);
  }
}

TEST_P(EngineTest, HostileStreamsAreClosedAndOthersKeepBeingServed) {
  ENGINE_TEST_V1_Client good(channel(ringrpc::TransportKind::kTcp));
  EXPECT_EQ(good.SQUARE(2).value(), 4);
  const uint16_t port = server_->tcp_port();
  {
    RawConn c(port);  // a record over max_record (1 MiB here)
    c.send(be32({0x80000000u | (8u << 20)}));
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    RawConn c(port);  // HTTP on an RPC port: "GET " read as a fragment header
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(std::vector<uint8_t>(http.begin(), http.end()));
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    RawConn c(port);  // a complete record that is not an RPC call
    c.send(be32({0x80000004u, 7}));
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    RawConn c(port);  // half-closed: the answer still comes, then the server closes
    c.send(call_bytes(20, 2, kProg, 1, 1, 0, be32({7})));
    ::shutdown(c.fd(), SHUT_WR);
    uint32_t v = 0;
    parse_reply(c.record(), &v);
    EXPECT_EQ(v, 49u);
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // A client that sends and never reads: the server stops reading it once its replies pile
    // up, so the client's writes stall; everybody else is still served. How much the client
    // gets out before the stall depends on kernel buffers (the server's receive buffer
    // autotunes up to tcp_rmem's 32 MiB on these machines), so the test sends more than any of
    // them hold and checks the stall, then that the server decodes nothing more.
    RawConn c(port);
    const std::vector<uint8_t> payload(60000, 1);
    std::vector<uint8_t> args = be32({static_cast<uint32_t>(payload.size())});
    args.insert(args.end(), payload.begin(), payload.end());
    const std::vector<uint8_t> one = call_bytes(30, 2, kProg, 1, 2, 0, args);
    size_t sent = 0;
    const size_t want = 2000 * one.size();  // 120 MB
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    auto progress_at = std::chrono::steady_clock::now();
    bool stalled = false;
    while (sent < want && std::chrono::steady_clock::now() < deadline) {
      const size_t off = sent % one.size();
      const ssize_t n =
          ::send(c.fd(), one.data() + off, one.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        progress_at = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - progress_at > 500ms) {
        stalled = true;
        break;
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
    EXPECT_TRUE(stalled) << "the server kept reading from a client that never reads (" << sent
                         << " bytes sent)";
    const uint64_t decoded = server_->stats().calls;
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(server_->stats().calls, decoded)
        << "the server still decodes calls from a client that never reads";
    EXPECT_EQ(good.SQUARE(3).value(), 9);
  }
  EXPECT_EQ(good.SQUARE(4).value(), 16);
  EXPECT_GE(server_->stats().malformed, 3u);
}

TEST_P(EngineTest, UdpErrorsAndOversizedDatagrams) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const SockAddr to = SockAddr::loopback4(server_->udp_port());
  auto exchange = [&](const std::vector<uint8_t>& d) {
    EXPECT_EQ(sendto(fd, d.data(), d.size(), 0, to.get(), to.len()),
              static_cast<ssize_t>(d.size()));
    std::vector<uint8_t> buf(70000);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 3000) != 1) return std::vector<uint8_t>();
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  };
  uint32_t v = 0;
  parse_reply(exchange(call_bytes(1, 2, kProg, 1, 1, 0, be32({8}), false)), &v);
  EXPECT_EQ(v, 64u);
  auto h = parse_reply(exchange(call_bytes(2, 2, kProg + 5, 1, 1, 0, {}, false)));
  EXPECT_EQ(h.astat, ringrpc::rpc::accept_stat::PROG_UNAVAIL);
  // Over udp_max_message (65000): GARBAGE_ARGS, as libtirpc answers past its 8800-byte limit.
  std::vector<uint8_t> big = be32({65100});
  big.resize(big.size() + 65100, 7);
  h = parse_reply(exchange(call_bytes(3, 2, kProg, 1, 2, 0, big, false)));
  EXPECT_EQ(h.astat, ringrpc::rpc::accept_stat::GARBAGE_ARGS);
  ::close(fd);
}

TEST_P(EngineTest, GracefulStopAnswersCallsInFlight) {
  ENGINE_TEST_V1_Client c(channel(ringrpc::TransportKind::kTcp));
  ENGINE_TEST_V1_Client m(channel(ringrpc::TransportKind::kShm));
  std::vector<std::future<ringrpc::Result<int32_t>>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back((i % 2 ? c : m).BLOCKING_async(i));
  while (server_->stats().offloaded < 10) std::this_thread::sleep_for(1ms);
  server_->stop();
  server_->wait();
  for (int i = 0; i < 10; ++i) {
    auto r = fs[static_cast<size_t>(i)].get();
    EXPECT_TRUE(r.ok()) << i << ": " << r.error().to_string();
  }
  // Then the connections are closed: new calls over shared memory fail, and say so.
  auto after = m.SQUARE(2);
  EXPECT_FALSE(after.ok());
}

// A server with non-default options, for the tests below.
struct OwnServer {
  explicit OwnServer(ringrpc::ServerOptions o, ringrpc::AuthCheck check = nullptr) {
    o.shards = 1;
    o.log = false;
    server = std::make_unique<ringrpc::Server>(o);
    server->add_service(v1);
    if (check) server->set_auth_check(std::move(check));
    server->listen_tcp(SockAddr::loopback4(0));
    server->listen_udp(SockAddr::loopback4(0));
    std::string error;
    EXPECT_TRUE(server->start(&error)) << error;
  }
  V1 v1;
  std::unique_ptr<ringrpc::Server> server;
};

TEST(EngineOptions, UdpDuplicateRequestCacheAnswersRetransmissionsOnce) {
  ringrpc::ServerOptions o;
  o.udp_drc_entries = 4;
  OwnServer s(o);
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const SockAddr to = SockAddr::loopback4(s.server->udp_port());
  auto exchange = [&](const std::vector<uint8_t>& d) {
    sendto(fd, d.data(), d.size(), 0, to.get(), to.len());
    std::vector<uint8_t> buf(2000);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 3000) != 1) return std::vector<uint8_t>();
    buf.resize(static_cast<size_t>(std::max<ssize_t>(0, recv(fd, buf.data(), buf.size(), 0))));
    return buf;
  };
  const auto call = call_bytes(77, 2, kProg, 1, 1, 0, be32({12}), false);
  const auto first = exchange(call);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(exchange(call), first);  // a retransmission: the cached reply
  EXPECT_EQ(s.server->stats().drc_hits, 1u);
  EXPECT_EQ(s.server->stats().replies, 1u);  // the procedure ran once
  // Five other calls push xid 77 out of a 4-entry cache: then it runs again.
  for (uint32_t x = 1; x <= 5; ++x) exchange(call_bytes(x, 2, kProg, 1, 1, 0, be32({x}), false));
  EXPECT_EQ(exchange(call), first);
  EXPECT_EQ(s.server->stats().replies, 7u);
  ::close(fd);
}

TEST(EngineOptions, AuthHookSeesAuthSysAndItsVerdictIsSent) {
  OwnServer s({}, [](const ringrpc::AuthRequest& r) {
    if (r.auth_sys == nullptr) return ringrpc::rpc::auth_stat::AUTH_TOOWEAK;
    return r.auth_sys->uid == 4242 ? ringrpc::rpc::auth_stat::AUTH_OK
                                   : ringrpc::rpc::auth_stat::AUTH_BADCRED;
  });
  ringrpc::ChannelOptions o;
  o.program = kProg;
  o.version = 1;
  o.address = SockAddr::loopback4(s.server->tcp_port());
  ringrpc::ClientRuntime rt;
  auto none = ringrpc::Channel::create(rt.loop(), o);
  auto r = none->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(3);
  EXPECT_EQ(r.error().code, Errc::kAuthError);
  EXPECT_EQ(r.error().auth, ringrpc::rpc::auth_stat::AUTH_TOOWEAK);
  EXPECT_EQ(r.error().to_string(), "RPC: Authentication error; why = Client credential too weak");
  // NULL needs no authentication.
  EXPECT_TRUE(none->call_sync<Null>({}).ok());
  o.credentials = ringrpc::Credentials::sys("client", 4242, 100, {1, 2, 3});
  EXPECT_EQ(
      ringrpc::Channel::create(rt.loop(), o)->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(3).value(),
      9);
  o.credentials = ringrpc::Credentials::sys("client", 7, 100);
  EXPECT_EQ(ringrpc::Channel::create(rt.loop(), o)
                ->call_sync<ENGINE_TEST_V1_Proto::SQUARE_t>(3)
                .error()
                .auth,
            ringrpc::rpc::auth_stat::AUTH_BADCRED);
}

TEST(EngineOptions, IdleConnectionsAreClosed) {
  ringrpc::ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  OwnServer s(o);
  RawConn c(s.server->tcp_port());
  c.send(call_bytes(1, 2, kProg, 1, 1, 0, be32({2})));
  EXPECT_FALSE(c.record().empty());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer(3000));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
}

TEST(EngineOptions, ClientsReconnectAfterTheServerRestarts) {
  ringrpc::ServerOptions o;
  o.drain_timeout = std::chrono::milliseconds(0);
  auto s = std::make_unique<OwnServer>(o);
  const uint16_t port = s->server->tcp_port();
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions co;
  co.program = kProg;
  co.version = 1;
  co.address = SockAddr::loopback4(port);
  co.timeout = 2s;
  ENGINE_TEST_V1_Client c(ringrpc::Channel::create(rt.loop(), co));
  EXPECT_EQ(c.SQUARE(2).value(), 4);
  auto held = c.HOLD_async();  // in flight when the server goes away
  for (int i = 0; i < 200 && s->v1.held() == 0; ++i) std::this_thread::sleep_for(5ms);
  s->server->stop();
  s->server->wait();
  const auto r = held.get();
  EXPECT_FALSE(r.ok());  // reset, or SYSTEM_ERR from the abandoned handle: never a hang
  // Down: refused at once, not a timeout.
  EXPECT_EQ(c.SQUARE(2).error().code, Errc::kRefused);
  // Back on the same port: the channel connects again on the next call.
  ringrpc::Server again(ringrpc::ServerOptions{});
  V1 v1;
  again.add_service(v1);
  again.listen_tcp(SockAddr::loopback4(port));
  ASSERT_TRUE(again.start());
  EXPECT_EQ(c.SQUARE(5).value(), 25);
  s.reset();
}

TEST(EngineOptions, ZeroCopySendsDeliverLargeRepliesIntact) {
  ringrpc::ServerOptions o;
  o.loop.backend = Backend::kIoUring;
  o.loop.send_zc_threshold = 4096;  // every ECHO reply below goes out with SENDMSG_ZC
  o.max_record = 8 << 20;
  OwnServer s(o);
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions co;
  co.program = kProg;
  co.version = 1;
  co.address = SockAddr::loopback4(s.server->tcp_port());
  ENGINE_TEST_V1_Client c(ringrpc::Channel::create(rt.loop(), co));
  std::vector<std::future<ringrpc::Result<engine_test::blob>>> fs;
  std::vector<engine_test::blob> sent;
  for (int i = 0; i < 24; ++i) {
    engine_test::blob b(static_cast<size_t>(5000 + i * 40000));
    for (size_t j = 0; j < b.size(); ++j)
      b[j] = static_cast<uint8_t>(j * 31 + static_cast<size_t>(i));
    fs.push_back(c.ECHO_async(b));
    sent.push_back(std::move(b));
  }
  for (size_t i = 0; i < fs.size(); ++i) {
    auto r = fs[i].get();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_TRUE(r.value() == sent[i]) << i;
  }
  // The shard publishes its loop's counters every 100 ms, later on a loaded machine.
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (s.server->stats().zc_sends == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GE(s.server->stats().zc_sends, 1u);
}

TEST(EngineOptions, Ipv6Endpoints) {
  const int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const SockAddr lo6 = SockAddr::loopback6(0);
  const bool have_v6 = probe >= 0 && ::bind(probe, lo6.get(), lo6.len()) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  V1 v1;
  ringrpc::ServerOptions o;
  o.shards = 2;
  o.log = false;
  ringrpc::Server server(o);
  server.add_service(v1);
  server.listen_tcp(SockAddr::loopback6(0));
  server.listen_udp(SockAddr::loopback6(0));
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  ringrpc::ClientRuntime rt;
  for (auto t : {ringrpc::TransportKind::kTcp, ringrpc::TransportKind::kUdp}) {
    ringrpc::ChannelOptions co;
    co.transport = t;
    co.program = kProg;
    co.version = 1;
    co.address = SockAddr::loopback6(t == ringrpc::TransportKind::kTcp ? server.tcp_port()
                                                                       : server.udp_port());
    ENGINE_TEST_V1_Client c(ringrpc::Channel::create(rt.loop(), co));
    EXPECT_EQ(c.SQUARE(7).value(), 49) << ringrpc::to_string(t);
  }
}

TEST(EngineOptions, UdpCallsAreRetransmittedWithTheSameXid) {
  // A "server" that ignores the first datagram and answers the second: the client must resend
  // the same call (same xid) after udp_retry and take the answer.
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  SockAddr addr = SockAddr::loopback4(0);
  ASSERT_EQ(::bind(fd, addr.get(), addr.len()), 0);
  socklen_t len = SockAddr::capacity();
  getsockname(fd, addr.get_mut(), &len);
  addr.set_len(len);
  std::vector<uint32_t> xids;
  std::thread peer([&] {
    for (int i = 0; i < 2; ++i) {
      uint8_t buf[512];
      SockAddr from;
      socklen_t fl = SockAddr::capacity();
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return;
      const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, from.get_mut(), &fl);
      if (n < 4) return;
      from.set_len(fl);
      xids.push_back(ringrpc::xdr::load_be32(buf));
      if (i == 0) continue;  // lost
      ringrpc::BufferPool pool;
      ringrpc::xdr::OutMessage m;
      ringrpc::xdr::EncodeOptions eo;
      eo.record_mark = false;
      ringrpc::xdr::XdrWriter w(pool, m, eo);
      ringrpc::rpc::encode_accepted_reply(w, xids.back(), ringrpc::rpc::accept_stat::SUCCESS);
      w.put_i32(1234);
      w.finish();
      const auto b = m.flatten();
      sendto(fd, b.data(), b.size(), 0, from.get(), from.len());
    }
  });
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions co;
  co.transport = ringrpc::TransportKind::kUdp;
  co.program = kProg;
  co.version = 1;
  co.address = addr;
  co.udp_retry = 100ms;
  co.timeout = 3s;
  ENGINE_TEST_V1_Client c(ringrpc::Channel::create(rt.loop(), co));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.SQUARE(3).value(), 1234);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  peer.join();
  ASSERT_EQ(xids.size(), 2u);
  EXPECT_EQ(xids[0], xids[1]);
  ::close(fd);
}

TEST(EngineOptions, IdempotentCallsAreResentAfterTheConnectionBreaks) {
  ringrpc::ServerOptions o;
  o.max_record = 64 * 1024;
  OwnServer s(o);
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions co;
  co.program = kProg;
  co.version = 1;
  co.address = SockAddr::loopback4(s.server->tcp_port());
  co.timeout = 5s;
  ENGINE_TEST_V1_Client c(ringrpc::Channel::create(rt.loop(), co));
  ringrpc::CallOptions idempotent;
  idempotent.idempotent = true;
  auto held = c.HOLD_async(idempotent);  // deferred by the server: in flight
  auto plain = c.HOLD_async();           // the same, not idempotent
  for (int i = 0; i < 400 && s.v1.held() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(s.v1.held(), 2u);
  // A record over the server's max_record: it closes the connection.
  auto big = c.ECHO_async(engine_test::blob(100 * 1024, 1));
  EXPECT_EQ(big.get().error().code, Errc::kReset);
  EXPECT_EQ(plain.get().error().code, Errc::kReset);
  // The idempotent call went out again on a new connection and waits there.
  for (int i = 0; i < 400 && s.v1.held() < 3; ++i) std::this_thread::sleep_for(5ms);
  s.v1.release();
  auto r = held.get();
  EXPECT_TRUE(r.ok()) << r.error().to_string();
}

TEST(EngineOptions, MemoryBudgetPausesReadingAndServiceGoesOn) {
  ringrpc::ServerOptions o;
  o.memory_budget = 256 * 1024;  // far below what the load below brings in
  o.loop.recv_buffers = 8;
  OwnServer s(o);
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions co;
  co.program = kProg;
  co.version = 1;
  co.address = SockAddr::loopback4(s.server->tcp_port());
  co.timeout = 20s;
  std::vector<std::unique_ptr<ENGINE_TEST_V1_Client>> clients;
  std::vector<std::future<ringrpc::Result<engine_test::blob>>> fs;
  const engine_test::blob payload(200 * 1024, 9);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(
        std::make_unique<ENGINE_TEST_V1_Client>(ringrpc::Channel::create(rt.loop(), co)));
  }
  // Keep ~64 large calls in flight until the shard has had to pause (bounded in time).
  while (s.server->stats().read_pauses == 0 && std::chrono::steady_clock::now() < deadline) {
    for (auto& c : clients) fs.push_back(c->ECHO_async(payload));
    if (fs.size() > 64) {
      for (size_t i = 0; i + 64 < fs.size(); ++i) {
        auto r = fs[i].get();
        ASSERT_TRUE(r.ok()) << r.error().to_string();
      }
      fs.erase(fs.begin(), fs.end() - 64);
    }
  }
  EXPECT_GE(s.server->stats().read_pauses, 1u);
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r.value().size(), payload.size());
  }
  EXPECT_EQ(clients[0]->SQUARE(6).value(), 36);  // and it reads again
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest,
                         ::testing::Values(Backend::kIoUring, Backend::kEpoll),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(ringrpc::transport::to_string(i.param)) == "io_uring"
                                      ? std::string("io_uring")
                                      : std::string("epoll");
                         });

}  // namespace
