// The RPC server: shards (one thread and one event loop per core), the endpoints they listen on
// (TCP over IPv4/IPv6 and Unix stream sockets with record marking, UDP datagrams, shared-memory
// rings for clients on this host), the programs registered from ringrpc-gen output, and the
// replies RFC 5531 prescribes for every call that cannot be served. engine/DESIGN.md lists each
// error case and what the server answers.
//
// Connections are spread over shards by the kernel (one SO_REUSEPORT listening socket per shard
// and port) or, for Unix sockets and shared memory, by shard 0 handing accepted connections
// round-robin. A connection lives on one shard; a call is decoded, dispatched and answered on that
// shard unless its procedure is marked blocking (Service::set_blocking), then it runs on the
// offload pool.
//
// Limits that keep a server alive under hostile or careless clients: a maximum record size
// (larger records close the connection), calls in flight per connection (reading pauses at the
// limit), a memory budget per shard in bytes (all reading pauses while over it), an idle timeout,
// a bounded offload queue (SYSTEM_ERR when full), and a drain timeout for graceful shutdown.
//
// Threading: configure (add_service, listen_*, options) before start(), from one thread. stop(),
// stats() and the port accessors may be called from any thread after start().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codec/rpc_msg.h"
#include "engine/service.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace ringrpc {

struct ServerOptions {
  unsigned shards = 0;  // 0: one per available CPU
  transport::LoopOptions loop;
  // Records longer than this close the connection (there is no way to skip them and stay in
  // step): 4 MiB by default; raise it for bulk procedures.
  size_t max_record = 4u << 20;
  uint32_t max_calls_per_connection = 128;  // deferred or offloaded calls not yet answered
  size_t memory_budget = 256u << 20;        // per shard: receive and reply buffers, reassembly
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};  // 0: never
  // UDP: datagrams longer than this are answered GARBAGE_ARGS (libtirpc truncates at 8800 bytes
  // and does the same); replies longer than this are replaced by SYSTEM_ERR.
  size_t udp_max_message = 65000;
  // UDP duplicate-request cache: replies kept per shard, keyed on xid and client address, and
  // resent when a retransmission arrives. 0: off.
  uint32_t udp_drc_entries = 0;
  // Strict XDR (RFC 4506): non-zero padding and trailing bytes after the arguments are
  // GARBAGE_ARGS. Lenient accepts what libtirpc accepts (codec/DESIGN.md).
  bool strict = true;
  unsigned offload_threads = 4;
  size_t offload_queue = 1024;
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  bool log = true;  // one stderr line per refused connection or malformed record (rate-limited)
  // Shared-memory connections: each has two rings of this many bytes (a power of two, at least
  // 4 KiB), so one costs 2 x shm_ring_bytes + 4 KiB of memory, not counted in memory_budget. A
  // record larger than a ring passes through it in pieces, as through a socket buffer.
  size_t shm_ring_bytes = 256u << 10;
  // register_with_rpcbind(): when no registry runs on this host, serve one in-process (on port
  // 111 and /run/rpcbind.sock, which needs root or CAP_NET_BIND_SERVICE).
  bool embedded_registry = true;
};

// What the authentication hook sees. `auth_sys` is set for AUTH_SYS calls.
struct AuthRequest {
  const rpc::CallHeader& header;
  const rpc::AuthSysParms* auth_sys;
  const transport::SockAddr& peer;
  TransportKind transport;
};
// AUTH_OK admits the call; any other value is sent back as AUTH_ERROR with that auth_stat. Called
// for every call except NULL procedures (which never require authentication, RFC 5531 8.1), from
// shard threads concurrently. Without a hook, AUTH_NONE and AUTH_SYS are admitted and other
// flavors refused with AUTH_REJECTEDCRED, as libtirpc does.
using AuthCheck = std::function<rpc::auth_stat(const AuthRequest&)>;

struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t calls = 0;
  uint64_t replies = 0;
  uint64_t errors_sent = 0;  // accepted errors and denials
  uint64_t malformed = 0;    // records that were not RPC calls (dropped or connection closed)
  uint64_t offloaded = 0;
  uint64_t offload_rejected = 0;
  uint64_t drc_hits = 0;
  uint64_t read_pauses = 0;  // times a shard stopped reading for its memory budget
  uint64_t zc_sends = 0;     // sends made with SENDMSG_ZC (published every 100 ms)
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();  // stops (gracefully) if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a program version; `s` must outlive the server. Two services with the same
  // program and version are a bug.
  void add_service(Service& s);
  void set_auth_check(AuthCheck check);

  // Endpoints. Port 0 picks a free port (the same one for every shard).
  void listen_tcp(const transport::SockAddr& addr);
  void listen_udp(const transport::SockAddr& addr);
  void listen_unix(const std::string& path);
  // Shared memory for clients on this host: they connect to the Unix socket `path`, and the
  // server answers with a segment of its own making (transport/DESIGN.md). Registered with the
  // host's registry under the netid "ringrpc-shm", where connect() finds it.
  void listen_shm(const std::string& path);

  // Binds every endpoint and starts the shards; returns when they serve. False, with a message
  // that says what failed, when an endpoint cannot be bound or no loop can start.
  bool start(std::string* error = nullptr);
  // Graceful: stop accepting, stop reading, answer the calls in flight (at most drain_timeout),
  // close. Returns at once; wait() joins. Any thread.
  void stop();
  void wait();
  bool running() const noexcept;

  // Bound addresses, after start(): the first TCP/UDP endpoint's port; every endpoint.
  uint16_t tcp_port() const noexcept;
  uint16_t udp_port() const noexcept;
  std::vector<std::pair<TransportKind, transport::SockAddr>> endpoints() const;
  std::string backend_description() const;  // "io_uring (...)" or "epoll"
  unsigned shard_count() const noexcept;
  ServerStats stats() const;

  // Registers every (program, version) on every endpoint with the host's registry, as
  // libtirpc's svc_reg does (rpcbind v4 over /run/rpcbind.sock, else v4, v3 or portmap v2 on
  // 127.0.0.1:111; what a previous instance left for the same program version is replaced),
  // and unregisters at stop(). When no registry runs, the server hosts one itself
  // (options.embedded_registry; engine/registry/DESIGN.md) until it stops. False, with `error`,
  // when neither works.
  bool register_with_rpcbind(std::string* error = nullptr);
  // "rpcbind v4 on /run/rpcbind.sock", "embedded registry", or "" before registration.
  std::string registry_description() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGINT and SIGTERM in the calling thread (call before starting threads, which inherit
// the mask), so that wait_for_termination_signal() can take them synchronously.
void block_termination_signals();
// Waits for SIGINT or SIGTERM (blocked first with block_termination_signals()); returns it.
int wait_for_termination_signal();

}  // namespace ringrpc
