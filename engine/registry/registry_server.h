// A registry server: portmap v2 and rpcbind v3/v4 (program 100000) over TCP and UDP on IPv4
// and IPv6 and over a Unix socket, answering from a Registry. ringrpc-bind is this class and a
// command line; a ringrpc Server runs one in-process when the host has no registry (the
// embedded registry, Server::register_with_rpcbind).
//
// What it answers follows rpcbind 1.2.6 as Debian ships it, because rpcinfo and libtirpc's
// clients depend on the details (engine/registry/DESIGN.md): SET and UNSET only from this host
// (loopback or the Unix socket, whose peer credentials name the owner); remote calls (CALLIT,
// BCAST, INDIRECT) off unless enabled; lookups answer the address on the interface the caller
// reached; a mapping whose server is gone is removed when it is looked up and by a periodic
// sweep. Beyond rpcbind: DUMP over UDP answered only when the reply is small (it is an
// amplification vector), a per-source rate limit, bounded decoding of every request.
//
// Threading: configure, start() and stop() from one thread; the registry is thread-safe and
// may be read from any thread while the server runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/registry/registry.h"
#include "engine/server.h"

namespace ringrpc::registry {

inline constexpr const char* kDefaultUnixPath = "/run/rpcbind.sock";
inline constexpr const char* kDefaultStateFile = "/run/ringrpc-bind/state";

struct RegistryServerOptions {
  uint16_t port = 111;                       // TCP and UDP, IPv4 and IPv6
  std::string unix_path = kDefaultUnixPath;  // "" = no Unix socket
  bool ipv6 = true;              // also listen on [::] (skipped when the host has no IPv6)
  std::string state_file;        // "" = registrations are not kept across restarts
  bool insecure = false;         // accept SET/UNSET from other hosts (rpcbind -i)
  bool remote_calls = false;     // forward CALLIT/BCAST/INDIRECT (Debian's rpcbind -r)
  size_t udp_dump_limit = 1400;  // DUMP replies over UDP larger than this get SYSTEM_ERR
  // Calls per second per source address over TCP and UDP (bursts of twice that); 0 = none.
  // Loopback sources are exempt unless rate_limit_loopback: a forged source address, the
  // ingredient of an amplification attack, cannot be a loopback one.
  uint32_t rate_limit = 200;
  bool rate_limit_loopback = false;
  std::chrono::milliseconds sweep_interval{std::chrono::seconds(2)};  // 0 = no sweep
  // How long a taken port is waited for while no registry answers on the Unix socket: a
  // registry killed a moment ago holds its sockets until the kernel has torn down its io_uring.
  std::chrono::milliseconds port_wait{std::chrono::seconds(2)};
  unsigned shards = 1;
  bool log = true;
};

class RegistryServer {
 public:
  explicit RegistryServer(RegistryServerOptions options);
  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  // Binds every endpoint, registers the registry itself (program 100000 versions 4, 3 and 2, as
  // rpcbind lists itself), loads the state file and starts the sweep. False with a message when
  // an endpoint cannot be bound; `addr_in_use` tells the caller another registry got there first.
  bool start(std::string* error = nullptr, bool* addr_in_use = nullptr);
  void stop();  // graceful; returns when everything has stopped
  Registry& registry() noexcept;
  Server& server() noexcept;
  // "listening tcp=111 udp=111 unix=/run/rpcbind.sock"
  std::string describe() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringrpc::registry
