#include "engine/registration.h"

#include <unistd.h>

#include "engine/client.h"
#include "engine/registry/registry.h"
#include "engine/registry/uaddr.h"
#include "rpcb_prot.h"

namespace ringrpc {
namespace {

namespace pb = ::ringrpc::rpcb;
using transport::SockAddr;

constexpr uint32_t kRpcbProg = 100000;

std::shared_ptr<Channel> make_channel(TransportKind kind, const SockAddr& addr, uint32_t vers,
                                      std::chrono::milliseconds timeout,
                                      transport::EventLoop& loop) {
  ChannelOptions o;
  o.transport = kind;
  o.address = addr;
  o.program = kRpcbProg;
  o.version = vers;
  o.timeout = timeout;
  o.udp_retry = std::chrono::milliseconds(300);
  return Channel::create(loop, o);
}

bool version_refused(const RpcError& e) {
  return e.code == Errc::kProgMismatch || e.code == Errc::kProgUnavail ||
         e.code == Errc::kProcUnavail;
}

}  // namespace

HostRegistry::HostRegistry(std::shared_ptr<Channel> ch, uint32_t version, std::string where)
    : channel_(std::move(ch)), version_(version), where_(std::move(where)) {}

HostRegistry::~HostRegistry() = default;

std::string HostRegistry::describe() const {
  return (version_ == 2 ? std::string("portmap v2 on ")
                        : "rpcbind v" + std::to_string(version_) + " on ") +
         where_;
}

Result<std::unique_ptr<HostRegistry>> HostRegistry::find(const std::string& unix_path,
                                                         std::chrono::milliseconds timeout) {
  using R = Result<std::unique_ptr<HostRegistry>>;
  transport::EventLoop& loop = ClientRuntime::shared().loop();
  CallOptions co;
  co.timeout = timeout;
  SockAddr unix_addr;
  if (!unix_path.empty() && SockAddr::unix_path(unix_path, unix_addr)) {
    auto ch = make_channel(TransportKind::kUnix, unix_addr, 4, timeout, loop);
    if (pb::RPCBVERS4_Client(ch).RPCBPROC_NULL(co).ok()) {
      return R(std::unique_ptr<HostRegistry>(new HostRegistry(ch, 4, unix_path)));
    }
  }
  const SockAddr tcp = SockAddr::loopback4(111);
  RpcError last;
  for (uint32_t v : {4u, 3u, 2u}) {
    auto ch = make_channel(TransportKind::kTcp, tcp, v, timeout, loop);
    Result<std::monostate> r = v == 2   ? pb::PMAPVERS_Client(ch).PMAPPROC_NULL(co)
                               : v == 3 ? pb::RPCBVERS_Client(ch).RPCBPROC_NULL(co)
                                        : pb::RPCBVERS4_Client(ch).RPCBPROC_NULL(co);
    if (r.ok()) return R(std::unique_ptr<HostRegistry>(new HostRegistry(ch, v, "127.0.0.1:111")));
    last = r.error();
    if (!version_refused(last)) break;  // nothing there (or it does not speak RPC)
  }
  return R(last);
}

Result<bool> HostRegistry::set(uint32_t prog, uint32_t vers, std::string_view netid,
                               std::string_view uaddr) {
  CallOptions co;
  co.timeout = timeout_;
  if (version_ == 2) {
    const uint32_t prot = registry::ipproto_of_netid(netid);
    const std::optional<uint16_t> port = registry::uaddr_port(uaddr);
    if (prot == 0 || !port) return Result<bool>(false);
    return pb::PMAPVERS_Client(channel_).PMAPPROC_SET({prog, vers, prot, *port}, co);
  }
  pb::rpcb a;
  a.r_prog = prog;
  a.r_vers = vers;
  a.r_netid = std::string(netid);
  a.r_addr = std::string(uaddr);
  a.r_owner = std::to_string(::getuid());  // the registry decides; libtirpc sends the uid too
  if (version_ == 3) return pb::RPCBVERS_Client(channel_).RPCBPROC_SET(a, co);
  return pb::RPCBVERS4_Client(channel_).RPCBPROC_SET(a, co);
}

Result<bool> HostRegistry::unset(uint32_t prog, uint32_t vers) {
  CallOptions co;
  co.timeout = timeout_;
  if (version_ == 2) return pb::PMAPVERS_Client(channel_).PMAPPROC_UNSET({prog, vers, 0, 0}, co);
  pb::rpcb a;
  a.r_prog = prog;
  a.r_vers = vers;
  a.r_owner = std::to_string(::getuid());
  if (version_ == 3) return pb::RPCBVERS_Client(channel_).RPCBPROC_UNSET(a, co);
  return pb::RPCBVERS4_Client(channel_).RPCBPROC_UNSET(a, co);
}

Result<SockAddr> rpcb_getaddr(const SockAddr& registry, TransportKind kind, uint32_t program,
                              uint32_t version, transport::EventLoop* loop,
                              std::chrono::milliseconds timeout) {
  using R = Result<SockAddr>;
  if (loop == nullptr) loop = &ClientRuntime::shared().loop();
  CallOptions co;
  co.timeout = timeout;
  const registry::NetidInfo& n = registry::netid_of(kind, registry.family());
  pb::rpcb a;
  a.r_prog = program;
  a.r_vers = version;
  a.r_netid = std::string(n.netid);
  for (uint32_t v : {4u, 3u}) {
    auto ch = make_channel(kind, registry, v, timeout, *loop);
    Result<pb::rpcb_uaddr> r = v == 4 ? pb::RPCBVERS4_Client(ch).RPCBPROC_GETADDR(a, co)
                                      : pb::RPCBVERS_Client(ch).RPCBPROC_GETADDR(a, co);
    if (r.ok()) {
      if (r.value().empty()) return R(RpcError::of(Errc::kNotRegistered));
      std::optional<SockAddr> addr = registry::from_uaddr(r.value(), n.family);
      if (!addr) return R(RpcError::of(Errc::kCannotDecode));
      return R(*addr);
    }
    if (!version_refused(r.error())) return R(r.error());
  }
  // A portmapper: version 2 knows IPv4 TCP and UDP only.
  if (registry.family() != AF_INET) return R(RpcError::of(Errc::kNotRegistered));
  auto ch = make_channel(kind, registry, 2, timeout, *loop);
  Result<uint32_t> port = pb::PMAPVERS_Client(ch).PMAPPROC_GETPORT(
      {program, version, kind == TransportKind::kUdp ? 17u : 6u, 0}, co);
  if (!port.ok()) return R(port.error());
  if (port.value() == 0 || port.value() > 65535) return R(RpcError::of(Errc::kNotRegistered));
  SockAddr addr = registry;
  addr.set_port(static_cast<uint16_t>(port.value()));
  return R(addr);
}

Result<SockAddr> rpcb_find_shm(const SockAddr& registry, uint32_t program, uint32_t version,
                               transport::EventLoop* loop, std::chrono::milliseconds timeout) {
  using R = Result<SockAddr>;
  if (loop == nullptr) loop = &ClientRuntime::shared().loop();
  CallOptions co;
  co.timeout = timeout;
  for (uint32_t v : {4u, 3u}) {
    auto ch = make_channel(TransportKind::kTcp, registry, v, timeout, *loop);
    Result<pb::rpcblist_ptr> r = v == 4 ? pb::RPCBVERS4_Client(ch).RPCBPROC_DUMP(co)
                                        : pb::RPCBVERS_Client(ch).RPCBPROC_DUMP(co);
    if (!r.ok()) {
      if (version_refused(r.error())) continue;
      return R(r.error());
    }
    for (const pb::rp__list* e = r.value().get(); e != nullptr; e = e->rpcb_next.get()) {
      const pb::rpcb& m = e->rpcb_map;
      if (m.r_prog != program || m.r_vers != version || m.r_netid != registry::kShmNetid) continue;
      // What a dead server left behind is not an offer (rpcbind keeps it until it is unset).
      if (!registry::is_bound(m.r_netid, m.r_addr)) continue;
      std::optional<SockAddr> addr = registry::from_uaddr(m.r_addr, AF_UNIX);
      if (addr) return R(*addr);
    }
    return R(RpcError::of(Errc::kNotRegistered));
  }
  return R(RpcError::of(Errc::kNotRegistered));  // a portmapper: it knows TCP and UDP only
}

Result<uint16_t> pmap_getport(const SockAddr& registry, uint32_t program, uint32_t version,
                              uint32_t protocol, transport::EventLoop* loop,
                              std::chrono::milliseconds timeout) {
  if (loop == nullptr) loop = &ClientRuntime::shared().loop();
  CallOptions co;
  co.timeout = timeout;
  auto ch = make_channel(TransportKind::kUdp, registry, 2, timeout, *loop);
  Result<uint32_t> r =
      pb::PMAPVERS_Client(ch).PMAPPROC_GETPORT({program, version, protocol, 0}, co);
  if (!r.ok()) return Result<uint16_t>(r.error());
  if (r.value() > 65535) return Result<uint16_t>(RpcError::of(Errc::kCannotDecode));
  return Result<uint16_t>(static_cast<uint16_t>(r.value()));
}

}  // namespace ringrpc
