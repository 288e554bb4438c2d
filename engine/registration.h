// The client side of the registry: a server registering itself with the host's registry, and a
// client asking a host's registry where a program is (what libtirpc's rpcb_set, rpcb_unset and
// rpcb_getaddr do). Private to engine/.
//
// Registering, like libtirpc's svc_reg: rpcbind version 4 over the registry's Unix socket (the
// registry then knows our uid from the kernel), else versions 4, 3, then portmap 2 over TCP to
// 127.0.0.1:111 for a registry without the socket or without rpcbind's versions.
// Binding: GETADDR version 4, then 3, then portmap GETPORT, asked over the transport the caller
// will use (rpcbind answers for the transport a request arrives on).
//
// Threading: blocking calls, from any thread except the shared ClientRuntime's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/rpc_error.h"
#include "engine/service.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace ringrpc {

class Channel;

class HostRegistry {
 public:
  // The registry on this host, or kRefused when none listens (then nothing else is tried: a
  // portmapper always listens on TCP as well as UDP).
  static Result<std::unique_ptr<HostRegistry>> find(const std::string& unix_path,
                                                    std::chrono::milliseconds timeout);
  ~HostRegistry();

  uint32_t version() const noexcept { return version_; }  // 4, 3, or 2 (portmap)
  std::string describe() const;                           // "rpcbind v4 on /run/rpcbind.sock"
  // Portmap (version 2) registers only tcp and udp; other netids answer false.
  Result<bool> set(uint32_t prog, uint32_t vers, std::string_view netid, std::string_view uaddr);
  Result<bool> unset(uint32_t prog, uint32_t vers);  // every netid

 private:
  HostRegistry(std::shared_ptr<Channel> ch, uint32_t version, std::string where);
  std::shared_ptr<Channel> channel_;
  uint32_t version_;
  std::string where_;
  std::chrono::milliseconds timeout_{3000};
};

// Where `program` `version` is served over `kind` (TCP or UDP; the registry's address family
// is the one asked about), through the registry at `registry`. kNotRegistered when it is not.
Result<transport::SockAddr> rpcb_getaddr(const transport::SockAddr& registry, TransportKind kind,
                                         uint32_t program, uint32_t version,
                                         transport::EventLoop* loop,
                                         std::chrono::milliseconds timeout);

// The shared-memory endpoint (netid "ringrpc-shm") of `program` `version` registered with the
// registry at `registry`, found in its DUMP (rpcbind answers GETADDR only for the transport a
// request arrives on) and only if a server still listens there. kNotRegistered when none.
Result<transport::SockAddr> rpcb_find_shm(const transport::SockAddr& registry, uint32_t program,
                                          uint32_t version, transport::EventLoop* loop,
                                          std::chrono::milliseconds timeout);

}  // namespace ringrpc
