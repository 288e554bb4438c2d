// ringrpc-proxy's core: ONC RPC services carried between systems over Legato rpcProxy links
// (engine/legato/DESIGN.md "The proxy").
//
// One Proxy runs on one event loop and holds:
//  - for every *client* extern (a service that runs elsewhere), a local TCP listener and UDP
//    socket (one port) that accept ONC RPC calls from local clients, and with shm_dir a Unix
//    socket taking ringrpc clients' shared-memory connections; while a binding names it, the
//    program and version it appears as are registered with the host's registry, and each call goes
//    as a CLIENT_REQUEST to the bound system over that system's link, its reply coming back as
//    SERVER_RESPONSE. A call that cannot go (no binding, the service not connected, the link down)
//    is answered at once with PROG_UNAVAIL; calls in flight when the link or the service goes are
//    answered with SYSTEM_ERR, as are calls that outlive the call timeout.
//  - for every *server* extern (a server on this host), one connection to the real server,
//    found through the registry (its shared-memory endpoint when it has one, else TCP) or at its
//    declared address, kept up while the proxy runs. Every
//    system may connect to it (Legato's clientReferences); calls from all of them share the
//    connection, each with an xid of ours so that two clients' xids never collide, restored in
//    the reply.
//  - for every system of the run-time configuration, a Services (link + handshake) whose wants
//    are the client externs bound to that system and whose offers are all server externs.
// The configuration file is watched (and re-read on "reload" from the control socket); a change
// touches only the systems and bindings it changes. The control socket answers "status" with
// the live state and counters as JSON, which ringrpc-tool shows.
//
// Threading: everything on the loop's thread. Registry calls (which block) run on a worker
// thread of the Proxy and post their results back to the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/legato/config.h"
#include "engine/legato/declarations.h"
#include "engine/legato/services.h"
#include "transport/event_loop.h"

namespace ringrpc::legato {

struct ProxyOptions {
  Declarations declarations;
  std::string config_path;
  std::string control_path;  // the control socket; empty: none
  LinkTimers timers;
  std::chrono::milliseconds resend{15000};         // connect-service resend
  std::chrono::milliseconds call_timeout{120000};  // Legato's client-request timer
  std::chrono::milliseconds watch_interval{1000};  // how often the config file is looked at
  std::chrono::milliseconds server_retry{1000};    // reconnecting to a real server
  // Where client externs listen (the port of each comes from its declaration, else any).
  transport::SockAddr local_address = transport::SockAddr::loopback4(0);
  bool register_services = true;
  std::string registry_socket = "/run/rpcbind.sock";
  transport::SockAddr registry_address = transport::SockAddr::loopback4(111);
  // Real servers found through the registry are reached over their shared-memory endpoint
  // (netid ringrpc-shm) when they offer one, as a ringrpc client on this host would; else TCP.
  bool shared_memory = true;
  // Client externs also take shared-memory connections (transport/shm_ring.h) from ringrpc
  // clients on this host, on the Unix socket shm_dir/ALIAS.shm, registered (netid ringrpc-shm)
  // beside the TCP and UDP port, where their connect() finds it; empty: not offered. Each such
  // connection has two rings of shm_ring_bytes.
  std::string shm_dir;
  size_t shm_ring_bytes = 256u << 10;
  size_t max_shm_ring = 16u << 20;              // the largest ring a server may offer us
  size_t max_record = 4u << 20;                 // one RPC message, either way
  size_t max_pending = 1u << 16;                // calls in flight per system, and per real server
  std::function<void(const std::string&)> log;  // one line per event; default stderr
};

// Latency of calls in logarithmic buckets, 8 per doubling (at most 12.5% wide), 1 us to ~1 hour.
struct LatencyHistogram {
  static constexpr int kBuckets = 8 * 32;
  uint64_t counts[kBuckets] = {};
  uint64_t count = 0;
  uint64_t total_us = 0;
  uint64_t max_us = 0;
  void record(uint64_t us) noexcept;
  uint64_t percentile(double q) const noexcept;  // upper bound of the bucket, in us
};

struct CallStats {
  uint64_t calls = 0;   // replies delivered
  uint64_t errors = 0;  // calls answered with an error by the proxy, or dropped as malformed
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  // Calls and replies of 32 KiB or more forwarded as pieces of their receive buffers, with no
  // copy in user space (engine/legato/DESIGN.md, "The data path").
  uint64_t in_pieces = 0;
  LatencyHistogram latency;
};

class Proxy {
 public:
  Proxy(transport::EventLoop& loop, ProxyOptions options);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Opens the local listeners and the control socket, applies the configuration file, starts
  // connecting to real servers. False, with the reason, when a listener cannot be opened or the
  // file cannot be read.
  bool start(std::string* error);
  // Unregisters, closes links and connections (calls in flight get SYSTEM_ERR); nothing runs
  // afterwards. Then drain the loop before destroying the Proxy.
  void stop();
  // Reads the configuration file again and applies what changed. False (the running
  // configuration kept) when it cannot be read.
  bool reload(std::string* error);

  std::string status_json() const;
  // "squareClient tcp=40001 udp=40001 [shm=PATH] ...": the listeners of client externs, for
  // the ready line.
  std::string describe_listeners() const;

 private:
  struct LocalService;
  struct LocalConn;
  struct SystemEntry;
  struct RemoteServer;
  struct ControlConn;
  struct ControlListener;
  class Worker;
  class Tick;

  void log(const std::string& line) const;
  void apply(const RuntimeConfig& cfg);
  void sync_wants(SystemEntry& s);
  void update_registration(LocalService& svc);
  bool listen_shm(LocalService& svc, std::string* error);
  void tick();
  void arm_tick();

  // Local client -> link: a record from connection `conn`, or a datagram from `from`. Large
  // payloads in receive buffers (Payload's owner or pieces) are forwarded by reference.
  void local_call(LocalService& svc, uint64_t conn, const transport::SockAddr* from,
                  Payload record);
  void reply_local(LocalService& svc, uint64_t conn, const transport::SockAddr* from,
                   const Payload& msg);
  // Back-pressure: a local connection is not read while its system's link is congested.
  void hold_if_link_congested(LocalConn& c);
  void release_held(SystemEntry& s);
  // Link -> local client.
  void deliver_response(SystemEntry& s, const DataMessage& m, Want& w);
  void fail_pending(SystemEntry& s, LocalService* only, uint32_t astat, const std::string& why);
  // Link -> real server, and back.
  bool remote_call(SystemEntry& s, const DataMessage& m, Offer& o);
  void remote_reply(RemoteServer& r, Payload record);
  void answer_peer(SystemEntry& s, const DataMessage& m, uint32_t xid, uint32_t astat);
  void connect_remote(RemoteServer& r);
  void remote_down(RemoteServer& r, const std::string& why);

  transport::EventLoop& loop_;
  ProxyOptions options_;
  RuntimeConfig config_;
  std::string config_error_;
  struct FileStamp {
    int64_t mtime_ns = -1;
    uint64_t ino = 0;
    int64_t size = -1;
    bool operator==(const FileStamp&) const = default;
  } stamp_;
  FileStamp config_stamp() const;
  std::vector<std::unique_ptr<LocalService>> locals_;
  std::vector<std::unique_ptr<RemoteServer>> remotes_;
  std::map<std::string, std::unique_ptr<SystemEntry>> systems_;
  std::map<uint64_t, SystemEntry*> by_gen_;  // the same systems, by generation
  // Local connections by id: the low 32 bits are the slot, the high 32 its generation, so a
  // reply for a connection that has gone finds nothing, and a lookup is one array access.
  struct ConnSlot {
    LocalConn* conn = nullptr;
    uint32_t gen = 1;
  };
  std::vector<ConnSlot> conns_;
  std::vector<uint32_t> free_conns_;
  uint64_t add_conn(LocalConn* c);
  void remove_conn(uint64_t id) noexcept;
  LocalConn* find_conn(uint64_t id) const noexcept {
    const auto slot = static_cast<uint32_t>(id);
    if (slot >= conns_.size() || conns_[slot].gen != static_cast<uint32_t>(id >> 32))
      return nullptr;
    return conns_[slot].conn;
  }
  uint64_t next_gen_ = 1;
  std::unique_ptr<ControlListener> control_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<Tick> tick_;
  std::shared_ptr<bool> alive_;  // false once stopped: worker results posted later are dropped
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace ringrpc::legato
