// Universal addresses (RFC 5665) and the transports the registry knows by netid.
//
// A universal address is how ONC RPC writes a transport address as text: IPv4
// "h1.h2.h3.h4.p1.p2" and IPv6 "x1:...:x8.p1.p2" (RFC 4291 text, "::" allowed) with the port
// split into its high and low byte, and a Unix-domain socket's path as it is. A netid names a
// transport the way Linux's /etc/netconfig does: tcp, udp, tcp6, udp6, and local/unix; and
// ringrpc-shm, our own, for shared-memory endpoints (not in /etc/netconfig: libtirpc's clients
// cannot use it, and rpcbind lists it in DUMP but answers GETADDR only for the netid a request
// arrives on, so clients find it through DUMP).
//
// Threading: pure functions over values; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/service.h"
#include "transport/socket.h"

namespace ringrpc::registry {

inline constexpr std::string_view kShmNetid = "ringrpc-shm";

// What /etc/netconfig says about a transport (the fields GETADDRLIST returns).
struct NetidInfo {
  std::string_view netid;
  uint32_t semantics;          // NC_TPI_CLTS (1) or NC_TPI_COTS_ORD (3)
  std::string_view protofmly;  // "inet", "inet6", "loopback"
  std::string_view proto;      // "tcp", "udp", "-"
  int family;                  // AF_INET, AF_INET6, AF_UNIX
  TransportKind kind;
};

// The transports the registry serves, in the order of Linux's /etc/netconfig; nullptr for an
// unknown netid.
const NetidInfo* find_netid(std::string_view netid) noexcept;
// The netid of a transport and address family ("tcp6" for TCP over IPv6, "local" for Unix).
const NetidInfo& netid_of(TransportKind kind, int family) noexcept;
// "tcp"/"udp" for portmap's protocol numbers 6/17, else nullptr.
const char* netid_of_ipproto(uint32_t prot) noexcept;
// 6/17 for "tcp"/"udp"; 0 for every other netid (portmap only knows IPv4 TCP and UDP).
uint32_t ipproto_of_netid(std::string_view netid) noexcept;

// The universal address of `a` (for a Unix socket, its path).
std::string to_uaddr(const transport::SockAddr& a);
// Parses a universal address of the given family (AF_INET, AF_INET6, AF_UNIX); nullopt when it
// is not one.
std::optional<transport::SockAddr> from_uaddr(std::string_view uaddr, int family);
// The port of an IPv4 or IPv6 universal address ("0.0.0.0.8.1" -> 2049), as rpcbind's
// uaddr2port reads it; nullopt when there is no ".p1.p2" suffix.
std::optional<uint16_t> uaddr_port(std::string_view uaddr);
// The universal address for a portmap v2 registration, as rpcbind makes one: the wildcard host
// of the netid's family and the port.
std::string wildcard_uaddr(std::string_view netid, uint16_t port);

}  // namespace ringrpc::registry
