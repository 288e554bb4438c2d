// The registry's parts: universal addresses, the table's rules (rpcbind's), the state file,
// liveness checks, and a RegistryServer on free ports answering well-formed and hostile
// requests. The comparison with stock rpcbind and rpcinfo is rpcinfo_parity.sh.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/client.h"
#include "engine/registration.h"
#include "engine/registry/registry.h"
#include "engine/registry/registry_server.h"
#include "engine/registry/uaddr.h"
#include "rpcb_prot.h"

namespace ringrpc::registry {
namespace {

namespace pb = ::ringrpc::rpcb;
using transport::SockAddr;

std::string temp_dir() {
  char tmpl[] = "/tmp/ringrpc-registry-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d != nullptr ? d : "/tmp";
}

// --- universal addresses -----------------------------------------------------------------------

TEST(Uaddr, Ipv4BothWays) {
  EXPECT_EQ(to_uaddr(SockAddr::ipv4(0x7f000001, 55540)), "127.0.0.1.216.244");
  std::optional<SockAddr> a = from_uaddr("127.0.0.1.216.244", AF_INET);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, SockAddr::ipv4(0x7f000001, 55540));
  EXPECT_EQ(uaddr_port("0.0.0.0.8.1"), 2049);
  EXPECT_EQ(wildcard_uaddr("tcp", 111), "0.0.0.0.0.111");
  EXPECT_EQ(wildcard_uaddr("udp6", 2049), "::.8.1");
}

TEST(Uaddr, Ipv6BothWays) {
  std::optional<SockAddr> a = from_uaddr("::1.0.111", AF_INET6);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, SockAddr::loopback6(111));
  EXPECT_EQ(to_uaddr(*a), "::1.0.111");
  std::optional<SockAddr> b = from_uaddr("fe80::1:2.3.4", AF_INET6);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port(), 3 * 256 + 4);
  EXPECT_EQ(to_uaddr(*b), "fe80::1:2.3.4");
  ASSERT_TRUE(from_uaddr("::.0.111", AF_INET6));
}

TEST(Uaddr, RefusesWhatIsNotOne) {
  for (const char* bad :
       {"", "1.2.3.4", "1.2.3.4.1", "1.2.3.4.256.1", "1.2.3.4.1.-1", "1.2.3.4.1.1000",
        "300.1.1.1.0.1", "a.b.c.d.0.1", "::1.0.111", "1.2.3.4..1", "1.2.3.4.1.1 "}) {
    EXPECT_FALSE(from_uaddr(bad, AF_INET)) << bad;
  }
  for (const char* bad : {"1.2.3.4.0.1", "::1", "::1.0", "gggg::1.0.1", ":::.0.1"}) {
    EXPECT_FALSE(from_uaddr(bad, AF_INET6)) << bad;
  }
  // Found by the fuzzer: a NUL would make the path (or the host) shorter than what was checked.
  EXPECT_FALSE(from_uaddr(std::string_view("/tmp/a\0b", 8), AF_UNIX));
  EXPECT_FALSE(from_uaddr(std::string_view("1.2.3.4\0x.0.1", 13), AF_INET));
  EXPECT_FALSE(from_uaddr("", AF_UNIX));
  EXPECT_FALSE(from_uaddr(std::string(200, 'x'), AF_UNIX));
  EXPECT_TRUE(from_uaddr("/run/rpcbind.sock", AF_UNIX));
}

TEST(Uaddr, Netids) {
  EXPECT_EQ(netid_of(TransportKind::kTcp, AF_INET).netid, "tcp");
  EXPECT_EQ(netid_of(TransportKind::kUdp, AF_INET6).netid, "udp6");
  EXPECT_EQ(netid_of(TransportKind::kUnix, AF_UNSPEC).netid, "local");
  EXPECT_EQ(netid_of(TransportKind::kShm, AF_UNIX).netid, "ringrpc-shm");
  EXPECT_EQ(find_netid("ringrpc-shm")->kind, TransportKind::kShm);
  EXPECT_EQ(find_netid("ringrpc-shm")->family, AF_UNIX);
  EXPECT_EQ(find_netid("tcp6")->protofmly, "inet6");
  EXPECT_EQ(find_netid("udp")->semantics, 1u);
  EXPECT_EQ(find_netid("sctp"), nullptr);
  EXPECT_STREQ(netid_of_ipproto(17), "udp");
  EXPECT_EQ(netid_of_ipproto(132), nullptr);
  EXPECT_EQ(ipproto_of_netid("tcp6"), 0u);
}

// --- the table ---------------------------------------------------------------------------------

Mapping map(uint32_t prog, uint32_t vers, const char* netid, const char* addr,
            const char* owner = "superuser") {
  return {prog, vers, netid, addr, owner};
}

TEST(Table, SetFollowsRpcbind) {
  Registry r({});
  EXPECT_TRUE(r.set(map(7, 1, "tcp", "0.0.0.0.4.1")));
  EXPECT_TRUE(r.set(map(7, 1, "tcp", "0.0.0.0.4.1")));   // the same again: fine
  EXPECT_FALSE(r.set(map(7, 1, "tcp", "0.0.0.0.4.2")));  // another address: refused
  EXPECT_FALSE(r.set(map(7, 1, "TCP", "0.0.0.0.4.2")));  // netids compare case-insensitively
  EXPECT_TRUE(r.set(map(7, 2, "tcp", "0.0.0.0.4.3")));
  EXPECT_TRUE(r.set(map(7, 1, "udp", "0.0.0.0.4.1")));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.dump()[2].netid, "udp");  // appended, in arrival order
}

TEST(Table, FindPrefersTheVersionElseTheLastOfTheProgram) {
  Registry r({});
  r.set(map(7, 1, "tcp", "a.0.1"));
  r.set(map(7, 3, "tcp", "a.0.3"));
  r.set(map(7, 2, "udp", "a.0.2"));
  EXPECT_EQ(r.find(7, 1, "tcp")->vers, 1u);
  EXPECT_EQ(r.find(7, 9, "tcp")->vers, 3u);
  EXPECT_FALSE(r.find(7, 1, "tcp6"));
  EXPECT_EQ(r.versions(7, "tcp"), std::make_pair(1u, 3u));
  EXPECT_EQ(r.versions(8, "tcp"), std::make_pair(0u, 0u));
}

TEST(Table, UnsetChecksTheOwner) {
  Registry r({});
  r.set(map(7, 1, "tcp", "0.0.0.0.0.7", "1000"));
  r.set(map(7, 1, "udp", "0.0.0.0.0.7", "1000"));
  EXPECT_FALSE(r.unset(7, 1, "", "unknown"));
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(r.unset(7, 1, "udp", "1000"));
  EXPECT_EQ(r.size(), 1u);
  EXPECT_TRUE(r.unset(7, 1, "", "superuser"));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.unset(7, 1, "", "unknown"));  // nothing there: still true, as rpcbind
}

TEST(Table, PortmapViewIsTheTcpAndUdpPart) {
  Registry r({});
  r.set(map(7, 1, "tcp6", "::.0.7"));
  r.set(map(7, 1, "tcp", "0.0.0.0.0.7"));
  r.set(map(7, 1, "local", "/x"));
  r.set(map(7, 1, "udp", "0.0.0.0.1.0"));
  const std::vector<PmapEntry> p = r.pmap_dump();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].prot, 6u);
  EXPECT_EQ(p[0].port, 7u);
  EXPECT_EQ(p[1].prot, 17u);
  EXPECT_EQ(p[1].port, 256u);
  EXPECT_EQ(r.find_pmap(7, 5, 17)->port, 256u);
}

TEST(Table, IsBounded) {
  Registry r({"", 10});
  for (uint32_t i = 0; i < 10; ++i) EXPECT_TRUE(r.set(map(i, 1, "tcp", "0.0.0.0.0.1")));
  EXPECT_FALSE(r.set(map(99, 1, "tcp", "0.0.0.0.0.1")));
  for (int i = 0; i < 100; ++i) r.count_getaddr(1, static_cast<uint32_t>(i), 1, "tcp", true);
  EXPECT_EQ(r.stats()[1].addrinfo.size(), 10u);
}

// --- the state file ----------------------------------------------------------------------------

TEST(State, FormatAndParseAgree) {
  const std::vector<Mapping> list = {map(1, 2, "tcp", "0.0.0.0.0.1"),
                                     map(3, 4, "local", "/tmp/a b\n%c", ""),
                                     map(5, 6, "x\xff", "", "1000")};
  EXPECT_EQ(parse_state(format_state(list)), list);
}

TEST(State, DamagedLinesCostOnlyThemselves) {
  const std::vector<Mapping> got = parse_state(
      "# header\n1 2 tcp a o\nnot a line\n3 4 tcp %Z o\n5 6 udp b o extra\n7 8 udp c o\n");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].prog, 1u);
  EXPECT_EQ(got[1].prog, 7u);
}

TEST(State, WrittenAtomicallyAndReadBack) {
  const std::string dir = temp_dir();
  const std::string file = dir + "/state";
  {
    Registry r({file});
    ASSERT_TRUE(r.load());  // no file yet: empty
    r.set(map(7, 1, "tcp", "0.0.0.0.0.7"));
    r.set(map(8, 1, "udp", "0.0.0.0.0.8", "1000"));
    r.unset(7, 1, "", "superuser");
  }
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
  Registry again({file});
  ASSERT_TRUE(again.load());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again.dump()[0], map(8, 1, "udp", "0.0.0.0.0.8", "1000"));
  // Held writes leave the file alone until released.
  again.hold_writes(true);
  again.set(map(9, 1, "udp", "0.0.0.0.0.9"));
  {
    Registry peek({file});
    peek.load();
    EXPECT_EQ(peek.size(), 1u);
  }
  again.hold_writes(false);
  Registry after({file});
  after.load();
  EXPECT_EQ(after.size(), 2u);
  std::filesystem::remove_all(dir);
}

// --- liveness ----------------------------------------------------------------------------------

TEST(Liveness, ProbesWhatIsBound) {
  for (bool tcp : {true, false}) {
    int fd = ::socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    if (tcp) {
      ASSERT_EQ(::listen(fd, 1), 0);
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const SockAddr bound = SockAddr::ipv4(0x7f000001, ntohs(a.sin_port));
    const char* netid = tcp ? "tcp" : "udp";
    EXPECT_TRUE(is_bound(netid, to_uaddr(bound)));
    EXPECT_TRUE(is_bound(netid, wildcard_uaddr(netid, bound.port())));
    ::close(fd);
    EXPECT_FALSE(is_bound(netid, to_uaddr(bound)));
  }
  const std::string dir = temp_dir();
  const std::string path = dir + "/s";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un u{};
  u.sun_family = AF_UNIX;
  std::strcpy(u.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&u), sizeof u), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  EXPECT_TRUE(is_bound("local", path));
  ::close(fd);
  EXPECT_FALSE(is_bound("local", path));
  EXPECT_TRUE(is_bound("sctp", "whatever"));  // cannot check: kept
  std::filesystem::remove_all(dir);
}

TEST(Liveness, SweepRemovesOnlyTheDead) {
  Registry r({});
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  r.set(map(7, 1, "udp", wildcard_uaddr("udp", ntohs(a.sin_port)).c_str()));
  int dead = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in b{};
  b.sin_family = AF_INET;
  ::bind(dead, reinterpret_cast<sockaddr*>(&b), sizeof b);
  len = sizeof b;
  ::getsockname(dead, reinterpret_cast<sockaddr*>(&b), &len);
  ::close(dead);
  r.set(map(8, 1, "udp", wildcard_uaddr("udp", ntohs(b.sin_port)).c_str()));
  EXPECT_EQ(r.sweep(), 1u);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.dump()[0].prog, 7u);
  ::close(fd);
}

// --- a running registry ------------------------------------------------------------------------

class Running : public ::testing::Test {
 protected:
  void start(RegistryServerOptions o = {}) {
    dir_ = temp_dir();
    o.port = 0;
    o.unix_path = dir_ + "/rpcbind.sock";
    o.log = false;
    server_ = std::make_unique<RegistryServer>(o);
    std::string err;
    ASSERT_TRUE(server_->start(&err)) << err;
    udp_ = server_->server().udp_port();
    tcp_ = server_->server().tcp_port();
  }
  void TearDown() override {
    if (server_) server_->stop();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<Channel> channel(TransportKind kind, uint32_t vers) {
    ChannelOptions o;
    o.transport = kind;
    o.address = kind == TransportKind::kUdp ? SockAddr::loopback4(udp_) : SockAddr::loopback4(tcp_);
    if (kind == TransportKind::kUnix) SockAddr::unix_path(dir_ + "/rpcbind.sock", o.address);
    o.program = 100000;
    o.version = vers;
    o.timeout = std::chrono::seconds(2);
    o.udp_retry = std::chrono::milliseconds(200);
    return Channel::create(ClientRuntime::shared().loop(), o);
  }

  // A raw call over UDP: the reply's bytes, or nullopt after `wait`.
  std::optional<std::vector<uint8_t>> raw_udp(
      uint32_t vers, uint32_t proc, const std::vector<uint8_t>& args,
      std::chrono::milliseconds wait = std::chrono::milliseconds(500)) {
    std::vector<uint8_t> m = header(vers, proc);
    m.insert(m.end(), args.begin(), args.end());
    return exchange(m, wait);
  }
  std::optional<std::vector<uint8_t>> exchange(const std::vector<uint8_t>& m,
                                               std::chrono::milliseconds wait) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    const SockAddr to = SockAddr::loopback4(udp_);
    ::sendto(fd, m.data(), m.size(), 0, to.get(), to.len());
    if (wait.count() == 0) {  // fire and forget
      ::close(fd);
      return std::nullopt;
    }
    timeval tv{static_cast<time_t>(wait.count() / 1000),
               static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> buf(70000);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    ::close(fd);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
  static std::vector<uint8_t> header(uint32_t vers, uint32_t proc) {
    std::vector<uint8_t> m;
    for (uint32_t v : {0x1234u, 0u, 2u, 100000u, vers, proc, 0u, 0u, 0u, 0u}) put(m, v);
    return m;
  }
  static void put(std::vector<uint8_t>& m, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) m.push_back(static_cast<uint8_t>(v >> s));
  }
  static void put_string(std::vector<uint8_t>& m, std::string_view s) {
    put(m, static_cast<uint32_t>(s.size()));
    m.insert(m.end(), s.begin(), s.end());
    while (m.size() % 4) m.push_back(0);
  }
  static uint32_t get(const std::vector<uint8_t>& m, size_t at) {
    return static_cast<uint32_t>(m[at]) << 24 | static_cast<uint32_t>(m[at + 1]) << 16 |
           static_cast<uint32_t>(m[at + 2]) << 8 | m[at + 3];
  }
  // accept_stat of an accepted reply (SUCCESS 0 ... SYSTEM_ERR 5).
  static uint32_t accept_stat(const std::vector<uint8_t>& r) { return get(r, 20); }
  static std::vector<uint8_t> rpcb_args(uint32_t prog, uint32_t vers, std::string_view netid,
                                        std::string_view addr = "", std::string_view owner = "") {
    std::vector<uint8_t> a;
    put(a, prog);
    put(a, vers);
    put_string(a, netid);
    put_string(a, addr);
    put_string(a, owner);
    return a;
  }

  std::string dir_;
  std::unique_ptr<RegistryServer> server_;
  uint16_t udp_ = 0;
  uint16_t tcp_ = 0;
};

TEST_F(Running, AnswersLookupsWithTheCallersAddress) {
  start();
  pb::rpcb q;
  q.r_prog = 100000;
  q.r_vers = 4;
  q.r_netid = "udp";
  Result<pb::rpcb_uaddr> r =
      pb::RPCBVERS4_Client(channel(TransportKind::kUdp, 4)).RPCBPROC_GETADDR(q);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r.value(), to_uaddr(SockAddr::loopback4(udp_)));  // 0.0.0.0 became 127.0.0.1
  q.r_prog = 12345;
  r = pb::RPCBVERS4_Client(channel(TransportKind::kTcp, 4)).RPCBPROC_GETADDR(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), "");
  Result<uint32_t> port =
      pb::PMAPVERS_Client(channel(TransportKind::kUdp, 2)).PMAPPROC_GETPORT({100000, 2, 6, 0});
  ASSERT_TRUE(port.ok());
  EXPECT_EQ(port.value(), tcp_);
  Result<uint32_t> t = pb::RPCBVERS4_Client(channel(TransportKind::kTcp, 4)).RPCBPROC_GETTIME();
  ASSERT_TRUE(t.ok());
  EXPECT_LE(std::abs(static_cast<long>(t.value()) - static_cast<long>(std::time(nullptr))), 2);
}

// A shared-memory endpoint is found in DUMP (GETADDR answers for the request's own transport),
// only for its program and version, and only while a server listens on its socket.
TEST_F(Running, SharedMemoryEndpointsAreFoundInTheDumpWhileAlive) {
  start();
  const std::string path = dir_ + "/server.shm";
  SockAddr at;
  ASSERT_TRUE(SockAddr::unix_path(path, at));
  transport::IoError io;
  const int fd = transport::listen_stream(at, {}, io);
  ASSERT_GE(fd, 0) << io.to_string();
  server_->registry().set({5555, 2, "ringrpc-shm", path, "superuser"});
  server_->registry().set({5555, 2, "tcp", "127.0.0.1.8.1", "superuser"});
  const SockAddr reg = SockAddr::loopback4(tcp_);
  Result<SockAddr> found = rpcb_find_shm(reg, 5555, 2, nullptr, std::chrono::seconds(2));
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  EXPECT_EQ(found.value().to_string(), at.to_string());
  EXPECT_EQ(rpcb_find_shm(reg, 5555, 3, nullptr, std::chrono::seconds(2)).error().code,
            Errc::kNotRegistered);
  EXPECT_EQ(rpcb_find_shm(reg, 5556, 2, nullptr, std::chrono::seconds(2)).error().code,
            Errc::kNotRegistered);
  ::close(fd);  // the server is gone; its registration is not an offer any more
  EXPECT_EQ(rpcb_find_shm(reg, 5555, 2, nullptr, std::chrono::seconds(2)).error().code,
            Errc::kNotRegistered);
}

TEST_F(Running, AddressConversionsRoundTrip) {
  start();
  auto c = pb::RPCBVERS_Client(channel(TransportKind::kUdp, 3));
  Result<pb::netbuf> nb = c.RPCBPROC_UADDR2TADDR(pb::rpcb_uaddr("127.0.0.1.216.244"));
  ASSERT_TRUE(nb.ok());
  EXPECT_EQ(nb.value().buf.size(), sizeof(sockaddr_in));
  Result<pb::rpcb_uaddr> back = c.RPCBPROC_TADDR2UADDR(nb.value());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), "127.0.0.1.216.244");
  nb = c.RPCBPROC_UADDR2TADDR(pb::rpcb_uaddr("not an address"));
  ASSERT_TRUE(nb.ok());
  EXPECT_TRUE(nb.value().buf.empty());
  pb::netbuf junk;
  junk.maxlen = 3;
  junk.buf = {1, 2, 3};
  back = c.RPCBPROC_TADDR2UADDR(junk);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), "");
}

TEST_F(Running, OwnerComesFromTheKernelOnTheUnixSocket) {
  start();
  pb::rpcb a;
  a.r_prog = 555;
  a.r_vers = 1;
  a.r_netid = "tcp";
  a.r_addr = "0.0.0.0.1.1";
  a.r_owner = "somebody-else";  // ignored: the registry decides
  ASSERT_TRUE(pb::RPCBVERS4_Client(channel(TransportKind::kUnix, 4)).RPCBPROC_SET(a).value());
  a.r_netid = "udp";
  ASSERT_TRUE(pb::RPCBVERS4_Client(channel(TransportKind::kTcp, 4)).RPCBPROC_SET(a).value());
  const std::vector<Mapping> d = server_->registry().dump();
  const std::string me = ::getuid() == 0 ? "superuser" : std::to_string(::getuid());
  EXPECT_EQ(d[d.size() - 2].owner, me);
  EXPECT_EQ(d.back().owner, "unknown");  // loopback TCP from an unprivileged port
  // "unknown" may not remove what the kernel-identified owner set.
  a.r_netid = "";
  EXPECT_FALSE(pb::RPCBVERS4_Client(channel(TransportKind::kTcp, 4)).RPCBPROC_UNSET(a).value());
}

TEST_F(Running, HostileRequestsFailCheaply) {
  start();
  // A netid beyond its bound, and the "rpcbomb": lengths that claim far more than was sent.
  EXPECT_EQ(accept_stat(*raw_udp(4, 3, rpcb_args(1, 1, std::string(65, 'x')))), 4u);
  std::vector<uint8_t> bomb;
  put(bomb, 1);
  put(bomb, 1);
  put(bomb, 0x7fffffff);
  EXPECT_EQ(accept_stat(*raw_udp(4, 3, bomb)), 4u);
  std::vector<uint8_t> bomb2;
  put(bomb2, 0xffffffff);
  EXPECT_EQ(accept_stat(*raw_udp(3, 7, bomb2)), 4u);  // UADDR2TADDR
  std::vector<uint8_t> nb;
  put(nb, 16);
  put(nb, 0x40000000);
  EXPECT_EQ(accept_stat(*raw_udp(4, 8, nb)), 4u);  // TADDR2UADDR
  // Every truncation of a valid SET's arguments.
  const std::vector<uint8_t> set = rpcb_args(777, 1, "tcp", "0.0.0.0.3.3", "x");
  for (size_t n = 0; n < set.size(); n += 4) {
    std::vector<uint8_t> cut(set.begin(), set.begin() + static_cast<long>(n));
    std::optional<std::vector<uint8_t>> r = raw_udp(4, 1, cut);
    ASSERT_TRUE(r) << n;
    EXPECT_EQ(accept_stat(*r), 4u) << n;
  }
  EXPECT_FALSE(server_->registry().find(777, 1, "tcp"));
  // Random mutations of a valid GETADDR: never a crash; the registry still answers.
  std::mt19937 rng(42);
  std::vector<uint8_t> base = header(4, 3);
  const std::vector<uint8_t> q = rpcb_args(100000, 4, "udp");
  base.insert(base.end(), q.begin(), q.end());
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> m = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % m.size());
    (void)exchange(m, std::chrono::milliseconds(0));
  }
  // The 2000 datagrams above can overflow the socket's receive buffer on a busy machine (a
  // sanitizer build above all), and the kernel then drops the next one too: ask until the
  // registry has worked through the backlog, as a client would retransmit. And match the reply
  // by its xid, as a client does: a late answer to one of the mutated requests (most kept xid
  // 0x1234) can reach a new socket that got the closed one's port.
  std::vector<uint8_t> ask = header(4, 3);
  const uint8_t xid[4] = {0xC0, 0xFF, 0xEE, 0x01};
  std::copy(xid, xid + 4, ask.begin());
  ask.insert(ask.end(), q.begin(), q.end());
  std::optional<std::vector<uint8_t>> ok;
  for (int attempt = 0; attempt < 20; ++attempt) {
    ok = exchange(ask, std::chrono::milliseconds(500));
    if (ok && ok->size() >= 4 && std::equal(xid, xid + 4, ok->begin())) break;
    ok.reset();
  }
  ASSERT_TRUE(ok);
  EXPECT_EQ(accept_stat(*ok), 0u);
}

TEST_F(Running, LargeDumpsAreNotSentOverUdp) {
  RegistryServerOptions o;
  o.udp_dump_limit = 200;
  start(o);
  // The registry's own entries already make the dump longer than 200 bytes.
  std::optional<std::vector<uint8_t>> r = raw_udp(3, 4, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(accept_stat(*r), 5u);  // SYSTEM_ERR: 24 bytes instead of hundreds
  EXPECT_EQ(r->size(), 24u);
  Result<pb::rpcblist_ptr> tcp =
      pb::RPCBVERS_Client(channel(TransportKind::kTcp, 3)).RPCBPROC_DUMP();
  ASSERT_TRUE(tcp.ok());
  EXPECT_TRUE(tcp.value());
  // The portmap list is small enough (6 entries, 124 bytes).
  r = raw_udp(2, 4, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(accept_stat(*r), 0u);
}

TEST_F(Running, RateLimitDropsTheExcess) {
  RegistryServerOptions o;
  o.rate_limit = 5;  // bursts of 10
  o.rate_limit_loopback = true;
  start(o);
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    if (raw_udp(4, 0, {}, std::chrono::milliseconds(50))) ++answered;
  }
  EXPECT_GE(answered, 10);
  EXPECT_LE(answered, 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(raw_udp(4, 0, {}));  // tokens came back
  // The Unix socket is not limited.
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(pb::RPCBVERS4_Client(channel(TransportKind::kUnix, 4)).RPCBPROC_NULL().ok());
  }
}

TEST_F(Running, LoopbackIsExemptByDefault) {
  RegistryServerOptions o;
  o.rate_limit = 5;
  start(o);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(raw_udp(4, 0, {})) << i;
}

TEST_F(Running, RemoteCallsOffAsDebian) {
  start();
  std::vector<uint8_t> args;
  for (uint32_t v : {100000u, 2u, 0u, 0u}) put(args, v);
  EXPECT_FALSE(raw_udp(2, 5, args, std::chrono::milliseconds(300)));  // CALLIT: silence
  EXPECT_FALSE(raw_udp(4, 5, args, std::chrono::milliseconds(300)));  // BCAST: silence
  std::optional<std::vector<uint8_t>> r = raw_udp(4, 10, args);       // INDIRECT: SYSTEM_ERR
  ASSERT_TRUE(r);
  EXPECT_EQ(accept_stat(*r), 5u);
}

TEST_F(Running, RemoteCallsForwardWhenEnabled) {
  RegistryServerOptions o;
  o.remote_calls = true;
  start(o);
  // INDIRECT to the registry's own GETPORT(100000, 2, udp).
  std::vector<uint8_t> args;
  for (uint32_t v : {100000u, 2u, 3u, 16u, 100000u, 2u, 17u, 0u}) put(args, v);
  std::optional<std::vector<uint8_t>> r = raw_udp(4, 10, args, std::chrono::seconds(3));
  ASSERT_TRUE(r);
  ASSERT_EQ(accept_stat(*r), 0u);
  // rpcb_rmtcallres: the service's address, then its results (the port).
  const uint32_t alen = get(*r, 24);
  const std::string addr(r->begin() + 28, r->begin() + 28 + alen);
  EXPECT_EQ(addr, to_uaddr(SockAddr::loopback4(udp_)));
  const size_t at = 28 + ((alen + 3) & ~3u);
  EXPECT_EQ(get(*r, at), 4u);
  EXPECT_EQ(get(*r, at + 4), udp_);
  // CALLIT (v2): the port, then the results.
  r = raw_udp(2, 5, args, std::chrono::seconds(3));
  ASSERT_TRUE(r);
  ASSERT_EQ(accept_stat(*r), 0u);
  EXPECT_EQ(get(*r, 24), udp_);
  EXPECT_EQ(get(*r, 32), udp_);
  // Unknown program: INDIRECT says so, CALLIT stays silent.
  std::vector<uint8_t> none;
  for (uint32_t v : {4242u, 1u, 0u, 0u}) put(none, v);
  r = raw_udp(4, 10, none);
  ASSERT_TRUE(r);
  EXPECT_EQ(accept_stat(*r), 1u);  // PROG_UNAVAIL
  EXPECT_FALSE(raw_udp(2, 5, none, std::chrono::milliseconds(300)));
  // A version it does not have: PROG_MISMATCH with the versions it has (2..4).
  std::vector<uint8_t> v9;
  for (uint32_t v : {100000u, 9u, 0u, 0u}) put(v9, v);
  r = raw_udp(4, 10, v9);
  ASSERT_TRUE(r);
  EXPECT_EQ(accept_stat(*r), 2u);
  EXPECT_EQ(get(*r, 24), 2u);
  EXPECT_EQ(get(*r, 28), 4u);
  const Stats s = server_->registry().stats();
  ASSERT_FALSE(s[2].rmtinfo.empty());
  EXPECT_EQ(s[2].rmtinfo.back().indirect, 1);
}

// --- a port still held at start -----------------------------------------------------------------

// A TCP listener on a free IPv4 port, standing for the sockets a registry killed a moment ago
// leaves bound while the kernel tears down its io_uring.
struct PortHolder {
  int fd = -1;
  uint16_t port = 0;
  PortHolder() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 1) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port = ntohs(a.sin_port);
  }
  void release() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~PortHolder() { release(); }
};

TEST(PortWait, APortThatComesFreeIsTaken) {
  PortHolder held;
  ASSERT_NE(held.port, 0);
  const std::string dir = temp_dir();
  RegistryServerOptions o;
  o.port = held.port;
  o.unix_path = dir + "/rpcbind.sock";
  o.log = false;
  o.port_wait = std::chrono::seconds(5);
  std::thread freer([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.release();
  });
  RegistryServer server(o);
  std::string err;
  bool in_use = true;
  const bool ok = server.start(&err, &in_use);
  freer.join();
  ASSERT_TRUE(ok) << err;
  EXPECT_FALSE(in_use);
  EXPECT_EQ(server.server().tcp_port(), held.port);
  server.stop();
  std::filesystem::remove_all(dir);
}

TEST(PortWait, APortThatStaysTakenIsReported) {
  PortHolder held;
  ASSERT_NE(held.port, 0);
  RegistryServerOptions o;
  o.port = held.port;
  o.unix_path = "";
  o.log = false;
  o.port_wait = std::chrono::milliseconds(200);
  RegistryServer server(o);
  std::string err;
  bool in_use = false;
  EXPECT_FALSE(server.start(&err, &in_use));
  EXPECT_TRUE(in_use);
  EXPECT_NE(err.find("Address already in use"), std::string::npos) << err;
}

TEST(PortWait, ALiveRegistryIsReportedWithoutWaiting) {
  // The port is taken and a registry answers on the Unix socket: waiting would not help.
  const std::string dir = temp_dir();
  RegistryServerOptions first;
  first.port = 0;
  first.unix_path = dir + "/first.sock";
  first.log = false;
  RegistryServer live(first);
  std::string err;
  ASSERT_TRUE(live.start(&err)) << err;
  RegistryServerOptions o = first;
  o.port = live.server().tcp_port();
  o.port_wait = std::chrono::seconds(30);
  RegistryServer second(o);
  bool in_use = false;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(second.start(&err, &in_use));
  EXPECT_TRUE(in_use);
  // Bounded by the liveness check's half second, never the 30 s wait.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  live.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ringrpc::registry
