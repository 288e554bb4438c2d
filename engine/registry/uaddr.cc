#include "engine/registry/uaddr.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <array>
#include <cstring>

namespace ringrpc::registry {
namespace {

constexpr uint32_t kClts = 1;
constexpr uint32_t kCotsOrd = 3;

constexpr std::array<NetidInfo, 7> kNetids{{
    {"udp", kClts, "inet", "udp", AF_INET, TransportKind::kUdp},
    {"tcp", kCotsOrd, "inet", "tcp", AF_INET, TransportKind::kTcp},
    {"udp6", kClts, "inet6", "udp", AF_INET6, TransportKind::kUdp},
    {"tcp6", kCotsOrd, "inet6", "tcp", AF_INET6, TransportKind::kTcp},
    {"local", kCotsOrd, "loopback", "-", AF_UNIX, TransportKind::kUnix},
    {"unix", kCotsOrd, "loopback", "-", AF_UNIX, TransportKind::kUnix},
    // Ours: a server's shared-memory endpoint, whose address is the Unix socket it is set up on.
    {kShmNetid, kCotsOrd, "loopback", "-", AF_UNIX, TransportKind::kShm},
}};

// Splits "host.p1.p2" into host and port; false without two trailing decimal bytes.
bool split_port(std::string_view uaddr, std::string_view& host, uint16_t& port) {
  const size_t lo_dot = uaddr.rfind('.');
  if (lo_dot == std::string_view::npos || lo_dot == 0) return false;
  const size_t hi_dot = uaddr.rfind('.', lo_dot - 1);
  if (hi_dot == std::string_view::npos) return false;
  auto byte = [](std::string_view d, unsigned& out) {
    if (d.empty() || d.size() > 3) return false;
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<unsigned>(c - '0');
    }
    return out <= 255;
  };
  unsigned hi = 0;
  unsigned lo = 0;
  if (!byte(uaddr.substr(hi_dot + 1, lo_dot - hi_dot - 1), hi) ||
      !byte(uaddr.substr(lo_dot + 1), lo)) {
    return false;
  }
  host = uaddr.substr(0, hi_dot);
  port = static_cast<uint16_t>(hi << 8 | lo);
  return true;
}

}  // namespace

const NetidInfo* find_netid(std::string_view netid) noexcept {
  for (const NetidInfo& n : kNetids) {
    if (n.netid == netid) return &n;
  }
  return nullptr;
}

const NetidInfo& netid_of(TransportKind kind, int family) noexcept {
  switch (kind) {
    case TransportKind::kUnix:
      return kNetids[4];
    case TransportKind::kShm:
      return kNetids[6];
    case TransportKind::kUdp:
      return family == AF_INET6 ? kNetids[2] : kNetids[0];
    case TransportKind::kTcp:
      break;
  }
  return family == AF_INET6 ? kNetids[3] : kNetids[1];
}

const char* netid_of_ipproto(uint32_t prot) noexcept {
  if (prot == 6) return "tcp";
  if (prot == 17) return "udp";
  return nullptr;
}

uint32_t ipproto_of_netid(std::string_view netid) noexcept {
  if (netid == "tcp") return 6;
  if (netid == "udp") return 17;
  return 0;
}

std::string to_uaddr(const transport::SockAddr& a) {
  if (a.family() != AF_INET && a.family() != AF_INET6) return a.host_string();
  std::string s = a.host_string();
  s.append(".").append(std::to_string(a.port() >> 8));
  s.append(".").append(std::to_string(a.port() & 0xff));
  return s;
}

std::optional<transport::SockAddr> from_uaddr(std::string_view uaddr, int family) {
  transport::SockAddr out;
  // A NUL would cut the text short for inet_pton or the path for the kernel: what was checked
  // would not be what is used.
  if (uaddr.find('\0') != std::string_view::npos) return std::nullopt;
  if (family == AF_UNIX) {
    if (uaddr.empty() || !transport::SockAddr::unix_path(uaddr, out)) return std::nullopt;
    return out;
  }
  std::string_view host;
  uint16_t port = 0;
  if (!split_port(uaddr, host, port)) return std::nullopt;
  const std::string h(host);
  if (family == AF_INET) {
    in_addr a{};
    if (inet_pton(AF_INET, h.c_str(), &a) != 1) return std::nullopt;
    return transport::SockAddr::ipv4(ntohl(a.s_addr), port);
  }
  if (family == AF_INET6) {
    if (h.find(':') == std::string::npos) return std::nullopt;
    if (!transport::SockAddr::parse_ip(h, port, out) || out.family() != AF_INET6) {
      return std::nullopt;
    }
    return out;
  }
  return std::nullopt;
}

std::optional<uint16_t> uaddr_port(std::string_view uaddr) {
  std::string_view host;
  uint16_t port = 0;
  if (!split_port(uaddr, host, port)) return std::nullopt;
  return port;
}

std::string wildcard_uaddr(std::string_view netid, uint16_t port) {
  std::string s = (netid == "tcp6" || netid == "udp6") ? "::" : "0.0.0.0";
  s.append(".").append(std::to_string(port >> 8));
  s.append(".").append(std::to_string(port & 0xff));
  return s;
}

}  // namespace ringrpc::registry
