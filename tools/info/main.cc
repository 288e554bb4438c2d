// ringrpc-info: rpcinfo's flags and output over the engine's client. What each mode asks, of
// which registry over which transport, follows rpcinfo (rpcbind 1.2.6's rpcinfo.c) so that the
// output, and the registry's statistics, are the same as rpcinfo's; --json writes the same
// facts for scripts. engine/registry/DESIGN.md lists the modes.
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <rpc/netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/client.h"
#include "engine/registration.h"
#include "engine/registry/registry_server.h"
#include "engine/registry/uaddr.h"
#include "rpcb_prot.h"

namespace {

namespace pb = ::ringrpc::rpcb;
using ringrpc::CallOptions;
using ringrpc::Channel;
using ringrpc::ChannelOptions;
using ringrpc::ClientRuntime;
using ringrpc::Errc;
using ringrpc::Result;
using ringrpc::RpcError;
using ringrpc::TransportKind;
using ringrpc::transport::SockAddr;

constexpr uint32_t kRpcbProg = 100000;
constexpr uint32_t kMaxVers = 0xffffffffu;
const std::chrono::milliseconds kMinute(60000);
const std::chrono::milliseconds kPingTimeout(10000);

bool g_json = false;
std::string g_unix_path = ringrpc::registry::kDefaultUnixPath;

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "Usage: ringrpc-info [-m | -s] [host]\n"
               "       ringrpc-info -p [host]\n"
               "       ringrpc-info -T netid host prognum [versnum]\n"
               "       ringrpc-info -l host prognum versnum\n"
               "       ringrpc-info [-n portnum] -u | -t host prognum [versnum]\n"
               "       ringrpc-info -a serv_address -T netid prognum [version]\n"
               "       ringrpc-info -b prognum versnum\n"
               "       ringrpc-info -d [-T netid] prognum versnum\n"
               "(--json: the same facts as JSON; --help: explanations)\n");
  std::exit(2);
}

void help() {
  std::printf(
      "usage: ringrpc-info [options] ...\n"
      "\n"
      "Asks ONC RPC registries (rpcbind, portmap, ringrpc-bind) what they know, and pings RPC\n"
      "services; flags and output as rpcinfo's.\n"
      "\n"
      "  ringrpc-info [host]          every registration (rpcbind DUMP)\n"
      "  -s [host]                    the same, one line per program\n"
      "  -p [host]                    portmap v2 registrations\n"
      "  -m [host]                    the registry's statistics\n"
      "  -l host prog vers            the program's addresses on every transport of host's\n"
      "                               address family\n"
      "  -T netid host prog [vers]    ping prog through the registry on netid (tcp, udp, tcp6,\n"
      "                               udp6, local); without vers, every version it has\n"
      "  -t|-u host prog [vers]       ping over TCP or UDP\n"
      "  -a uaddr -T netid prog [vers]  ping the universal address directly\n"
      "  -d [-T netid] prog vers      remove a registration (root, or its owner)\n"
      "  -b prog vers                 broadcast a ping and list who answers\n"
      "  -n port                      accepted with -t/-u, as rpcinfo (which ignores it too)\n"
      "  --json                       write the result as JSON on stdout\n"
      "  --unix PATH                  the local registry's socket (default %s)\n"
      "  --help                       print this help and exit\n"
      "\n"
      "Without a host, -p, -s, -m and the dump ask the local registry over its Unix socket.\n"
      "Exit status: 0 when everything answered, 1 when something did not, 2 on bad usage.\n",
      ringrpc::registry::kDefaultUnixPath);
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "ringrpc-info: %s\n", msg.c_str());
  std::exit(1);
}

std::string rpc_name(uint32_t prog) {
  rpcent ent{};
  rpcent* res = nullptr;
  char buf[1024];
  if (getrpcbynumber_r(static_cast<int>(prog), &ent, buf, sizeof buf, &res) == 0 && res) {
    return res->r_name;
  }
  return {};
}

uint32_t parse_prog(const char* arg) {
  bool digits = *arg != '\0';
  for (const char* p = arg; *p; ++p) digits = digits && (*p >= '0' && *p <= '9');
  if (!digits) {
    rpcent ent{};
    rpcent* res = nullptr;
    char buf[1024];
    if (getrpcbyname_r(arg, &ent, buf, sizeof buf, &res) != 0 || res == nullptr) {
      std::fprintf(stderr, "ringrpc-info: %s is unknown service\n", arg);
      std::exit(1);
    }
    return static_cast<uint32_t>(res->r_number);
  }
  return static_cast<uint32_t>(std::strtoul(arg, nullptr, 10));
}

uint32_t parse_vers(const char* arg) {
  char* end = nullptr;
  const long v = std::strtol(arg, &end, 10);
  if (end == arg || *end != '\0') {
    std::fprintf(stderr, "ringrpc-info: %s is illegal version number\n", arg);
    std::exit(1);
  }
  return static_cast<uint32_t>(static_cast<int>(v));
}

std::string json_str(std::string_view s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::shared_ptr<Channel> channel(TransportKind kind, const SockAddr& addr, uint32_t prog,
                                 uint32_t vers, std::chrono::milliseconds timeout) {
  ChannelOptions o;
  o.transport = kind;
  o.address = addr;
  o.program = prog;
  o.version = vers;
  o.timeout = timeout;
  o.udp_retry = std::chrono::seconds(1);
  return Channel::create(ClientRuntime::shared().loop(), o);
}

// The local registry's socket, as rpcinfo's local_rpcb().
std::shared_ptr<Channel> local_rpcb(uint32_t vers) {
  SockAddr a;
  if (!SockAddr::unix_path(g_unix_path, a)) die("bad --unix path " + g_unix_path);
  return channel(TransportKind::kUnix, a, kRpcbProg, vers, kMinute);
}

// rpcinfo's clnt_rpcbind_create: the registry on `host` over a connection (TCP over IPv4, else
// IPv6), else a datagram socket. `netid` and `addr` say which was used.
std::shared_ptr<Channel> host_rpcb(const std::string& host, uint32_t vers, std::string* netid,
                                   SockAddr* addr) {
  struct Try {
    TransportKind kind;
    bool v6;
    const char* netid;
  };
  for (const Try& t :
       {Try{TransportKind::kTcp, false, "tcp"}, Try{TransportKind::kTcp, true, "tcp6"},
        Try{TransportKind::kUdp, false, "udp"}, Try{TransportKind::kUdp, true, "udp6"}}) {
    SockAddr a;
    if (!SockAddr::resolve(host, 111, t.v6, a)) continue;
    if (netid) *netid = t.netid;
    if (addr) *addr = a;
    return channel(t.kind, a, kRpcbProg, vers, kMinute);
  }
  std::fprintf(stderr, "ringrpc-info: can't contact rpcbind: RPC: Unknown host\n");
  std::exit(1);
}

[[noreturn]] void cannot_contact(const char* what, const RpcError& e) {
  std::fprintf(stderr, "ringrpc-info: can't contact %s: %s\n", what, e.to_string().c_str());
  std::exit(1);
}

// --- -p ---------------------------------------------------------------------------------------

void pmapdump(int argc, char** argv) {
  if (argc > 1) usage();
  std::shared_ptr<Channel> ch;
  if (argc == 1) {
    SockAddr a;
    if (!SockAddr::resolve(argv[0], 111, false, a)) {
      std::fprintf(stderr, "ringrpc-info: %s: unknown host\n", argv[0]);
      std::exit(1);
    }
    ch = channel(TransportKind::kTcp, a, kRpcbProg, 2, kMinute);
  } else {
    ch = local_rpcb(2);
  }
  Result<pb::pmap_list_ptr> r = pb::PMAPVERS_Client(ch).PMAPPROC_DUMP();
  if (!r.ok()) {
    if (r.error().code == Errc::kProgMismatch && r.error().mismatch.low > 2 && argc == 1) {
      std::fprintf(stderr, "%s does not support portmapper.  Try rpcinfo %s instead\n", argv[0],
                   argv[0]);
      std::exit(1);
    }
    cannot_contact("portmapper", r.error());
  }
  const pb::pmap_list* p = r.value().get();
  if (g_json) {
    std::printf("[");
    for (bool first = true; p != nullptr; p = p->next.get(), first = false) {
      const char* proto = p->map.prot == 6 ? "tcp" : p->map.prot == 17 ? "udp" : nullptr;
      std::printf(
          "%s\n  {\"program\": %u, \"version\": %u, \"protocol\": %s, \"port\": %u, "
          "\"service\": %s}",
          first ? "" : ",", p->map.prog, p->map.vers,
          proto ? json_str(proto).c_str() : std::to_string(p->map.prot).c_str(), p->map.port,
          json_str(rpc_name(p->map.prog)).c_str());
    }
    std::printf("\n]\n");
    return;
  }
  if (p == nullptr) {
    std::printf("No remote programs registered.\n");
    return;
  }
  std::printf("   program vers proto   port  service\n");
  for (; p != nullptr; p = p->next.get()) {
    std::printf("%10u%5u", p->map.prog, p->map.vers);
    if (p->map.prot == 17) {
      std::printf("%6s", "udp");
    } else if (p->map.prot == 6) {
      std::printf("%6s", "tcp");
    } else {
      std::printf("%6u", p->map.prot);
    }
    std::printf("%7u", p->map.port);
    const std::string name = rpc_name(p->map.prog);
    if (!name.empty()) {
      std::printf("  %s\n", name.c_str());
    } else {
      std::printf("\n");
    }
  }
}

// --- dump and -s ------------------------------------------------------------------------------

void rpcbdump(bool shortform, const char* netid, int argc, char** argv) {
  if (argc > 1) usage();
  std::shared_ptr<Channel> ch;
  if (argc == 1) {
    if (netid == nullptr) {
      ch = host_rpcb(argv[0], 3, nullptr, nullptr);
    } else {
      const ringrpc::registry::NetidInfo* n = ringrpc::registry::find_netid(netid);
      if (n == nullptr) die(std::string("invalid transport ") + netid);
      SockAddr a;
      if (!SockAddr::resolve(argv[0], 111, n->family == AF_INET6, a)) die("unknown host");
      ch = channel(n->kind, a, kRpcbProg, 3, kMinute);
    }
  } else {
    ch = local_rpcb(3);
  }
  std::vector<pb::rpcb> list;
  Result<pb::rpcblist_ptr> r = pb::RPCBVERS_Client(ch).RPCBPROC_DUMP();
  if (r.ok()) {
    for (const pb::rp__list* p = r.value().get(); p; p = p->rpcb_next.get()) {
      list.push_back(p->rpcb_map);
    }
  } else if ((r.error().code == Errc::kProgMismatch || r.error().code == Errc::kProgUnavail) &&
             r.error().mismatch.low == 4) {
    ChannelOptions o = ch->options();
    auto ch4 = channel(o.transport, o.address, kRpcbProg, 4, kMinute);
    Result<pb::rpcblist_ptr> r4 = pb::RPCBVERS4_Client(ch4).RPCBPROC_DUMP();
    if (!r4.ok()) cannot_contact("rpcbind", r4.error());
    for (const pb::rp__list* p = r4.value().get(); p; p = p->rpcb_next.get()) {
      list.push_back(p->rpcb_map);
    }
  } else if ((r.error().code == Errc::kProgMismatch || r.error().code == Errc::kProgUnavail) &&
             r.error().mismatch.high == 2) {
    // A portmapper: its list, in rpcbind's form.
    ChannelOptions o = ch->options();
    auto ch2 = channel(o.transport, o.address, kRpcbProg, 2, kMinute);
    Result<pb::pmap_list_ptr> r2 = pb::PMAPVERS_Client(ch2).PMAPPROC_DUMP();
    if (!r2.ok()) cannot_contact("rpcbind", r2.error());
    for (const pb::pmap_list* p = r2.value().get(); p; p = p->next.get()) {
      pb::rpcb e;
      e.r_prog = p->map.prog;
      e.r_vers = p->map.vers;
      e.r_netid = p->map.prot == 17  ? std::string("udp")
                  : p->map.prot == 6 ? std::string("tcp")
                                     : std::to_string(p->map.prot);
      e.r_owner = "unknown";
      e.r_addr = "0.0.0.0." + std::to_string(p->map.port >> 8 & 0xff) + "." +
                 std::to_string(p->map.port & 0xff);
      list.push_back(std::move(e));
    }
  } else {
    cannot_contact("rpcbind", r.error());
  }

  if (g_json) {
    std::printf("[");
    bool first = true;
    for (const pb::rpcb& e : list) {
      std::printf(
          "%s\n  {\"program\": %u, \"version\": %u, \"netid\": %s, \"address\": %s, "
          "\"service\": %s, \"owner\": %s}",
          first ? "" : ",", e.r_prog, e.r_vers, json_str(e.r_netid).c_str(),
          json_str(e.r_addr).c_str(), json_str(rpc_name(e.r_prog)).c_str(),
          json_str(e.r_owner).c_str());
      first = false;
    }
    std::printf("\n]\n");
    return;
  }
  if (list.empty()) {
    std::printf("No remote programs registered.\n");
    return;
  }
  if (!shortform) {
    std::printf("   program version netid     address                service    owner\n");
    for (const pb::rpcb& e : list) {
      std::printf("%10u%5u    ", e.r_prog, e.r_vers);
      std::printf("%-9s ", e.r_netid.c_str());
      std::printf("%-22s", e.r_addr.c_str());
      const std::string name = rpc_name(e.r_prog);
      std::printf(" %-10s", name.empty() ? "-" : name.c_str());
      std::printf(" %s\n", e.r_owner.c_str());
    }
    return;
  }
  // One line per program: versions and netids newest first, as rpcinfo's lists build them.
  struct Prog {
    uint32_t prog;
    std::vector<uint32_t> vers;
    std::vector<std::string> netids;
    std::string owner;
  };
  std::vector<Prog> progs;
  for (const pb::rpcb& e : list) {
    Prog* p = nullptr;
    for (Prog& q : progs) {
      if (q.prog == e.r_prog) p = &q;
    }
    if (p == nullptr) {
      progs.push_back({e.r_prog, {}, {}, e.r_owner});
      p = &progs.back();
    }
    if (std::find(p->vers.begin(), p->vers.end(), e.r_vers) == p->vers.end()) {
      p->vers.insert(p->vers.begin(), e.r_vers);
    }
    if (std::find(p->netids.begin(), p->netids.end(), e.r_netid) == p->netids.end()) {
      p->netids.insert(p->netids.begin(), e.r_netid);
    }
  }
  std::printf("   program version(s) netid(s)                         service     owner\n");
  for (const Prog& p : progs) {
    std::printf("%10u  ", p.prog);
    std::string v;
    for (size_t i = 0; i < p.vers.size(); ++i) {
      v += std::to_string(static_cast<int>(p.vers[i]));
      if (i + 1 < p.vers.size()) v += ",";
    }
    std::printf("%-10s", v.c_str());
    std::string n;
    for (size_t i = 0; i < p.netids.size(); ++i) {
      n += p.netids[i];
      if (i + 1 < p.netids.size()) n += ",";
    }
    std::printf("%-32s", n.c_str());
    const std::string name = rpc_name(p.prog);
    std::printf(" %-11s", name.empty() ? "-" : name.c_str());
    std::printf(" %s\n", p.owner.c_str());
  }
}

// --- -l ---------------------------------------------------------------------------------------

void rpcbaddrlist(const char* netid, int argc, char** argv) {
  if (argc != 3) usage();
  std::string used_netid;
  SockAddr target;
  std::shared_ptr<Channel> ch;
  if (netid == nullptr) {
    ch = host_rpcb(argv[0], 4, &used_netid, &target);
  } else {
    const ringrpc::registry::NetidInfo* n = ringrpc::registry::find_netid(netid);
    if (n == nullptr) die(std::string("invalid transport ") + netid);
    if (!SockAddr::resolve(argv[0], 111, n->family == AF_INET6, target)) die("unknown host");
    used_netid = netid;
    ch = channel(n->kind, target, kRpcbProg, 4, kMinute);
  }
  pb::rpcb parms;
  parms.r_prog = parse_prog(argv[1]);
  parms.r_vers = parse_vers(argv[2]);
  parms.r_netid = used_netid;
  // The address we reached the registry on, in case it helps it answer (as rpcinfo sends).
  parms.r_addr = ringrpc::registry::to_uaddr(target);
  Result<pb::rpcb_entry_list_ptr> r = pb::RPCBVERS4_Client(ch).RPCBPROC_GETADDRLIST(parms);
  if (!r.ok()) cannot_contact("rpcbind", r.error());
  const pb::rpcb_entry_list* p = r.value().get();
  const std::string name = rpc_name(parms.r_prog);
  if (g_json) {
    std::printf("[");
    for (bool first = true; p; p = p->rpcb_entry_next.get(), first = false) {
      const pb::rpcb_entry& e = p->rpcb_entry_map;
      std::printf(
          "%s\n  {\"program\": %u, \"version\": %u, \"netid\": %s, \"family\": %s, "
          "\"proto\": %s, \"semantics\": %u, \"address\": %s, \"service\": %s}",
          first ? "" : ",", parms.r_prog, parms.r_vers, json_str(e.r_nc_netid).c_str(),
          json_str(e.r_nc_protofmly).c_str(), json_str(e.r_nc_proto).c_str(), e.r_nc_semantics,
          json_str(e.r_maddr).c_str(), json_str(name).c_str());
    }
    std::printf("\n]\n");
    return;
  }
  if (p == nullptr) {
    std::printf("No remote programs registered.\n");
    return;
  }
  std::printf("   program vers  tp_family/name/class    address\t\t  service\n");
  for (; p; p = p->rpcb_entry_next.get()) {
    const pb::rpcb_entry& e = p->rpcb_entry_map;
    std::printf("%10u%3u    ", parms.r_prog, parms.r_vers);
    const char* sem = e.r_nc_semantics == 1 ? "clts" : e.r_nc_semantics == 2 ? "cots" : "cots_ord";
    const std::string fam = e.r_nc_protofmly + "/" + e.r_nc_proto + "/" + sem + " ";
    std::printf("%-24s", fam.c_str());
    std::printf("%-24s", e.r_maddr.c_str());
    std::printf(" %-13s", name.empty() ? "-" : name.c_str());
    std::printf("\n");
  }
}

// --- -m ---------------------------------------------------------------------------------------

std::string spaces(int n) { return n <= 0 || n > 64 ? std::string() : std::string(n, ' '); }

// One table of rpcinfo -m: names over fields, each padded to the next tab stop.
void stat_table(const std::vector<const char*>& names, const std::vector<std::string>& fields) {
  constexpr int kTab = 8;
  std::string head;
  std::string line;
  for (size_t i = 0; i < names.size(); ++i) {
    const int flen = static_cast<int>(fields[i].size());
    const int width = kTab * (1 + flen / kTab);
    head += names[i] + spaces(width - static_cast<int>(std::strlen(names[i])));
    line += fields[i] + spaces(width - flen);
  }
  std::printf("%s\n%s\n", head.c_str(), line.c_str());
}

void print_getaddrstat(const pb::rpcb_stat& s) {
  std::printf("prog\t\tvers\tnetid\t  success\tfailure\n");
  for (const pb::rpcbs_addrlist* a = s.addrinfo.get(); a; a = a->next.get()) {
    const std::string name = rpc_name(a->prog);
    if (!name.empty()) {
      std::printf("%-16s", name.c_str());
    } else {
      std::printf("%-16d", static_cast<int>(a->prog));
    }
    std::printf("%d\t%s\t  %-12d\t%d\n", static_cast<int>(a->vers), a->netid.c_str(), a->success,
                a->failure);
  }
}

void print_rmtcallstat(int v, const pb::rpcb_stat& s) {
  if (v == 2) {
    std::printf("prog\t\tvers\tproc\tnetid\tindirect success failure\n");
  } else {
    std::printf("prog\t\tvers\tproc\tnetid\tsuccess\tfailure\n");
  }
  for (const pb::rpcbs_rmtcalllist* r = s.rmtinfo.get(); r; r = r->next.get()) {
    const std::string name = rpc_name(r->prog);
    if (!name.empty()) {
      std::printf("%-16s", name.c_str());
    } else {
      std::printf("%-16d", static_cast<int>(r->prog));
    }
    std::printf("%d\t%d\t%s\t", static_cast<int>(r->vers), static_cast<int>(r->proc),
                r->netid.c_str());
    if (v == 2) std::printf("%d\t ", r->indirect);
    std::printf("%d\t%d\n", r->success, r->failure);
  }
}

std::vector<std::string> stat_fields(const pb::rpcb_stat& s, size_t from, size_t to, bool v4) {
  std::vector<std::string> out;
  for (size_t i = from; i <= to; ++i) {
    std::string f;
    int cnt = 0;
    switch (i) {
      case 1:
        f = std::to_string(s.setinfo) + "/";
        break;
      case 2:
        f = std::to_string(s.unsetinfo) + "/";
        break;
      case 3:
        for (const pb::rpcbs_addrlist* a = s.addrinfo.get(); a; a = a->next.get()) {
          cnt += a->success;
        }
        f = std::to_string(cnt) + "/";
        break;
      case 5:
        for (const pb::rpcbs_rmtcalllist* r = s.rmtinfo.get(); r; r = r->next.get()) {
          cnt += r->success;
        }
        f = std::to_string(cnt) + "/";
        break;
      default:
        break;
    }
    // rpcbind counts GETADDRLIST's lookups in GETADDR's successes; rpcinfo adds its calls too.
    f += std::to_string(v4 && i == 3 ? s.info[3] + s.info[11] : s.info[i]);
    out.push_back(f);
  }
  return out;
}

void rpcbgetstat(int argc, char** argv) {
  std::shared_ptr<Channel> ch = argc >= 1 ? host_rpcb(argv[0], 4, nullptr, nullptr) : local_rpcb(4);
  Result<pb::rpcb_stat_byvers> r = pb::RPCBVERS4_Client(ch).RPCBPROC_GETSTAT();
  if (!r.ok()) cannot_contact("rpcbind", r.error());
  const pb::rpcb_stat_byvers& inf = r.value();
  if (g_json) {
    std::printf("{");
    static const char* kNames[3] = {"portmap_v2", "rpcbind_v3", "rpcbind_v4"};
    for (size_t v = 0; v < 3; ++v) {
      const pb::rpcb_stat& s = inf[v];
      std::printf("%s\n  %s: {\"calls\": [", v ? "," : "", json_str(kNames[v]).c_str());
      for (size_t i = 0; i < 13; ++i) std::printf("%s%d", i ? ", " : "", s.info[i]);
      std::printf("], \"set\": %d, \"unset\": %d, \"lookups\": [", s.setinfo, s.unsetinfo);
      bool first = true;
      for (const pb::rpcbs_addrlist* a = s.addrinfo.get(); a; a = a->next.get(), first = false) {
        std::printf(
            "%s{\"program\": %u, \"version\": %u, \"netid\": %s, \"success\": %d, "
            "\"failure\": %d}",
            first ? "" : ", ", a->prog, a->vers, json_str(a->netid).c_str(), a->success,
            a->failure);
      }
      std::printf("], \"remote_calls\": [");
      first = true;
      for (const pb::rpcbs_rmtcalllist* c = s.rmtinfo.get(); c; c = c->next.get(), first = false) {
        std::printf(
            "%s{\"program\": %u, \"version\": %u, \"procedure\": %u, \"netid\": %s, "
            "\"success\": %d, \"failure\": %d, \"indirect\": %d}",
            first ? "" : ", ", c->prog, c->vers, c->proc, json_str(c->netid).c_str(), c->success,
            c->failure, c->indirect);
      }
      std::printf("]}");
    }
    std::printf("\n}\n");
    return;
  }
  std::printf("PORTMAP (version 2) statistics\n");
  stat_table({"NULL", "SET", "UNSET", "GETPORT", "DUMP", "CALLIT"},
             stat_fields(inf[0], 0, 5, false));
  std::printf("\n");
  if (inf[0].info[5]) {
    std::printf("PMAP_RMTCALL call statistics\n");
    print_rmtcallstat(0, inf[0]);
    std::printf("\n");
  }
  if (inf[0].info[3]) {
    std::printf("PMAP_GETPORT call statistics\n");
    print_getaddrstat(inf[0]);
    std::printf("\n");
  }
  std::printf("RPCBIND (version 3) statistics\n");
  stat_table({"NULL", "SET", "UNSET", "GETADDR", "DUMP", "CALLIT", "TIME", "U2T", "T2U"},
             stat_fields(inf[1], 0, 8, false));
  std::printf("\n");
  if (inf[1].info[5]) {
    std::printf("RPCB_RMTCALL (version 3) call statistics\n");
    print_rmtcallstat(1, inf[1]);
    std::printf("\n");
  }
  if (inf[1].info[3]) {
    std::printf("RPCB_GETADDR (version 3) call statistics\n");
    print_getaddrstat(inf[1]);
    std::printf("\n");
  }
  std::printf("RPCBIND (version 4) statistics\n");
  stat_table({"NULL", "SET", "UNSET", "GETADDR", "DUMP", "CALLIT", "TIME", "U2T", "T2U"},
             stat_fields(inf[2], 0, 8, true));
  stat_table({"VERADDR", "INDRECT", "GETLIST", "GETSTAT"}, stat_fields(inf[2], 9, 12, true));
  if (inf[2].info[5] || inf[2].info[10]) {
    std::printf("\n");
    std::printf("RPCB_RMTCALL (version 4) call statistics\n");
    print_rmtcallstat(2, inf[2]);
  }
  if (inf[2].info[3]) {
    std::printf("\n");
    std::printf("RPCB_GETADDR (version 4) call statistics\n");
    print_getaddrstat(inf[2]);
  }
}

// --- pings ------------------------------------------------------------------------------------

struct PingResult {
  uint32_t vers;
  RpcError error;
};
std::vector<PingResult> g_pings;

RpcError null_call(const std::shared_ptr<Channel>& ch) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    RpcError e;
  } w;
  CallOptions co;
  co.timeout = kPingTimeout;
  ch->call_raw(
      0, [](const void*, ringrpc::xdr::XdrWriter&) { return true; }, nullptr,
      [](void* ctx, const RpcError& e, ringrpc::xdr::XdrReader*) {
        auto* st = static_cast<Wait*>(ctx);
        std::lock_guard<std::mutex> lock(st->mu);
        st->e = e;
        st->done = true;
        st->cv.notify_all();
      },
      &w, co);
  std::unique_lock<std::mutex> lock(w.mu);
  w.cv.wait(lock, [&w] { return w.done; });
  return w.e;
}

// rpcinfo's pstatus: one line on stdout, and the error on stderr.
bool pstatus(uint32_t prog, uint32_t vers, const RpcError& e) {
  g_pings.push_back({vers, e});
  if (g_json) return e.ok();
  if (!e.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "ringrpc-info: %s\n", e.to_string().c_str());
    std::printf("program %u version %u is not available\n", prog, vers);
    return false;
  }
  std::printf("program %u version %u ready and waiting\n", prog, vers);
  return true;
}

void print_pings_json(uint32_t prog) {
  std::printf("[");
  bool first = true;
  for (const PingResult& p : g_pings) {
    std::printf("%s\n  {\"program\": %u, \"version\": %u, \"ok\": %s", first ? "" : ",", prog,
                p.vers, p.error.ok() ? "true" : "false");
    if (!p.error.ok()) std::printf(", \"error\": %s", json_str(p.error.to_string()).c_str());
    std::printf("}");
    first = false;
  }
  std::printf("\n]\n");
}

// Pings `vers`, or, when it is not given, version 0 first to learn from PROG_MISMATCH which
// versions there are, then each of them (rpcinfo's way; a server that answers version 0 and
// 0xffffffff too is pinged on... every version, as rpcinfo warns).
int ping_versions(uint32_t prog, bool known, uint32_t vers,
                  const std::function<std::shared_ptr<Channel>(uint32_t)>& make) {
  std::shared_ptr<Channel> ch = make(known ? vers : 0);
  RpcError e = null_call(ch);
  int rc = 0;
  if (known) {
    rc = pstatus(prog, vers, e) ? 0 : 1;
  } else {
    uint32_t low = 0;
    uint32_t high = 0;
    if (e.code == Errc::kProgMismatch) {
      low = e.mismatch.low;
      high = e.mismatch.high;
    } else if (e.ok()) {
      ch = make(kMaxVers);
      e = null_call(ch);
      if (e.code == Errc::kProgMismatch) {
        low = e.mismatch.low;
        high = e.mismatch.high;
      } else if (e.ok()) {
        low = 0;
        high = kMaxVers;
      } else {
        (void)pstatus(prog, kMaxVers, e);
        return 1;
      }
    } else {
      (void)pstatus(prog, 0, e);
      return 1;
    }
    for (uint64_t v = low; v <= high; ++v) {
      if (!pstatus(prog, static_cast<uint32_t>(v), null_call(make(static_cast<uint32_t>(v))))) {
        rc = 1;
      }
    }
  }
  if (g_json) print_pings_json(prog);
  return rc;
}

// Binds through the registry on `host` over `netid`'s transport, as clnt_tp_create does.
Result<SockAddr> bind_on(const std::string& host, const ringrpc::registry::NetidInfo& n,
                         uint32_t prog, uint32_t vers) {
  if (n.family == AF_UNIX) {
    SockAddr reg;
    if (!SockAddr::unix_path(g_unix_path, reg))
      return Result<SockAddr>(RpcError::of(Errc::kUnknownHost));
    auto ch = channel(TransportKind::kUnix, reg, kRpcbProg, 4, kPingTimeout);
    pb::rpcb a;
    a.r_prog = prog;
    a.r_vers = vers;
    a.r_netid = std::string(n.netid);
    Result<pb::rpcb_uaddr> r = pb::RPCBVERS4_Client(ch).RPCBPROC_GETADDR(a);
    if (!r.ok()) return Result<SockAddr>(r.error());
    std::optional<SockAddr> addr = ringrpc::registry::from_uaddr(r.value(), AF_UNIX);
    if (!addr) return Result<SockAddr>(RpcError::of(Errc::kNotRegistered));
    return Result<SockAddr>(*addr);
  }
  SockAddr reg;
  if (!SockAddr::resolve(host, 111, n.family == AF_INET6, reg)) {
    return Result<SockAddr>(RpcError::of(Errc::kUnknownHost));
  }
  return ringrpc::rpcb_getaddr(reg, n.kind, prog, vers, nullptr, kPingTimeout);
}

int progping(const char* netid, int argc, char** argv) {
  if (argc < 2 || argc > 3 || netid == nullptr) usage();
  const ringrpc::registry::NetidInfo* n = ringrpc::registry::find_netid(netid);
  if (n == nullptr) {
    std::fprintf(stderr, "ringrpc-info: Could not find %s\n", netid);
    return 1;
  }
  const uint32_t prog = parse_prog(argv[1]);
  const bool known = argc == 3;
  const uint32_t first = known ? parse_vers(argv[2]) : 0;
  Result<SockAddr> addr = bind_on(argv[0], *n, prog, first);
  if (!addr.ok()) {
    std::fprintf(stderr, "ringrpc-info: %s\n", addr.error().to_string().c_str());
    return 1;
  }
  return ping_versions(prog, known, first, [&](uint32_t v) {
    return channel(n->kind, addr.value(), prog, v, kPingTimeout);
  });
}

int ip_ping(bool tcp, int argc, char** argv) {
  if (argc < 2 || argc > 3) usage();
  const uint32_t prog = parse_prog(argv[1]);
  const bool known = argc == 3;
  const uint32_t first = known ? parse_vers(argv[2]) : 0;
  // Every netid of the protocol, in /etc/netconfig's order, until one binds.
  RpcError last = RpcError::of(Errc::kUnknownHost);
  const std::array<const char*, 2> nids =
      tcp ? std::array<const char*, 2>{"tcp", "tcp6"} : std::array<const char*, 2>{"udp", "udp6"};
  for (const char* nid : nids) {
    const ringrpc::registry::NetidInfo& n = *ringrpc::registry::find_netid(nid);
    Result<SockAddr> addr = bind_on(argv[0], n, prog, first);
    if (!addr.ok()) {
      last = addr.error();
      if (last.code != Errc::kUnknownHost) break;
      continue;
    }
    return ping_versions(prog, known, first, [&](uint32_t v) {
      return channel(n.kind, addr.value(), prog, v, kPingTimeout);
    });
  }
  std::fprintf(stderr, "%s: %s\n", argv[0], last.to_string().c_str());
  return 1;
}

int addrping(const char* uaddr, const char* netid, int argc, char** argv) {
  if (argc < 1 || argc > 2 || netid == nullptr) usage();
  const ringrpc::registry::NetidInfo* n = ringrpc::registry::find_netid(netid);
  if (n == nullptr) {
    std::fprintf(stderr, "ringrpc-info: Could not find %s\n", netid);
    return 1;
  }
  std::optional<SockAddr> addr = ringrpc::registry::from_uaddr(uaddr, n->family);
  if (!addr) die("no address for client handle");
  const uint32_t prog = parse_prog(argv[0]);
  const bool known = argc == 2;
  return ping_versions(prog, known, known ? parse_vers(argv[1]) : 0,
                       [&](uint32_t v) { return channel(n->kind, *addr, prog, v, kPingTimeout); });
}

// --- -d ---------------------------------------------------------------------------------------

int deletereg(const char* netid, int argc, char** argv) {
  if (argc != 2) usage();
  if (netid != nullptr && ringrpc::registry::find_netid(netid) == nullptr) {
    std::fprintf(stderr, "ringrpc-info: netid %s not supported\n", netid);
    return 1;
  }
  pb::rpcb a;
  a.r_prog = parse_prog(argv[0]);
  a.r_vers = parse_vers(argv[1]);
  a.r_netid = netid != nullptr ? netid : "";
  a.r_owner = std::to_string(::getuid());
  // libtirpc's rpcb_unset: version 3 over the local socket, else over TCP on loopback.
  Result<bool> r = pb::RPCBVERS_Client(local_rpcb(3)).RPCBPROC_UNSET(a);
  if (!r.ok()) {
    auto ch = channel(TransportKind::kTcp, SockAddr::loopback4(111), kRpcbProg, 3, kMinute);
    r = pb::RPCBVERS_Client(ch).RPCBPROC_UNSET(a);
  }
  if (!r.ok() || !r.value()) {
    std::fprintf(stderr, "ringrpc-info: Could not delete registration for prog %s version %s\n",
                 argv[0], argv[1]);
    return 1;
  }
  if (g_json) std::printf("{\"deleted\": true}\n");
  return 0;
}

// --- -b ---------------------------------------------------------------------------------------

// rpc_broadcast: a NULL call wrapped in rpcbind's BCAST (v4) and portmap's CALLIT (v2), sent to
// the broadcast address of every IPv4 interface that has one; every registry that forwards it
// and gets an answer replies. Prints "uaddr<TAB>host" per answer until the timeout.
int brdcst(int argc, char** argv) {
  if (argc != 2) usage();
  const uint32_t prog = parse_prog(argv[0]);
  const uint32_t vers = parse_vers(argv[1]);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  const uint32_t xid = static_cast<uint32_t>(::getpid()) * 7919u ^ 0x5a5a0000u;
  auto message = [&](uint32_t rpcb_vers, uint32_t proc) {
    std::vector<uint8_t> m;
    auto put = [&m](uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) m.push_back(static_cast<uint8_t>(v >> s));
    };
    for (uint32_t v : {xid + rpcb_vers, 0u, 2u, kRpcbProg, rpcb_vers, proc, 0u, 0u, 0u, 0u}) put(v);
    for (uint32_t v : {prog, vers, 0u, 0u}) put(v);  // rmtcallargs with empty arguments
    return m;
  };
  const std::vector<uint8_t> bcast4 = message(4, 5);
  const std::vector<uint8_t> callit2 = message(2, 5);
  int sent = 0;
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
          !(i->ifa_flags & IFF_BROADCAST) || !i->ifa_broadaddr) {
        continue;
      }
      sockaddr_in to = *reinterpret_cast<sockaddr_in*>(i->ifa_broadaddr);
      to.sin_port = htons(111);
      for (const auto* m : {&bcast4, &callit2}) {
        if (::sendto(fd, m->data(), m->size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) >
            0) {
          ++sent;
        }
      }
    }
    ::freeifaddrs(ifs);
  }
  if (sent == 0) {
    ::close(fd);
    die("broadcast failed: no interface with a broadcast address");
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  uint8_t buf[9000];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    timeval tv{static_cast<time_t>(left.count() / 1000),
               static_cast<suseconds_t>(left.count() % 1000 * 1000)};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_storage from{};
    socklen_t flen = sizeof from;
    const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 24) {
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
      continue;
    }
    // An accepted SUCCESS reply to one of ours: xid, REPLY, MSG_ACCEPTED, verifier, SUCCESS.
    auto u32 = [&buf](size_t at) {
      return static_cast<uint32_t>(buf[at]) << 24 | static_cast<uint32_t>(buf[at + 1]) << 16 |
             static_cast<uint32_t>(buf[at + 2]) << 8 | buf[at + 3];
    };
    const uint32_t rx = u32(0);
    if ((rx != xid + 4 && rx != xid + 2) || u32(4) != 1 || u32(8) != 0) continue;
    const size_t verf_len = (u32(16) + 3) & ~3u;
    if (24 + verf_len > static_cast<size_t>(n) || u32(20 + verf_len) != 0) continue;
    // Who answered is the service, not the registry that forwarded: its address is in the
    // reply (rpcbind's rmtcallres.addr, portmap's call_result.port on the sender's host).
    const size_t body = 24 + verf_len;
    SockAddr who = SockAddr::from(reinterpret_cast<sockaddr*>(&from), flen);
    std::string uaddr;
    if (rx == xid + 4) {
      if (body + 4 > static_cast<size_t>(n)) continue;
      const uint32_t len = u32(body);
      if (len > static_cast<size_t>(n) - body - 4) continue;
      uaddr.assign(reinterpret_cast<const char*>(buf) + body + 4, len);
      std::optional<SockAddr> a = ringrpc::registry::from_uaddr(uaddr, AF_INET);
      if (!a) continue;
      who = *a;
    } else {
      if (body + 4 > static_cast<size_t>(n) || u32(body) > 65535) continue;
      who.set_port(static_cast<uint16_t>(u32(body)));
      uaddr = ringrpc::registry::to_uaddr(who);
    }
    char host[NI_MAXHOST];
    // rpcinfo's words when the name cannot be had.
    const bool named = ::getnameinfo(who.get(), who.len(), host, sizeof host, nullptr, 0, 0) == 0;
    if (g_json) {
      std::printf("{\"address\": %s, \"host\": %s}\n", json_str(uaddr).c_str(),
                  json_str(named ? host : "unknown").c_str());
    } else {
      std::printf("%s\t%s\n", uaddr.c_str(), named ? host : "unknown");
    }
    std::fflush(stdout);
  }
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  enum Mode {
    kNone,
    kPmapDump,
    kTcpPing,
    kUdpPing,
    kBroadcast,
    kDelete,
    kAddrPing,
    kDump,
    kDumpShort,
    kAddrList,
    kStat
  };
  Mode mode = kNone;
  const char* netid = nullptr;
  const char* address = nullptr;
  bool bad = false;
  static const option kLong[] = {{"json", no_argument, nullptr, 'J'},
                                 {"help", no_argument, nullptr, 'H'},
                                 {"unix", required_argument, nullptr, 'U'},
                                 {nullptr, 0, nullptr, 0}};
  auto set_mode = [&](Mode m) {
    if (mode != kNone) bad = true;
    mode = m;
  };
  int c;
  while ((c = getopt_long(argc, argv, "a:bdlmn:pstT:u", kLong, nullptr)) != -1) {
    switch (c) {
      case 'p':
        set_mode(kPmapDump);
        break;
      case 't':
        set_mode(kTcpPing);
        break;
      case 'u':
        set_mode(kUdpPing);
        break;
      case 'n': {
        char* end = nullptr;
        (void)std::strtol(optarg, &end, 10);
        if (end == optarg || *end != '\0') {
          std::fprintf(stderr, "ringrpc-info: %s is illegal port number\n", optarg);
          return 1;
        }
        break;
      }
      case 'a':
        address = optarg;
        set_mode(kAddrPing);
        break;
      case 'b':
        set_mode(kBroadcast);
        break;
      case 'd':
        set_mode(kDelete);
        break;
      case 'l':
        set_mode(kAddrList);
        break;
      case 'm':
        set_mode(kStat);
        break;
      case 's':
        set_mode(kDumpShort);
        break;
      case 'T':
        netid = optarg;
        break;
      case 'J':
        g_json = true;
        break;
      case 'U':
        g_unix_path = optarg;
        break;
      case 'H':
        help();
        return 0;
      default:
        bad = true;
        break;
    }
  }
  if (bad || (mode == kAddrPing && netid == nullptr)) usage();
  const int n = argc - optind;
  char** args = argv + optind;
  if (mode == kNone) mode = n > 1 ? kNone : kDump;
  switch (mode) {
    case kPmapDump:
      pmapdump(n, args);
      return 0;
    case kTcpPing:
      return ip_ping(true, n, args);
    case kUdpPing:
      return ip_ping(false, n, args);
    case kBroadcast:
      return brdcst(n, args);
    case kDelete:
      return deletereg(netid, n, args);
    case kAddrPing:
      return addrping(address, netid, n, args);
    case kDump:
      rpcbdump(false, netid, n, args);
      return 0;
    case kDumpShort:
      rpcbdump(true, netid, n, args);
      return 0;
    case kAddrList:
      rpcbaddrlist(netid, n, args);
      return 0;
    case kStat:
      rpcbgetstat(n, args);
      return 0;
    case kNone:
      return progping(netid, n, args);
  }
  return 0;
}
