#include "engine/registry/registry_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <thread>
#include <unordered_map>

#include "engine/client.h"
#include "engine/registry/uaddr.h"
#include "rpcb_prot.h"

namespace ringrpc::registry {
namespace {

namespace pb = ::ringrpc::rpcb;
using transport::SockAddr;

constexpr uint32_t kProg = 100000;
constexpr uint32_t kProcSet = 1;
constexpr uint32_t kProcUnset = 2;

// A token bucket per source address: `rate` calls a second, bursts of twice that. The table is
// bounded; when it fills, it starts over (every source gets a fresh burst, which is cheaper than
// an eviction order and harmless).
class RateLimiter {
 public:
  RateLimiter(uint32_t rate, bool loopback_too) : rate_(rate), loopback_too_(loopback_too) {}
  bool admit(const SockAddr& peer) {
    if (rate_ == 0 || peer.family() == AF_UNIX || peer.family() == AF_UNSPEC) return true;
    if (!loopback_too_ && peer.is_loopback()) return true;
    std::string key = peer.host_string();
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.size() >= kMaxSources && buckets_.find(key) == buckets_.end()) buckets_.clear();
    Bucket& b = buckets_[key];
    const double cap = 2.0 * rate_;
    if (b.last.time_since_epoch().count() == 0) {
      b.tokens = cap;
    } else {
      const double secs = std::chrono::duration<double>(now - b.last).count();
      b.tokens = std::min(cap, b.tokens + secs * rate_);
    }
    b.last = now;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }
  uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  void note_refused() noexcept { refused_.fetch_add(1, std::memory_order_relaxed); }

 private:
  static constexpr size_t kMaxSources = 8192;
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last{};
  };
  uint32_t rate_;
  bool loopback_too_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::atomic<uint64_t> refused_{0};
};

bool is_wildcard(const SockAddr& a) {
  if (a.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr.s_addr == INADDR_ANY;
  }
  if (a.family() == AF_INET6) {
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
  }
  return false;
}

// The address of this host that `peer` reaches it on: the kernel's choice of source address
// for a datagram to `peer` (no packet is sent).
std::optional<SockAddr> local_address_towards(const SockAddr& peer) {
  const int fd = ::socket(peer.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  SockAddr out;
  socklen_t len = SockAddr::capacity();
  const bool ok =
      ::connect(fd, peer.get(), peer.len()) == 0 && ::getsockname(fd, out.get_mut(), &len) == 0;
  ::close(fd);
  if (!ok) return std::nullopt;
  out.set_len(len);
  return out;
}

size_t xdr_string_size(size_t n) { return 4 + ((n + 3) & ~size_t{3}); }

}  // namespace

struct RegistryServer::Impl {
  explicit Impl(RegistryServerOptions o)
      : options(std::move(o)),
        registry(Registry::Options{options.state_file, 4096}),
        limiter(options.rate_limit, options.rate_limit_loopback),
        server(server_options(options)),
        v2(*this),
        v3(*this),
        v4(*this) {}

  static ServerOptions server_options(const RegistryServerOptions& o) {
    ServerOptions so;
    so.shards = o.shards;
    // Registry messages are small: a record above 64 KiB plus headers is hostile, and over UDP
    // rpcbind (libtirpc's UDPMSGSIZE) takes 8800 bytes: longer datagrams get GARBAGE_ARGS.
    so.max_record = 72u << 10;
    so.udp_max_message = 9000;
    so.max_calls_per_connection = 16;
    so.memory_budget = 16u << 20;
    so.idle_timeout = std::chrono::seconds(30);  // rpcbind drops idle connections after 30 s
    so.offload_threads = 1;                      // SET/UNSET write the state file there
    so.offload_queue = 256;
    so.drain_timeout = std::chrono::seconds(2);
    // libtirpc's clients and rpcbind accept what the lenient decoder accepts (codec/DESIGN.md).
    so.strict = false;
    so.log = o.log;
    return so;
  }

  // --- what every procedure needs -----------------------------------------------------------

  static std::string_view netid(const Call& c) {
    return netid_of(c.transport(), c.peer().family()).netid;
  }
  static bool is_local(const Call& c) {
    return c.transport() == TransportKind::kUnix || c.peer().is_loopback();
  }
  // Who asks, as rpcbind's getowner() names it: the uid the kernel reports for a Unix socket,
  // "superuser" for root or for a loopback caller on a reserved port, else "unknown".
  static std::string owner(const Call& c) {
    if (const PeerCred* cred = c.peer_cred()) {
      return cred->uid == 0 ? "superuser" : std::to_string(cred->uid);
    }
    if (c.peer().is_loopback() && c.peer().port() < 1024) return "superuser";
    return "unknown";
  }
  // False (and the call is dropped without an answer) when the source is over its rate.
  bool admit(Call& c) {
    if (limiter.admit(c.peer())) return true;
    limiter.note_refused();
    c.drop();
    return false;
  }
  // rpcbind's mergeaddr: "" when the server is gone, nullopt when the address cannot be merged
  // (the caller then gets the registered one), else the registered address with a wildcard
  // host replaced by the address of this host the caller reached.
  static std::optional<std::string> merge(const Call& c, std::string_view netid,
                                          const std::string& addr) {
    if (!is_bound(netid, addr)) return std::string();
    const NetidInfo* n = find_netid(netid);
    if (n == nullptr) return std::nullopt;
    if (n->family == AF_UNIX) return addr;
    std::optional<SockAddr> a = from_uaddr(addr, n->family);
    if (!a) return std::nullopt;
    if (!is_wildcard(*a)) return addr;
    const SockAddr& peer = c.peer();
    if (peer.family() != n->family) return std::nullopt;
    std::optional<SockAddr> host;
    if (peer.is_loopback()) {
      host = n->family == AF_INET ? SockAddr::loopback4(0) : SockAddr::loopback6(0);
    } else {
      host = local_address_towards(peer);
    }
    if (!host) return std::nullopt;
    host->set_port(a->port());
    return to_uaddr(*host);
  }

  // GETADDR and GETVERSADDR (rpcbproc_getaddr_com): looked up on the netid the request came
  // in on, whatever r_netid says.
  std::string getaddr(const Call& c, const pb::view::rpcb& a, int v, bool any_version) {
    const std::string_view nid = netid(c);
    std::string uaddr;
    if (std::optional<Mapping> fnd = registry.find(a.r_prog, a.r_vers, nid);
        fnd && (any_version || fnd->vers == a.r_vers)) {
      std::optional<std::string> m = merge(c, nid, fnd->addr);
      if (!m) {
        uaddr = fnd->addr;
      } else if (m->empty()) {
        registry.delete_dead(a.r_prog);  // its server died
      } else {
        uaddr = std::move(*m);
      }
    }
    registry.count_getaddr(v, a.r_prog, a.r_vers, nid, !uaddr.empty());
    return uaddr;
  }

  bool set(Call& c, const pb::view::rpcb& a, int v) {
    Mapping m{a.r_prog, a.r_vers, std::string(a.r_netid), std::string(a.r_addr), owner(c)};
    const bool ok = !m.netid.empty() && registry.set(m);
    registry.count_set(v, ok);
    return ok;
  }
  bool unset(Call& c, const pb::view::rpcb& a, int v) {
    const bool ok = registry.unset(a.r_prog, a.r_vers, a.r_netid, owner(c));
    registry.count_unset(v, ok);
    return ok;
  }

  // DUMP over UDP: answered only when small, since a 40-byte request would otherwise buy an
  // attacker a reply many times its size aimed at a forged source.
  bool dump_allowed(Call& c, size_t reply_size) {
    if (c.transport() != TransportKind::kUdp || reply_size <= options.udp_dump_limit) return true;
    c.fail(rpc::accept_stat::SYSTEM_ERR);
    return false;
  }

  void dump(Call& c, pb::rpcblist_ptr& result) {
    std::vector<Mapping> list = registry.dump();
    size_t size = 4;
    for (const Mapping& m : list) {
      size += 4 + 8 + xdr_string_size(m.netid.size()) + xdr_string_size(m.addr.size()) +
              xdr_string_size(m.owner.size());
    }
    if (!dump_allowed(c, size)) return;
    pb::rpcblist_ptr* tail = &result;
    for (Mapping& m : list) {
      pb::rp__list& node = tail->emplace();
      node.rpcb_map.r_prog = m.prog;
      node.rpcb_map.r_vers = m.vers;
      node.rpcb_map.r_netid = std::move(m.netid);
      node.rpcb_map.r_addr = std::move(m.addr);
      node.rpcb_map.r_owner = std::move(m.owner);
      tail = &node.rpcb_next;
    }
  }

  pb::netbuf uaddr2taddr(const Call& c, std::string_view uaddr) {
    pb::netbuf nb;
    const NetidInfo& n = netid_of(c.transport(), c.peer().family());
    std::optional<SockAddr> a = from_uaddr(uaddr, n.family);
    if (!a) return nb;
    const auto* p = reinterpret_cast<const uint8_t*>(a->get());
    nb.buf.assign(p, p + a->len());
    nb.maxlen = n.family == AF_UNIX ? static_cast<uint32_t>(sizeof(sockaddr_un)) : a->len();
    return nb;
  }

  std::string taddr2uaddr(const Call& c, const pb::view::netbuf& nb) {
    const NetidInfo& n = netid_of(c.transport(), c.peer().family());
    if (nb.buf.size() < sizeof(sa_family_t) || nb.buf.size() > sizeof(sockaddr_storage)) return {};
    sockaddr_storage ss{};
    std::memcpy(&ss, nb.buf.data(), nb.buf.size());
    if (ss.ss_family != n.family) return {};
    const socklen_t need = n.family == AF_INET    ? sizeof(sockaddr_in)
                           : n.family == AF_INET6 ? sizeof(sockaddr_in6)
                                                  : offsetof(sockaddr_un, sun_path) + 1;
    if (nb.buf.size() < need) return {};
    if (n.family == AF_UNIX) {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(&ss);
      const size_t max = nb.buf.size() - offsetof(sockaddr_un, sun_path);
      return std::string(sun->sun_path, strnlen(sun->sun_path, max));
    }
    return to_uaddr(SockAddr::from(reinterpret_cast<const sockaddr*>(&ss),
                                   static_cast<socklen_t>(nb.buf.size())));
  }

  void getstat(pb::rpcb_stat_byvers& result) {
    const Stats s = registry.stats();
    for (size_t v = 0; v < 3; ++v) {
      pb::rpcb_stat& out = result[v];
      for (size_t i = 0; i < 13; ++i) out.info[i] = s[v].info[i];
      out.setinfo = s[v].setinfo;
      out.unsetinfo = s[v].unsetinfo;
      pb::rpcbs_addrlist_ptr* at = &out.addrinfo;
      for (const auto& a : s[v].addrinfo) {
        pb::rpcbs_addrlist& n = at->emplace();
        n.prog = a.prog;
        n.vers = a.vers;
        n.success = a.success;
        n.failure = a.failure;
        n.netid = a.netid;
        at = &n.next;
      }
      pb::rpcbs_rmtcalllist_ptr* rt = &out.rmtinfo;
      for (const auto& r : s[v].rmtinfo) {
        pb::rpcbs_rmtcalllist& n = rt->emplace();
        n.prog = r.prog;
        n.vers = r.vers;
        n.proc = r.proc;
        n.success = r.success;
        n.failure = r.failure;
        n.indirect = r.indirect;
        n.netid = r.netid;
        rt = &n.next;
      }
    }
  }

  // --- remote calls (CALLIT, BCAST, INDIRECT) -------------------------------------------------

  struct Forward {
    ReplyHandle reply;
    std::shared_ptr<Channel> channel;
    std::vector<uint8_t> args;
    std::string uaddr;  // what the caller is told the service's address is
    int v;
    bool indirect;
  };

  // rpcbproc_callit_com: only over UDP; CALLIT and BCAST answer only success, INDIRECT also
  // answers errors. The call is forwarded over UDP with AUTH_NONE, the reply relayed.
  void remote_call(Call& c, const pb::view::rpcb_rmtcallargs& a, int v, bool indirect) {
    if (!options.remote_calls) {
      // Debian's rpcbind without -r: CALLIT and BCAST go unanswered, INDIRECT gets SYSTEM_ERR.
      if (indirect) {
        c.fail(rpc::accept_stat::SYSTEM_ERR);
      } else {
        c.drop();
      }
      return;
    }
    if (c.transport() != TransportKind::kUdp) {
      c.drop();
      return;
    }
    const std::string_view nid = netid(c);
    std::optional<Mapping> rbl = registry.find(a.prog, a.vers, nid);
    registry.count_rmtcall(v, indirect, a.prog, a.vers, a.proc, nid, rbl && rbl->vers == a.vers);
    if (!rbl || rbl->vers != a.vers) {
      if (indirect && rbl) {
        const auto [low, high] = registry.versions(a.prog, nid);
        c.fail_program(rpc::accept_stat::PROG_MISMATCH, {low, high});
      } else if (indirect) {
        c.fail_program(rpc::accept_stat::PROG_UNAVAIL);
      } else {
        c.drop();
      }
      return;
    }
    std::optional<std::string> merged = merge(c, nid, rbl->addr);
    std::optional<SockAddr> target =
        merged && !merged->empty() ? from_uaddr(*merged, c.peer().family()) : std::nullopt;
    if (!target) {
      if (indirect) {
        c.fail_program(rpc::accept_stat::PROG_UNAVAIL);
      } else {
        c.drop();
      }
      return;
    }
    auto* f = new Forward{c.defer(), nullptr, std::vector<uint8_t>(a.args.begin(), a.args.end()),
                          *merged,   v,       indirect};
    ChannelOptions co;
    co.transport = TransportKind::kUdp;
    co.address = *target;
    co.program = a.prog;
    co.version = a.vers;
    co.timeout = std::chrono::seconds(5);
    transport::EventLoop& loop = ClientRuntime::shared().loop();
    f->channel = Channel::create(loop, co);
    f->channel->call_raw(
        a.proc,
        [](const void* ctx, xdr::XdrWriter& w) {
          const auto* fw = static_cast<const Forward*>(ctx);
          return w.put_bytes(fw->args.data(), fw->args.size());
        },
        f,
        [](void* ctx, const RpcError& e, xdr::XdrReader* r) {
          auto* fw = static_cast<Forward*>(ctx);
          if (!e.ok()) {
            if (fw->indirect) {
              (void)fw->reply.fail(rpc::accept_stat::SYSTEM_ERR);
            } else {
              fw->reply.drop();
            }
          } else {
            const std::span<const uint8_t> res = r->rest();
            if (fw->v == 0) {
              pb::pmap_call_result out;
              out.port = uaddr_port(fw->uaddr).value_or(0);
              out.res.assign(res.begin(), res.end());
              (void)fw->reply.send<pb::codec::pmap_call_result>(out);
            } else {
              pb::rpcb_rmtcallres out;
              out.addr = fw->uaddr;
              out.results.assign(res.begin(), res.end());
              (void)fw->reply.send<pb::codec::rpcb_rmtcallres>(out);
            }
          }
          // The channel cannot be destroyed from inside its own callback.
          transport::EventLoop& l = fw->channel->loop();
          l.post([fw] { delete fw; });
        },
        f);
  }

  // --- the three versions ---------------------------------------------------------------------

  struct V2 final : pb::PMAPVERS_Service {
    explicit V2(Impl& i) : m(i) {}
    Impl& m;
    void PMAPPROC_NULL(Call& c) override {
      m.registry.count_proc(0, 0);
      (void)m.admit(c);
    }
    void PMAPPROC_SET(Call& c, const pb::view::pmap_mapping& a, bool& result) override {
      m.registry.count_proc(0, 1);
      if (!m.admit(c)) return;
      const char* nid = netid_of_ipproto(a.prot);
      result = nid != nullptr &&
               m.registry.set({a.prog, a.vers, nid,
                               wildcard_uaddr(nid, static_cast<uint16_t>(a.port)), owner(c)});
      m.registry.count_set(0, result);
    }
    void PMAPPROC_UNSET(Call& c, const pb::view::pmap_mapping& a, bool& result) override {
      m.registry.count_proc(0, 2);
      if (!m.admit(c)) return;
      const std::string who = owner(c);
      const bool tcp = m.registry.unset(a.prog, a.vers, "tcp", who);
      const bool udp = m.registry.unset(a.prog, a.vers, "udp", who);
      result = tcp || udp;
      m.registry.count_unset(0, result);
    }
    void PMAPPROC_GETPORT(Call& c, const pb::view::pmap_mapping& a, uint32_t& result) override {
      m.registry.count_proc(0, 3);
      if (!m.admit(c)) return;
      result = 0;
      const char* nid = netid_of_ipproto(a.prot);
      if (std::optional<PmapEntry> fnd = m.registry.find_pmap(a.prog, a.vers, a.prot);
          fnd && nid != nullptr) {
        if (is_bound(nid, wildcard_uaddr(nid, static_cast<uint16_t>(fnd->port)))) {
          result = fnd->port;
        } else {
          m.registry.delete_dead(a.prog);
        }
      }
      m.registry.count_getaddr(0, a.prog, a.vers, nid != nullptr ? nid : "<unknown>", result != 0);
    }
    void PMAPPROC_DUMP(Call& c, pb::pmap_list_ptr& result) override {
      m.registry.count_proc(0, 4);
      if (!m.admit(c)) return;
      std::vector<PmapEntry> list = m.registry.pmap_dump();
      if (!m.dump_allowed(c, 4 + list.size() * 20)) return;
      pb::pmap_list_ptr* tail = &result;
      for (const PmapEntry& e : list) {
        pb::pmap_list& node = tail->emplace();
        node.map = {e.prog, e.vers, e.prot, e.port};
        tail = &node.next;
      }
    }
    void PMAPPROC_CALLIT(Call& c, const pb::view::pmap_call_args& a,
                         pb::pmap_call_result& result) override {
      (void)result;
      m.registry.count_proc(0, 5);
      if (!m.admit(c)) return;
      m.remote_call(c, pb::view::rpcb_rmtcallargs{a.prog, a.vers, a.proc, a.args}, 0, false);
    }
  };

  // Versions 3 and 4 share every procedure but BCAST/INDIRECT and the v4 additions.
  template <typename Base, int V>
  struct V34 : Base {
    explicit V34(Impl& i) : m(i) {}
    Impl& m;
    bool enter(Call& c, uint32_t proc) {
      m.registry.count_proc(V, proc);
      return m.admit(c);
    }
    void RPCBPROC_NULL(Call& c) override { (void)enter(c, 0); }
    void RPCBPROC_SET(Call& c, const pb::view::rpcb& a, bool& result) override {
      if (enter(c, 1)) result = m.set(c, a, V);
    }
    void RPCBPROC_UNSET(Call& c, const pb::view::rpcb& a, bool& result) override {
      if (enter(c, 2)) result = m.unset(c, a, V);
    }
    void RPCBPROC_GETADDR(Call& c, const pb::view::rpcb& a, pb::rpcb_uaddr& result) override {
      if (enter(c, 3)) result = m.getaddr(c, a, V, true);
    }
    void RPCBPROC_DUMP(Call& c, pb::rpcblist_ptr& result) override {
      if (enter(c, 4)) m.dump(c, result);
    }
    void RPCBPROC_GETTIME(Call& c, uint32_t& result) override {
      if (enter(c, 6)) result = static_cast<uint32_t>(std::time(nullptr));
    }
    void RPCBPROC_UADDR2TADDR(Call& c, const std::string_view& a, pb::netbuf& result) override {
      if (enter(c, 7)) result = m.uaddr2taddr(c, a);
    }
    void RPCBPROC_TADDR2UADDR(Call& c, const pb::view::netbuf& a, pb::rpcb_uaddr& result) override {
      if (enter(c, 8)) result = m.taddr2uaddr(c, a);
    }
  };

  struct V3 final : V34<pb::RPCBVERS_Service, 1> {
    using V34::V34;
    void RPCBPROC_CALLIT(Call& c, const pb::view::rpcb_rmtcallargs& a,
                         pb::rpcb_rmtcallres& result) override {
      (void)result;
      if (enter(c, 5)) m.remote_call(c, a, 1, false);
    }
  };

  struct V4 final : V34<pb::RPCBVERS4_Service, 2> {
    using V34::V34;
    void RPCBPROC_BCAST(Call& c, const pb::view::rpcb_rmtcallargs& a,
                        pb::rpcb_rmtcallres& result) override {
      (void)result;
      if (enter(c, 5)) m.remote_call(c, a, 2, false);
    }
    void RPCBPROC_GETVERSADDR(Call& c, const pb::view::rpcb& a, pb::rpcb_uaddr& result) override {
      if (enter(c, 9)) result = m.getaddr(c, a, 2, false);
    }
    void RPCBPROC_INDIRECT(Call& c, const pb::view::rpcb_rmtcallargs& a,
                           pb::rpcb_rmtcallres& result) override {
      (void)result;
      if (enter(c, 10)) m.remote_call(c, a, 2, true);
    }
    void RPCBPROC_GETADDRLIST(Call& c, const pb::view::rpcb& a,
                              pb::rpcb_entry_list_ptr& result) override {
      if (!enter(c, 11)) return;
      const std::string_view nid = netid(c);
      const NetidInfo* mine = find_netid(nid);
      std::optional<std::string> last;  // rpcbind counts the last merge's outcome
      pb::rpcb_entry_list_ptr* tail = &result;
      for (const Mapping& e : m.registry.dump()) {
        if (e.prog != a.r_prog || e.vers != a.r_vers) continue;
        const NetidInfo* n = find_netid(e.netid);
        if (n == nullptr || mine == nullptr || n->protofmly != mine->protofmly) continue;
        last = merge(c, e.netid, e.addr);
        if (!last) continue;
        if (last->empty()) {
          m.registry.delete_dead(a.r_prog);
          continue;
        }
        pb::rpcb_entry_list& node = tail->emplace();
        node.rpcb_entry_map.r_maddr = *last;
        node.rpcb_entry_map.r_nc_netid = std::string(n->netid);
        node.rpcb_entry_map.r_nc_semantics = n->semantics;
        node.rpcb_entry_map.r_nc_protofmly = std::string(n->protofmly);
        node.rpcb_entry_map.r_nc_proto = std::string(n->proto);
        tail = &node.rpcb_entry_next;
      }
      m.registry.count_getaddr(2, a.r_prog, a.r_vers, nid, last && !last->empty());
    }
    void RPCBPROC_GETSTAT(Call& c, pb::rpcb_stat_byvers& result) override {
      if (enter(c, 12)) m.getstat(result);
    }
  };

  void sweep_loop() {
    std::unique_lock<std::mutex> lock(sweep_mu);
    while (!sweep_stop) {
      sweep_cv.wait_for(lock, options.sweep_interval, [this] { return sweep_stop; });
      if (sweep_stop) break;
      lock.unlock();
      const size_t n = registry.sweep();
      if (n != 0 && options.log) {
        std::fprintf(stderr, "ringrpc-bind: removed %zu registration(s) of servers that exited\n",
                     n);
      }
      lock.lock();
    }
  }

  RegistryServerOptions options;
  Registry registry;
  RateLimiter limiter;
  Server server;
  V2 v2;
  V3 v3;
  V4 v4;
  std::thread sweeper;
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  bool sweep_stop = false;
  bool started = false;
  std::string unix_bound;
  bool ipv6_bound = false;
};

RegistryServer::RegistryServer(RegistryServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

RegistryServer::~RegistryServer() { stop(); }

Registry& RegistryServer::registry() noexcept { return impl_->registry; }
Server& RegistryServer::server() noexcept { return impl_->server; }

namespace {

bool host_has_ipv6() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A Unix socket path left behind by a registry that died is removed; one that a live registry
// listens on is not. Connecting is not proof of life: a process killed a moment ago can leave
// its listener behind while the kernel tears down its io_uring, so the registry must answer a
// NULL call (portmap v2, record-marked) within half a second.
bool unix_path_in_use(const std::string& path) {
  SockAddr a;
  if (!SockAddr::unix_path(path, a)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool live = false;
  if (::connect(fd, a.get(), a.len()) == 0) {
    static constexpr uint8_t kNullCall[] = {
        0x80, 0, 0, 40, 0, 0, 0x52, 0x42, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0x86, 0xa0, 0, 0,
        0,    2, 0, 0,  0, 0, 0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0, 0};
    if (::send(fd, kNullCall, sizeof kNullCall, MSG_NOSIGNAL) == sizeof kNullCall) {
      pollfd p{fd, POLLIN, 0};
      uint8_t b[64];
      live = ::poll(&p, 1, 500) == 1 && ::recv(fd, b, sizeof b, 0) > 0;
    }
  }
  ::close(fd);
  return live;
}

// A registry killed a moment ago (SIGKILL, a crash) keeps its TCP and UDP sockets bound after
// its process is gone, until the kernel has torn down its io_uring in the background: a
// supervisor that restarts it at once, or a server about to host the embedded registry, finds
// the port taken for a few milliseconds (1 restart in 100 right after SIGKILL here, more on a
// loaded host). So a port that is taken while no registry answers on the Unix socket is given
// up to `limit` to come free; true when it did (or was free). A live registry found meanwhile
// ends the wait: the caller's bind then fails and reports it.
bool wait_for_port(uint16_t port, bool ipv6, const std::string& unix_path,
                   std::chrono::milliseconds limit) {
  if (port == 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto taken = [&] {
    for (const char* netid : {"tcp", "udp", "tcp6", "udp6"}) {
      if (!ipv6 && netid[3] == '6') continue;
      if (is_bound(netid, wildcard_uaddr(netid, port))) return true;
    }
    return false;
  };
  while (taken()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (!unix_path.empty() && unix_path_in_use(unix_path)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

bool RegistryServer::start(std::string* error, bool* addr_in_use) {
  Impl& m = *impl_;
  if (addr_in_use != nullptr) *addr_in_use = false;
  m.server.add_service(m.v4);
  m.server.add_service(m.v3);
  m.server.add_service(m.v2);
  // SET and UNSET fsync the state file: they run off the shards.
  if (!m.options.state_file.empty()) {
    for (uint32_t p : {kProcSet, kProcUnset}) {
      m.v2.set_blocking(p);
      m.v3.set_blocking(p);
      m.v4.set_blocking(p);
    }
  }
  const bool insecure = m.options.insecure;
  Registry* reg = &m.registry;
  m.server.set_auth_check([insecure, reg](const AuthRequest& r) {
    // rpcbind's check_access: SET and UNSET only from this host.
    if (r.header.prog == kProg && (r.header.proc == kProcSet || r.header.proc == kProcUnset) &&
        !insecure && r.transport != TransportKind::kUnix && !r.peer.is_loopback()) {
      reg->count_proc(static_cast<int>(r.header.vers) - 2, r.header.proc);
      return rpc::auth_stat::AUTH_TOOWEAK;
    }
    return rpc::auth_stat::AUTH_OK;
  });
  const uint16_t port = m.options.port;
  m.server.listen_tcp(SockAddr::any4(port));
  m.server.listen_udp(SockAddr::any4(port));
  m.ipv6_bound = m.options.ipv6 && host_has_ipv6();
  if (m.ipv6_bound) {
    m.server.listen_tcp(SockAddr::any6(port));
    m.server.listen_udp(SockAddr::any6(port));
  }
  if (!m.options.unix_path.empty()) {
    if (unix_path_in_use(m.options.unix_path)) {
      if (error != nullptr) *error = "another registry listens on " + m.options.unix_path;
      if (addr_in_use != nullptr) *addr_in_use = true;
      return false;
    }
    ::unlink(m.options.unix_path.c_str());
    m.server.listen_unix(m.options.unix_path);
  }
  if (!m.options.state_file.empty()) {
    const size_t slash = m.options.state_file.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      ::mkdir(m.options.state_file.substr(0, slash).c_str(), 0700);  // EEXIST is fine
    }
  }
  const auto waited_from = std::chrono::steady_clock::now();
  if (wait_for_port(port, m.ipv6_bound, m.options.unix_path, m.options.port_wait) &&
      m.options.log &&
      std::chrono::steady_clock::now() - waited_from > std::chrono::milliseconds(20)) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - waited_from);
    std::fprintf(
        stderr,
        "ringrpc-bind: port %u came free after %lld ms (a registry that had just exited held it)\n",
        port, static_cast<long long>(ms.count()));
  }
  std::string err;
  if (!m.server.start(&err)) {
    if (addr_in_use != nullptr)
      *addr_in_use = err.find("Address already in use") != std::string::npos;
    if (error != nullptr) *error = err;
    return false;
  }
  if (!m.options.unix_path.empty()) {
    ::chmod(m.options.unix_path.c_str(), 0666);  // anyone may ask, as with rpcbind's socket
    m.unix_bound = m.options.unix_path;
  }
  // The registry registers itself first, in the order rpcbind does, so that DUMP, rpcinfo -p
  // and -s read the same as they do against rpcbind; then come the saved registrations.
  m.registry.hold_writes(true);
  const uint16_t tcp = m.server.tcp_port();
  const uint16_t udp = m.server.udp_port();
  auto self = [&](const char* netid, uint16_t p, std::initializer_list<uint32_t> versions) {
    for (uint32_t v : versions)
      m.registry.set({kProg, v, netid, wildcard_uaddr(netid, p), "superuser"});
  };
  if (m.ipv6_bound) {
    self("tcp6", tcp, {4, 3});
    self("udp6", udp, {4, 3});
  }
  self("tcp", tcp, {4, 3, 2});
  self("udp", udp, {4, 3, 2});
  if (!m.unix_bound.empty()) {
    for (uint32_t v : {4u, 3u}) m.registry.set({kProg, v, "local", m.unix_bound, "superuser"});
  }
  if (!m.registry.load(&err) && m.options.log) {
    std::fprintf(stderr, "ringrpc-bind: %s; starting with no registrations\n", err.c_str());
  }
  (void)m.registry.sweep();  // servers that died while we were down
  m.registry.hold_writes(false);
  if (m.options.sweep_interval.count() > 0) m.sweeper = std::thread([&m] { m.sweep_loop(); });
  m.started = true;
  return true;
}

void RegistryServer::stop() {
  Impl& m = *impl_;
  if (!m.started) return;
  m.started = false;
  {
    std::lock_guard<std::mutex> lock(m.sweep_mu);
    m.sweep_stop = true;
  }
  m.sweep_cv.notify_all();
  if (m.sweeper.joinable()) m.sweeper.join();
  m.server.stop();
  m.server.wait();
}

std::string RegistryServer::describe() const {
  const Impl& m = *impl_;
  std::string s = "listening tcp=" + std::to_string(m.server.tcp_port()) +
                  " udp=" + std::to_string(m.server.udp_port());
  if (!m.unix_bound.empty()) s += " unix=" + m.unix_bound;
  return s;
}

}  // namespace ringrpc::registry
