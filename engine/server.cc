#include "engine/server.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "codec/check.h"
#include "codec/record_marking.h"
#include "engine/drc.h"
#include "engine/offload_pool.h"
#include "engine/registration.h"
#include "engine/registry/registry_server.h"
#include "engine/registry/uaddr.h"
#include "engine/reply_encoding.h"

namespace ringrpc {

using transport::Clock;
using transport::Datagram;
using transport::EventLoop;
using transport::SockAddr;
using transport::Stream;

const char* to_string(TransportKind t) noexcept {
  switch (t) {
    case TransportKind::kTcp:
      return "tcp";
    case TransportKind::kUdp:
      return "udp";
    case TransportKind::kUnix:
      return "unix";
    case TransportKind::kShm:
      return "shm";
  }
  return "?";
}

void Service::set_blocking(uint32_t proc, bool blocking) {
  RINGRPC_CHECK(proc < 65536, "procedure number too large to mark blocking");
  if (blocking_.size() <= proc) blocking_.resize(proc + 1, false);
  blocking_[proc] = blocking;
}

namespace {

struct Endpoint {
  TransportKind kind;
  SockAddr addr;
  std::string path;      // Unix and shared memory
  std::vector<int> fds;  // one per shard (SO_REUSEPORT), or one for Unix and shared memory
  bool on_socket_file() const noexcept {
    return kind == TransportKind::kUnix || kind == TransportKind::kShm;
  }
};

struct ProgramEntry {
  uint32_t program = 0;
  uint32_t low = UINT32_MAX;
  uint32_t high = 0;
  std::vector<Service*> versions;
  Service* find(uint32_t v) const noexcept {
    for (Service* s : versions) {
      if (s->version() == v) return s;
    }
    return nullptr;
  }
};

// Counters a shard bumps; summed by stats(). Relaxed atomics: written by one shard thread.
struct AtomicStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> replies{0};
  std::atomic<uint64_t> errors_sent{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> offloaded{0};
  std::atomic<uint64_t> offload_rejected{0};
  std::atomic<uint64_t> drc_hits{0};
  std::atomic<uint64_t> read_pauses{0};
  std::atomic<uint64_t> zc_sends{0};
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

class Shard;

// What outlives a shard for the sake of replies that arrive late (deferred or offloaded calls):
// a ReplyHandle holds a reference; the shard clears `shard` under the lock when it exits.
struct ShardLink {
  std::mutex mu;
  Shard* shard = nullptr;  // guarded by mu
  EventLoop* loop = nullptr;
};

// Identifies where a reply goes: a stream connection by id, or a UDP client by socket and
// address.
struct ReplyRoute {
  uint64_t conn_id = 0;  // 0 for UDP
  uint32_t datagram = 0;
  SockAddr peer;
  TransportKind kind = TransportKind::kTcp;
  uint32_t xid = 0;
};

}  // namespace

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  ServerOptions options;
  std::vector<ProgramEntry> programs;
  AuthCheck auth_check;
  std::vector<Endpoint> endpoints;
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::thread> threads;
  std::unique_ptr<OffloadPool> offload;
  AtomicStats stats;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::string backend;
  std::mutex mu;
  std::vector<std::pair<uint32_t, uint32_t>> registered;  // (prog, vers) set with rpcbind
  std::unique_ptr<HostRegistry> host_registry;
  std::unique_ptr<registry::RegistryServer> embedded;  // the registry we host, if we do
  std::string registry_where;

  const ProgramEntry* find_program(uint32_t prog) const noexcept {
    for (const ProgramEntry& p : programs) {
      if (p.program == prog) return &p;
    }
    return nullptr;
  }
  void unregister_rpcbind();
  std::vector<const Service*> services_for_registry() const {
    std::vector<const Service*> out;
    for (const ProgramEntry& p : programs)
      out.insert(out.end(), p.versions.begin(), p.versions.end());
    return out;
  }
};

namespace {

// Rate-limited logging: a flood of bad input must not become a flood of log lines.
class Log {
 public:
  explicit Log(bool on) : on_(on) {}
  [[gnu::format(printf, 2, 3)]] void warn(const char* fmt, ...) {
    if (!on_) return;
    const auto now = Clock::now();
    if (now - window_ > std::chrono::seconds(1)) {
      if (suppressed_ != 0)
        std::fprintf(stderr, "ringrpc: %u similar lines suppressed\n", suppressed_);
      window_ = now;
      lines_ = 0;
      suppressed_ = 0;
    }
    if (++lines_ > 10) {
      ++suppressed_;
      return;
    }
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "ringrpc: %s\n", buf);
  }

 private:
  bool on_;
  Clock::time_point window_{};
  unsigned lines_ = 0;
  unsigned suppressed_ = 0;
};

class Connection;

// Where a call came from, for the reply.
struct Origin {
  Connection* conn = nullptr;
  Datagram* dgram = nullptr;
  const SockAddr* peer = nullptr;
  const PeerCred* cred = nullptr;  // Unix connections
  TransportKind kind = TransportKind::kTcp;
  bool truncated = false;  // UDP: the datagram was longer than the limit
};

class Shard final : public transport::AcceptHandler,
                    public transport::DatagramHandler,
                    public internal::ReplySink {
 public:
  Shard(Server::Impl& srv, unsigned index)
      : srv_(srv), index_(index), log_(srv.options.log), link_(std::make_shared<ShardLink>()) {
    stream_opts_.record_mark = true;
    dgram_opts_.record_mark = false;
    decode_opts_.strict = srv.options.strict;
    if (srv.options.udp_drc_entries != 0) {
      drc_ = std::make_unique<DuplicateRequestCache>(srv.options.udp_drc_entries);
    }
  }

  // Runs on the shard's thread: builds the loop, adopts the sockets, serves until stopped.
  void run(std::function<void(bool, const std::string&)> ready);
  void adopt(int fd, const SockAddr& peer, TransportKind kind);
  void adopt_shm(const std::shared_ptr<transport::ShmEndpoint>& e);
  void begin_shutdown();
  EventLoop* loop() const noexcept { return loop_.get(); }

  // AcceptHandler
  void on_accept(int fd, const SockAddr& peer) override;
  void on_accept_error(int err) override { log_.warn("accept: %s", std::strerror(err)); }
  // DatagramHandler
  void on_datagram(Datagram& d, std::span<const uint8_t> data, const SockAddr& from, bool truncated,
                   const Buffer& owner) override;
  // ReplySink
  xdr::XdrWriter* begin_reply(Call& c) override;
  void commit_reply(Call& c) override;
  void abort_reply(Call& c) override;
  ReplyHandle defer(Call& c) override;

  void handle_call(std::span<const uint8_t> record, const Origin& o);
  void connection_closed(Connection* c);
  void deliver_remote(const ReplyRoute& route, std::vector<uint8_t>* bytes);
  Server::Impl& server() noexcept { return srv_; }
  Log& log() noexcept { return log_; }
  void check_budget();
  void maybe_finish_shutdown();
  uint32_t max_calls() const noexcept { return srv_.options.max_calls_per_connection; }

 private:
  class Tick final : public transport::Timer {
   public:
    explicit Tick(Shard& s) : s_(s) {}
    void on_timer() override { s_.on_tick(); }

   private:
    Shard& s_;
  };
  // The shared-memory listener's connections are set up differently from the Unix ones.
  class ShmAcceptor final : public transport::AcceptHandler {
   public:
    explicit ShmAcceptor(Shard& s) : s_(s) {}
    void on_accept(int fd, const SockAddr& peer) override {
      (void)peer;
      s_.on_accept_shm(fd);
    }
    void on_accept_error(int err) override { s_.on_accept_error(err); }

   private:
    Shard& s_;
  };
  void on_accept_shm(int fd);
  Shard* next_local_shard();

  void on_tick();
  void bad_header(const xdr::XdrReader& r, const rpc::CallHeader& h, const Origin& o);
  void send_error(const Origin& o, uint32_t xid, rpc::accept_stat stat,
                  rpc::MismatchInfo mismatch = {});
  void send_auth_error(const Origin& o, uint32_t xid, rpc::auth_stat why);
  void send_rpc_mismatch(const Origin& o, uint32_t xid);
  void send_out(const Origin& o);
  void resend(const Origin& o, const std::vector<uint8_t>& bytes);
  void offload(std::span<const uint8_t> record, const Origin& o, Service* svc);
  ReplyRoute route_of(const Origin& o, uint32_t xid) const;
  size_t memory_in_use() const noexcept;

  Server::Impl& srv_;
  unsigned index_;
  Log log_;
  std::shared_ptr<ShardLink> link_;
  std::unique_ptr<EventLoop> loop_;
  Arena arena_;
  xdr::EncodeOptions stream_opts_;
  xdr::EncodeOptions dgram_opts_;
  xdr::DecodeOptions decode_opts_;
  std::optional<xdr::XdrWriter> writer_;
  xdr::OutMessage out_;
  const Origin* origin_ = nullptr;  // the call being handled
  uint32_t xid_ = 0;
  std::unordered_map<uint64_t, Connection*> conns_;
  uint64_t next_conn_id_ = 1;
  uint64_t remote_pending_ = 0;
  uint64_t zc_published_ = 0;  // deferred and offloaded calls not yet answered
  std::vector<transport::Listener*> listeners_;
  std::vector<Datagram*> datagrams_;
  unsigned unix_rr_ = 0;
  std::unique_ptr<DuplicateRequestCache> drc_;         // UDP only, when enabled
  DuplicateRequestCache::Entry* drc_entry_ = nullptr;  // of the UDP call being handled
  bool shutting_down_ = false;
  bool budget_paused_ = false;
  Clock::time_point drain_deadline_{};
  Tick tick_{*this};
  ShmAcceptor shm_acceptor_{*this};
};

class Connection final : public transport::StreamHandler {
 public:
  Connection(Shard& shard, uint64_t id, TransportKind kind, size_t max_record)
      : shard_(shard), id_(id), kind_(kind), reader_(xdr::RecordOptions{max_record}) {}

  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    (void)owner;  // records inside `data` are handled before this returns
    last_active_ = s.loop().now();
    while (!s.closing()) {
      xdr::Record rec;
      const auto st = reader_.next(data, rec);
      if (st == xdr::RecordReader::Status::kNeedMore) break;
      if (st == xdr::RecordReader::Status::kError) {
        bump(shard_.server().stats.malformed);
        shard_.log().warn("closing connection from %s: %s", s.peer().to_string().c_str(),
                          reader_.error().to_string().c_str());
        s.close();
        return;
      }
      Origin o;
      o.conn = this;
      o.peer = &s.peer();
      o.cred = has_cred_ ? &cred_ : nullptr;
      o.kind = kind_;
      shard_.handle_call(rec.data, o);
    }
    // A client that does not read its replies must not make us buffer without bound.
    if (s.congested()) s.pause_reading();
  }
  void on_drained(Stream& s) override {
    if (inflight_ < shard_.max_calls() && !draining_ && !eof_) s.resume_reading();
  }
  void on_eof(Stream& s) override {
    // The client will send nothing more; answer what it asked (a half-closed client still
    // reads), then close.
    eof_ = true;
    if (inflight_ == 0) s.close_after_flush();
  }
  void on_closed(Stream& s, int err) override {
    (void)s;
    if (kind_ == TransportKind::kShm && err == EPROTO) {
      // The client wrote indices no honest peer writes, or used the control socket.
      bump(shard_.server().stats.malformed);
      shard_.log().warn("closing shared-memory connection from pid %d: it broke the ring protocol",
                        has_cred_ ? static_cast<int>(cred_.pid) : -1);
    }
    shard_.connection_closed(this);
  }

  void call_started() {
    if (++inflight_ >= shard_.max_calls() && stream_ != nullptr) stream_->pause_reading();
  }
  void call_finished() {
    --inflight_;
    if (stream_ == nullptr || stream_->closing()) return;
    if ((eof_ || draining_) && inflight_ == 0) {
      stream_->close_after_flush();
    } else if (inflight_ < shard_.max_calls() && !draining_) {
      stream_->resume_reading();
    }
  }
  void drain() {
    draining_ = true;
    if (stream_ == nullptr) return;
    stream_->pause_reading();
    if (inflight_ == 0) stream_->close_after_flush();
  }

  Shard& shard_;
  uint64_t id_;
  TransportKind kind_;
  bool has_cred_ = false;
  PeerCred cred_;
  Stream* stream_ = nullptr;
  xdr::RecordReader reader_;
  uint32_t inflight_ = 0;
  bool eof_ = false;
  bool draining_ = false;
  Clock::time_point last_active_{};
};

// A reply that comes later, from any thread: encoded where it is made, carried to the shard as
// bytes.
class RemoteReply final : public internal::DeferredReply {
 public:
  RemoteReply(std::shared_ptr<ShardLink> link, ReplyRoute route, size_t udp_max)
      : link_(std::move(link)), route_(std::move(route)), udp_max_(udp_max) {}

  bool finish(rpc::accept_stat stat, EncodeFn fn, const void* ctx) override {
    std::vector<uint8_t> bytes;
    const bool ok = encode_reply_bytes(route_.xid, stat, fn, ctx, record_mark(), bytes);
    return post_bytes(std::move(bytes)) && ok;
  }
  void drop() override { post(std::nullopt); }

  bool record_mark() const noexcept { return route_.kind != TransportKind::kUdp; }
  // A complete reply; over the UDP limit it is replaced by SYSTEM_ERR.
  bool post_bytes(std::vector<uint8_t> bytes) {
    bool ok = true;
    if (!record_mark() && bytes.size() > udp_max_) {
      encode_reply_bytes(route_.xid, rpc::accept_stat::SYSTEM_ERR, nullptr, nullptr, false, bytes);
      ok = false;
    }
    return post(std::move(bytes)) && ok;
  }

 private:
  bool post(std::optional<std::vector<uint8_t>> bytes) {
    std::lock_guard<std::mutex> lock(link_->mu);
    if (link_->shard == nullptr) return false;
    Shard* shard = link_->shard;
    ReplyRoute route = route_;
    link_->loop->post([shard, route, b = std::move(bytes)]() mutable {
      shard->deliver_remote(route, b ? &*b : nullptr);
    });
    return true;
  }

  std::shared_ptr<ShardLink> link_;
  ReplyRoute route_;
  size_t udp_max_;
};

// ReplySink for a call running on an offload thread: encodes into the thread's own pool, then
// hands the bytes to the RemoteReply that carries them to the shard.
class OffloadSink final : public internal::ReplySink {
 public:
  explicit OffloadSink(std::unique_ptr<RemoteReply> target) : target_(std::move(target)) {
    opts_.record_mark = target_->record_mark();
  }
  ~OffloadSink() { writer_.reset(); }

  xdr::XdrWriter* begin_reply(Call& c) override {
    out_.clear();
    writer_.emplace(thread_reply_pool(), out_, opts_);
    if (!rpc::encode_accepted_reply(*writer_, c.xid(), rpc::accept_stat::SUCCESS)) {
      writer_.reset();
      return nullptr;
    }
    return &*writer_;
  }
  void commit_reply(Call& c) override {
    const bool ok = writer_->finish();
    writer_.reset();
    std::vector<uint8_t> bytes = out_.flatten();
    out_.clear();
    if (!ok) {
      target_->finish(rpc::accept_stat::SYSTEM_ERR, nullptr, nullptr);
    } else {
      target_->post_bytes(std::move(bytes));
    }
    target_.reset();
    (void)c;
  }
  void abort_reply(Call& c) override {
    (void)c;
    writer_.reset();
    out_.clear();
  }
  ReplyHandle defer(Call& c) override {
    (void)c;
    return ReplyHandle(std::move(target_));
  }

  // After dispatch: whatever the handler did not answer itself.
  void finish_call(const Call& call, xdr::DispatchStatus st) {
    if (!target_) return;  // replied or deferred
    switch (call.state()) {
      case Call::State::kDropped:
        target_->drop();
        break;
      case Call::State::kFailed:
        target_->finish(call.failure(), nullptr, nullptr);
        break;
      default:
        target_->finish(st == xdr::DispatchStatus::kProcUnavail   ? rpc::accept_stat::PROC_UNAVAIL
                        : st == xdr::DispatchStatus::kGarbageArgs ? rpc::accept_stat::GARBAGE_ARGS
                                                                  : rpc::accept_stat::SYSTEM_ERR,
                        nullptr, nullptr);
        break;
    }
    target_.reset();
  }

 private:
  std::unique_ptr<RemoteReply> target_;
  xdr::EncodeOptions opts_;
  xdr::OutMessage out_;
  std::optional<xdr::XdrWriter> writer_;
};

// A blocking call on its way to an offload thread.
struct OffloadJob {
  Service* svc;
  std::vector<uint8_t> record;
  SockAddr peer;
  TransportKind kind;
  std::optional<PeerCred> cred;
  xdr::DecodeOptions opts;
  std::unique_ptr<RemoteReply> target;
};

void run_offloaded(OffloadJob& job) {
  thread_local Arena arena;
  arena.reset();
  xdr::XdrReader r(job.record, job.opts);
  rpc::CallHeader h;
  rpc::decode_call_header(r, h);  // decoded once already on the shard
  rpc::AuthSysParms sys;
  const rpc::AuthSysParms* sysp = nullptr;
  if (h.cred.flavor == static_cast<uint32_t>(rpc::auth_flavor::AUTH_SYS) &&
      rpc::decode_authsys(h.cred.body, sys, job.opts)) {
    sysp = &sys;
  }
  OffloadSink sink(std::move(job.target));
  Call call(h, sysp, job.peer, job.kind, arena, sink, job.cred ? &*job.cred : nullptr);
  xdr::DispatchStatus st;
  try {
    st = job.svc->dispatch(call, r);
  } catch (...) {
    st = xdr::DispatchStatus::kSystemErr;
  }
  sink.finish_call(call, st);
}

// --- Shard ------------------------------------------------------------------------------------

void Shard::run(std::function<void(bool, const std::string&)> ready) {
  std::string error;
  loop_ = EventLoop::create(srv_.options.loop, &error);
  if (!loop_) {
    // The sockets meant for this shard are its own to close (the Server hands them over).
    for (Endpoint& e : srv_.endpoints) {
      if (!e.on_socket_file()) {
        ::close(e.fds[index_]);
      } else if (index_ == 0) {
        ::close(e.fds[0]);
      }
    }
    ready(false, error);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->shard = this;
    link_->loop = loop_.get();
  }
  for (Endpoint& e : srv_.endpoints) {
    if (e.kind == TransportKind::kUnix) {
      if (index_ == 0) listeners_.push_back(loop_->add_listener(e.fds[0], *this));
    } else if (e.kind == TransportKind::kShm) {
      if (index_ == 0) listeners_.push_back(loop_->add_listener(e.fds[0], shm_acceptor_));
    } else if (e.kind == TransportKind::kTcp) {
      listeners_.push_back(loop_->add_listener(e.fds[index_], *this));
    } else {
      datagrams_.push_back(loop_->add_datagram(e.fds[index_], *this));
    }
  }
  ready(true, loop_->describe());
  loop_->arm_after(tick_, std::chrono::milliseconds(100));
  loop_->run();

  {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->shard = nullptr;
    link_->loop = nullptr;
  }
  // Whatever the drain left: close without ceremony, then let the loop deliver on_closed.
  for (auto& [id, c] : conns_) {
    (void)id;
    if (c->stream_ != nullptr) c->stream_->close();
  }
  for (int i = 0; i < 100 && !conns_.empty(); ++i) loop_->run_once(std::chrono::milliseconds(10));
  for (auto& [id, c] : conns_) {
    (void)id;
    delete c;  // only if the loop could not finish closing: the loop's destructor closes fds
  }
  conns_.clear();
  // Listening and datagram sockets are closed only when the kernel has confirmed the cancel of
  // their armed operations; a loop torn down before that leaves them bound after the process
  // has gone (io_uring releases them asynchronously), and a server restarted at once would share
  // its port, through SO_REUSEPORT, with a socket nobody serves.
  loop_->drain(std::chrono::seconds(1));
  loop_->disarm(tick_);
  writer_.reset();
  out_.clear();
  loop_.reset();
}

void Shard::on_accept(int fd, const SockAddr& peer) {
  // A Unix-socket peer may come back unnamed (AF_UNSPEC, length 0) from accept.
  const TransportKind kind =
      peer.is_unix() || peer.family() == AF_UNSPEC ? TransportKind::kUnix : TransportKind::kTcp;
  if (shutting_down_) {
    ::close(fd);
    return;
  }
  transport::prepare_accepted(fd);
  if (kind == TransportKind::kUnix) {
    // One Unix listener (on shard 0) for all: hand connections out round-robin.
    Shard* s = next_local_shard();
    if (s != this) {
      std::lock_guard<std::mutex> lock(s->link_->mu);
      if (s->link_->loop != nullptr) {
        s->link_->loop->post([s, fd, peer] { s->adopt(fd, peer, TransportKind::kUnix); });
        return;
      }
    }
  }
  adopt(fd, peer, kind);
}

Shard* Shard::next_local_shard() {
  if (srv_.shards.size() < 2) return this;
  return srv_.shards[unix_rr_++ % srv_.shards.size()].get();
}

static void close_endpoint(transport::ShmEndpoint& e) {
  for (int fd : {e.wake, e.peer_wake, e.control}) {
    if (fd >= 0) ::close(fd);
  }
  e.wake = e.peer_wake = e.control = -1;
  e.segment.reset();
}

void Shard::on_accept_shm(int fd) {
  if (shutting_down_) {
    ::close(fd);
    return;
  }
  transport::prepare_accepted(fd);
  // Made here, on the listening shard, and sent at once: the client's loop waits for it.
  auto e = std::make_shared<transport::ShmEndpoint>();
  std::string why;
  if (!transport::offer_shm(fd, srv_.options.shm_ring_bytes, *e, &why)) {
    log_.warn("shared-memory connection not set up: %s", why.c_str());
    ::close(fd);
    return;
  }
  Shard* s = next_local_shard();
  if (s != this) {
    std::lock_guard<std::mutex> lock(s->link_->mu);
    if (s->link_->loop != nullptr) {
      s->link_->loop->post([s, e] { s->adopt_shm(e); });
      return;
    }
  }
  adopt_shm(e);
}

void Shard::adopt_shm(const std::shared_ptr<transport::ShmEndpoint>& e) {
  if (shutting_down_) {
    close_endpoint(*e);
    return;
  }
  auto* c = new Connection(*this, next_conn_id_++, TransportKind::kShm, srv_.options.max_record);
  c->last_active_ = loop_->now();
  ucred uc{};
  socklen_t len = sizeof uc;
  if (::getsockopt(e->control, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof uc) {
    c->has_cred_ = true;
    c->cred_ = PeerCred{uc.uid, uc.gid, uc.pid};
  }
  c->stream_ = loop_->add_shm_stream(std::move(*e), *c);
  if (c->stream_ == nullptr) {
    delete c;
    return;
  }
  conns_.emplace(c->id_, c);
  bump(srv_.stats.connections_accepted);
  bump(srv_.stats.connections_open);
  c->stream_->user = c;
  if (budget_paused_) c->stream_->pause_reading();
}

void Shard::adopt(int fd, const SockAddr& peer, TransportKind kind) {
  if (shutting_down_) {
    ::close(fd);
    return;
  }
  auto* c = new Connection(*this, next_conn_id_++, kind, srv_.options.max_record);
  c->last_active_ = loop_->now();
  if (kind == TransportKind::kUnix) {
    ucred uc{};
    socklen_t len = sizeof uc;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0 && len == sizeof uc) {
      c->has_cred_ = true;
      c->cred_ = PeerCred{uc.uid, uc.gid, uc.pid};
    }
  }
  conns_.emplace(c->id_, c);
  bump(srv_.stats.connections_accepted);
  bump(srv_.stats.connections_open);
  c->stream_ = loop_->add_stream(fd, *c, peer);
  c->stream_->user = c;
  if (budget_paused_) c->stream_->pause_reading();
}

void Shard::connection_closed(Connection* c) {
  conns_.erase(c->id_);
  srv_.stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
  delete c;
  maybe_finish_shutdown();
}

void Shard::on_datagram(Datagram& d, std::span<const uint8_t> data, const SockAddr& from,
                        bool truncated, const Buffer& owner) {
  (void)owner;
  if (shutting_down_) return;
  Origin o;
  o.dgram = &d;
  o.peer = &from;
  o.kind = TransportKind::kUdp;
  o.truncated = truncated || data.size() > srv_.options.udp_max_message;
  handle_call(data, o);
}

ReplyRoute Shard::route_of(const Origin& o, uint32_t xid) const {
  ReplyRoute r;
  r.kind = o.kind;
  r.xid = xid;
  if (o.conn != nullptr) {
    r.conn_id = o.conn->id_;
  } else {
    for (uint32_t i = 0; i < datagrams_.size(); ++i) {
      if (datagrams_[i] == o.dgram) r.datagram = i;
    }
    r.peer = *o.peer;
  }
  return r;
}

void Shard::handle_call(std::span<const uint8_t> record, const Origin& o) {
  bump(srv_.stats.calls);
  xdr::XdrReader r(record, decode_opts_);
  rpc::CallHeader h;
  if (!rpc::decode_call_header(r, h)) [[unlikely]] {
    bad_header(r, h, o);
    return;
  }
  drc_entry_ = nullptr;
  if (o.kind == TransportKind::kUdp && drc_) {
    auto [entry, seen] = drc_->lookup_or_insert(h.xid, *o.peer);
    if (seen) {
      bump(srv_.stats.drc_hits);
      // A retransmission: send the same reply again, or drop it while the call still runs.
      if (entry->done && !entry->reply.empty()) resend(o, entry->reply);
      return;
    }
    drc_entry_ = entry;
  }
  if (h.rpcvers != rpc::kRpcVersion) [[unlikely]] {
    send_rpc_mismatch(o, h.xid);
    return;
  }
  rpc::AuthSysParms sys;
  const rpc::AuthSysParms* sysp = nullptr;
  const uint32_t flavor = h.cred.flavor;
  if (flavor == static_cast<uint32_t>(rpc::auth_flavor::AUTH_SYS)) {
    if (!rpc::decode_authsys(h.cred.body, sys, decode_opts_)) {
      send_auth_error(o, h.xid, rpc::auth_stat::AUTH_BADCRED);
      return;
    }
    sysp = &sys;
  }
  const bool known_flavor =
      flavor == static_cast<uint32_t>(rpc::auth_flavor::AUTH_NONE) || sysp != nullptr;
  if (srv_.auth_check && h.proc != 0) {
    const rpc::auth_stat verdict = srv_.auth_check(AuthRequest{h, sysp, *o.peer, o.kind});
    if (verdict != rpc::auth_stat::AUTH_OK) {
      send_auth_error(o, h.xid, verdict);
      return;
    }
  } else if (!known_flavor) {
    send_auth_error(o, h.xid, rpc::auth_stat::AUTH_REJECTEDCRED);
    return;
  }
  const ProgramEntry* prog = srv_.find_program(h.prog);
  if (prog == nullptr) {
    send_error(o, h.xid, rpc::accept_stat::PROG_UNAVAIL);
    return;
  }
  Service* svc = prog->find(h.vers);
  if (svc == nullptr) {
    send_error(o, h.xid, rpc::accept_stat::PROG_MISMATCH, {prog->low, prog->high});
    return;
  }
  if (o.truncated) {
    send_error(o, h.xid, rpc::accept_stat::GARBAGE_ARGS);
    return;
  }
  if (svc->is_blocking(h.proc)) {
    offload(record, o, svc);
    return;
  }
  arena_.reset();
  origin_ = &o;
  xid_ = h.xid;
  Call call(h, sysp, *o.peer, o.kind, arena_, *this, o.cred);
  xdr::DispatchStatus st;
  try {
    st = svc->dispatch(call, r);
  } catch (const std::exception& e) {
    log_.warn("%s.%s procedure %u threw: %s", svc->program_name(), svc->version_name(), h.proc,
              e.what());
    st = xdr::DispatchStatus::kSystemErr;
    writer_.reset();
  } catch (...) {
    log_.warn("%s.%s procedure %u threw", svc->program_name(), svc->version_name(), h.proc);
    st = xdr::DispatchStatus::kSystemErr;
    writer_.reset();
  }
  origin_ = nullptr;
  switch (call.state()) {
    case Call::State::kReplied:
    case Call::State::kDropped:
    case Call::State::kDeferred:
      return;
    case Call::State::kFailed:
      send_error(o, h.xid, call.failure(), call.mismatch());
      return;
    case Call::State::kOpen:
      break;
  }
  switch (st) {
    case xdr::DispatchStatus::kProcUnavail:
      send_error(o, h.xid, rpc::accept_stat::PROC_UNAVAIL);
      break;
    case xdr::DispatchStatus::kGarbageArgs:
      send_error(o, h.xid, rpc::accept_stat::GARBAGE_ARGS);
      break;
    case xdr::DispatchStatus::kSuccess:
    case xdr::DispatchStatus::kSystemErr:
      send_error(o, h.xid, rpc::accept_stat::SYSTEM_ERR);
      break;
  }
}

void Shard::bad_header(const xdr::XdrReader& r, const rpc::CallHeader& h, const Origin& o) {
  const xdr::XdrError& e = r.error();
  const char* what = e.what != nullptr ? e.what : "";
  // A credential or verifier that cannot be decoded is an authentication failure the client
  // can be told about; anything before it means the bytes are not an RPC call at all.
  if (std::strcmp(what, "call_body.cred") == 0) {
    send_auth_error(o, h.xid, rpc::auth_stat::AUTH_BADCRED);
    return;
  }
  if (std::strcmp(what, "call_body.verf") == 0) {
    send_auth_error(o, h.xid, rpc::auth_stat::AUTH_BADVERF);
    return;
  }
  bump(srv_.stats.malformed);
  const bool is_reply = std::strcmp(what, "msg_type") == 0 && e.value == 1;
  if (is_reply) return;  // a REPLY sent to a server: nothing to answer, nothing broken
  log_.warn("%s message from %s is not an RPC call (%s)%s", to_string(o.kind),
            o.peer->to_string().c_str(), e.to_string().c_str(),
            o.conn != nullptr ? "; closing the connection" : "; dropped");
  if (o.conn != nullptr && o.conn->stream_ != nullptr) o.conn->stream_->close();
}

xdr::XdrWriter* Shard::begin_reply(Call& c) {
  out_.clear();
  writer_.emplace(loop_->send_pool(), out_,
                  origin_->kind == TransportKind::kUdp ? dgram_opts_ : stream_opts_);
  if (!rpc::encode_accepted_reply(*writer_, c.xid(), rpc::accept_stat::SUCCESS)) {
    writer_.reset();
    out_.clear();
    return nullptr;
  }
  return &*writer_;
}

void Shard::commit_reply(Call& c) {
  const bool ok = writer_->finish();
  writer_.reset();
  if (!ok) {
    out_.clear();
    send_error(*origin_, c.xid(), rpc::accept_stat::SYSTEM_ERR);
    return;
  }
  if (origin_->kind == TransportKind::kUdp && out_.size() > srv_.options.udp_max_message) {
    log_.warn("reply to %s is %zu bytes, over the UDP limit of %zu; sent SYSTEM_ERR",
              origin_->peer->to_string().c_str(), out_.size(), srv_.options.udp_max_message);
    out_.clear();
    send_error(*origin_, c.xid(), rpc::accept_stat::SYSTEM_ERR);
    return;
  }
  bump(srv_.stats.replies);
  send_out(*origin_);
}

void Shard::abort_reply(Call& c) {
  (void)c;
  writer_.reset();
  out_.clear();
}

ReplyHandle Shard::defer(Call& c) {
  if (origin_->conn != nullptr) origin_->conn->call_started();
  ++remote_pending_;
  return ReplyHandle(std::make_unique<RemoteReply>(link_, route_of(*origin_, c.xid()),
                                                   srv_.options.udp_max_message));
}

void Shard::send_out(const Origin& o) {
  if (o.conn != nullptr) {
    if (o.conn->stream_ != nullptr) o.conn->stream_->send(std::move(out_));
    out_.clear();
  } else if (o.dgram != nullptr) {
    o.dgram->send_to(out_, *o.peer);
    if (drc_entry_ != nullptr) {
      drc_entry_->reply = out_.flatten();
      drc_entry_->done = true;
      drc_entry_ = nullptr;
    }
    out_.clear();
  }
}

void Shard::resend(const Origin& o, const std::vector<uint8_t>& bytes) {
  xdr::OutMessage m;
  xdr::EncodeOptions raw;
  raw.record_mark = false;
  xdr::XdrWriter w(loop_->send_pool(), m, raw);
  if (w.put_bytes(bytes.data(), bytes.size()) && w.finish()) o.dgram->send_to(m, *o.peer);
}

void Shard::send_error(const Origin& o, uint32_t xid, rpc::accept_stat stat,
                       rpc::MismatchInfo mismatch) {
  out_.clear();
  xdr::XdrWriter w(loop_->send_pool(), out_,
                   o.kind == TransportKind::kUdp ? dgram_opts_ : stream_opts_);
  if (rpc::encode_accepted_reply(w, xid, stat, {}, mismatch) && w.finish()) {
    bump(srv_.stats.errors_sent);
    send_out(o);
  }
  out_.clear();
}

void Shard::send_auth_error(const Origin& o, uint32_t xid, rpc::auth_stat why) {
  out_.clear();
  xdr::XdrWriter w(loop_->send_pool(), out_,
                   o.kind == TransportKind::kUdp ? dgram_opts_ : stream_opts_);
  if (rpc::encode_auth_error(w, xid, why) && w.finish()) {
    bump(srv_.stats.errors_sent);
    send_out(o);
  }
  out_.clear();
}

void Shard::send_rpc_mismatch(const Origin& o, uint32_t xid) {
  out_.clear();
  xdr::XdrWriter w(loop_->send_pool(), out_,
                   o.kind == TransportKind::kUdp ? dgram_opts_ : stream_opts_);
  if (rpc::encode_rpc_mismatch(w, xid, {rpc::kRpcVersion, rpc::kRpcVersion}) && w.finish()) {
    bump(srv_.stats.errors_sent);
    send_out(o);
  }
  out_.clear();
}

void Shard::offload(std::span<const uint8_t> record, const Origin& o, Service* svc) {
  xdr::XdrReader peek(record, decode_opts_);
  rpc::CallHeader h;
  rpc::decode_call_header(peek, h);
  auto target =
      std::make_unique<RemoteReply>(link_, route_of(o, h.xid), srv_.options.udp_max_message);
  // The record is copied: the receive buffer goes back to the kernel now, the handler may run
  // much later.
  std::vector<uint8_t> bytes(record.begin(), record.end());
  auto job = std::make_shared<OffloadJob>(
      OffloadJob{svc, std::move(bytes), *o.peer, o.kind,
                 o.cred != nullptr ? std::optional<PeerCred>(*o.cred) : std::nullopt, decode_opts_,
                 std::move(target)});
  const bool queued = srv_.offload->submit([job] { run_offloaded(*job); });
  if (!queued) {
    bump(srv_.stats.offload_rejected);
    log_.warn("offload queue full (%zu calls); answered SYSTEM_ERR", srv_.options.offload_queue);
    send_error(o, h.xid, rpc::accept_stat::SYSTEM_ERR);
    return;
  }
  bump(srv_.stats.offloaded);
  if (o.conn != nullptr) o.conn->call_started();
  ++remote_pending_;
}

void Shard::deliver_remote(const ReplyRoute& route, std::vector<uint8_t>* bytes) {
  --remote_pending_;
  Connection* conn = nullptr;
  if (route.conn_id != 0) {
    auto it = conns_.find(route.conn_id);
    if (it != conns_.end()) conn = it->second;
  }
  if (bytes != nullptr && !bytes->empty()) {
    xdr::OutMessage m;
    xdr::EncodeOptions raw;
    raw.record_mark = false;
    xdr::XdrWriter w(loop_->send_pool(), m, raw);
    if (w.put_bytes(bytes->data(), bytes->size()) && w.finish()) {
      if (conn != nullptr && conn->stream_ != nullptr) {
        conn->stream_->send(std::move(m));
        bump(srv_.stats.replies);
      } else if (route.conn_id == 0 && route.datagram < datagrams_.size() &&
                 datagrams_[route.datagram] != nullptr) {
        datagrams_[route.datagram]->send_to(m, route.peer);
        bump(srv_.stats.replies);
        if (drc_) {
          if (DuplicateRequestCache::Entry* e = drc_->find(route.xid, route.peer)) {
            e->reply = *bytes;
            e->done = true;
          }
        }
      }
    }
  }
  if (conn != nullptr) conn->call_finished();
  maybe_finish_shutdown();
}

size_t Shard::memory_in_use() const noexcept {
  // Receive buffers count while something above the kernel holds them (not while they wait
  // empty in the provided-buffer ring); send buffers hold the queued replies.
  const BufferPool& rp = loop_->recv_pool();
  const size_t held =
      rp.buffers_in_use() - std::min(rp.buffers_in_use(), loop_->recv_buffers_in_kernel());
  size_t bytes = held * rp.buffer_size() +
                 loop_->send_pool().buffers_in_use() * loop_->send_pool().buffer_size();
  for (const auto& [id, c] : conns_) {
    (void)id;
    bytes += c->reader_.buffered();
  }
  return bytes;
}

void Shard::check_budget() {
  const size_t used = memory_in_use();
  const size_t budget = srv_.options.memory_budget;
  if (!budget_paused_ && used > budget) {
    budget_paused_ = true;
    bump(srv_.stats.read_pauses);
    loop_->set_reading(false);
    log_.warn("shard %u over its memory budget (%zu of %zu bytes); reading paused", index_, used,
              budget);
  } else if (budget_paused_) {
    // Resume below 75% of the budget, or when nothing we hold can shrink without reading more:
    // no reply waiting to go out and no call in flight means what is left is partial records,
    // which only reading can complete (pausing on them would never end).
    bool replies_pending = remote_pending_ != 0;
    for (const auto& [id, c] : conns_) {
      (void)id;
      if (c->stream_ != nullptr && c->stream_->queued_bytes() != 0) replies_pending = true;
    }
    if (used <= budget - budget / 4 || !replies_pending) {
      budget_paused_ = false;
      loop_->set_reading(true);
    }
  }
}

void Shard::on_tick() {
  check_budget();
  const uint64_t zc = loop_->stats().zc_sends;
  bump(srv_.stats.zc_sends, zc - zc_published_);
  zc_published_ = zc;
  const auto idle = srv_.options.idle_timeout;
  const auto now = loop_->now();
  for (auto& [id, c] : conns_) {
    (void)id;
    // Reassembly storage is kept while a connection is busy (no allocation per record that
    // straddles two reads) and given back once it has been quiet for a second.
    if (now - c->last_active_ > std::chrono::seconds(1)) c->reader_.release_memory();
  }
  if (idle.count() > 0 && !shutting_down_) {
    for (auto& [id, c] : conns_) {
      (void)id;
      if (c->inflight_ == 0 && c->stream_ != nullptr && !c->stream_->closing() &&
          now - c->last_active_ > idle && c->stream_->queued_bytes() == 0) {
        c->stream_->close();
      }
    }
  }
  if (shutting_down_ && loop_->now() >= drain_deadline_) {
    if (!conns_.empty() || remote_pending_ != 0) {
      log_.warn("shard %u: drain timeout with %zu connections and %llu calls pending; closing",
                index_, conns_.size(), static_cast<unsigned long long>(remote_pending_));
    }
    for (auto& [id, c] : conns_) {
      (void)id;
      if (c->stream_ != nullptr) c->stream_->close();
    }
    loop_->stop();
    return;
  }
  const auto period = budget_paused_ || shutting_down_ ? std::chrono::milliseconds(10)
                                                       : std::chrono::milliseconds(100);
  loop_->arm_after(tick_, period);
}

void Shard::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  drain_deadline_ = loop_->now() + srv_.options.drain_timeout;
  for (transport::Listener* l : listeners_) loop_->close_listener(l);
  listeners_.clear();
  for (Datagram*& d : datagrams_) {
    loop_->close_datagram(d);
    d = nullptr;
  }
  for (auto& [id, c] : conns_) {
    (void)id;
    c->drain();
  }
  loop_->arm_after(tick_, std::chrono::milliseconds(10));
  maybe_finish_shutdown();
}

void Shard::maybe_finish_shutdown() {
  if (shutting_down_ && conns_.empty() && remote_pending_ == 0) loop_->stop();
}

}  // namespace

// --- Server -----------------------------------------------------------------------------------

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  stop();
  wait();
  // The sockets belonged to the shards' loops, which closed them; the socket file is ours.
  for (Endpoint& e : impl_->endpoints) {
    if (e.on_socket_file() && !e.fds.empty()) ::unlink(e.path.c_str());
  }
}

void Server::add_service(Service& s) {
  RINGRPC_CHECK(!impl_->running.load(), "add_service() after start()");
  for (ProgramEntry& p : impl_->programs) {
    if (p.program != s.program()) continue;
    RINGRPC_CHECK(p.find(s.version()) == nullptr, "program version registered twice");
    p.versions.push_back(&s);
    p.low = std::min(p.low, s.version());
    p.high = std::max(p.high, s.version());
    return;
  }
  ProgramEntry p;
  p.program = s.program();
  p.versions.push_back(&s);
  p.low = p.high = s.version();
  impl_->programs.push_back(std::move(p));
}

void Server::set_auth_check(AuthCheck check) { impl_->auth_check = std::move(check); }

void Server::listen_tcp(const SockAddr& addr) {
  impl_->endpoints.push_back({TransportKind::kTcp, addr, {}, {}});
}
void Server::listen_udp(const SockAddr& addr) {
  impl_->endpoints.push_back({TransportKind::kUdp, addr, {}, {}});
}
void Server::listen_unix(const std::string& path) {
  Endpoint e{TransportKind::kUnix, SockAddr(), path, {}};
  impl_->endpoints.push_back(std::move(e));
}
void Server::listen_shm(const std::string& path) {
  Endpoint e{TransportKind::kShm, SockAddr(), path, {}};
  impl_->endpoints.push_back(std::move(e));
}

static bool bind_endpoint(Endpoint& e, unsigned shards, std::string& error) {
  transport::IoError io;
  transport::ListenOptions lo;
  if (e.on_socket_file()) {
    if (!SockAddr::unix_path(e.path, e.addr)) {
      error = "unix socket path too long: " + e.path;
      return false;
    }
    // A socket file nobody listens on (a previous run that was killed) is replaced; one that
    // answers is someone else's.
    struct stat st {};
    if (::lstat(e.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      bool in_progress = false;
      transport::IoError probe;
      const int fd = transport::connect_stream(e.addr, in_progress, probe);
      if (fd >= 0) {
        ::close(fd);
        error = "unix socket " + e.path + " is in use by another server";
        return false;
      }
      ::unlink(e.path.c_str());
    }
    const int fd = transport::listen_stream(e.addr, lo, io);
    if (fd < 0) {
      error = "cannot listen on unix socket " + e.path + ": " + io.to_string();
      return false;
    }
    e.fds.push_back(fd);
    return true;
  }
  lo.reuse_port = shards > 1;
  for (unsigned i = 0; i < shards; ++i) {
    const int fd = e.kind == TransportKind::kTcp ? transport::listen_stream(e.addr, lo, io)
                                                 : transport::bind_datagram(e.addr, lo, io);
    if (fd < 0) {
      error = std::string("cannot bind ") + to_string(e.kind) + " " + e.addr.to_string() + ": " +
              io.to_string();
      return false;
    }
    e.fds.push_back(fd);  // e.addr now carries the port the kernel chose
  }
  return true;
}

bool Server::start(std::string* error) {
  Impl& m = *impl_;
  RINGRPC_CHECK(!m.running.load(), "start() called twice");
  std::string err;
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    for (Endpoint& e : m.endpoints) {
      for (int fd : e.fds) ::close(fd);
      e.fds.clear();
    }
    return false;
  };
  if (m.endpoints.empty()) return fail("no endpoint to listen on (listen_tcp/udp/unix/shm)");
  unsigned n = m.options.shards;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (Endpoint& e : m.endpoints) {
    if (!bind_endpoint(e, n, err)) return fail(err);
  }
  m.offload = std::make_unique<OffloadPool>(m.options.offload_threads, m.options.offload_queue);
  for (unsigned i = 0; i < n; ++i) m.shards.push_back(std::make_unique<Shard>(m, i));

  std::mutex ready_mu;
  std::condition_variable ready_cv;
  unsigned ready = 0;
  std::string first_error;
  for (unsigned i = 0; i < n; ++i) {
    m.threads.emplace_back([&, i] {
      m.shards[i]->run([&](bool ok, const std::string& what) {
        std::lock_guard<std::mutex> lock(ready_mu);
        if (!ok && first_error.empty()) first_error = what;
        if (ok && i == 0) m.backend = what;
        ++ready;
        ready_cv.notify_all();
      });
    });
  }
  {
    std::unique_lock<std::mutex> lock(ready_mu);
    ready_cv.wait(lock, [&] { return ready == n; });
  }
  m.running.store(true);
  if (!first_error.empty()) {
    stop();
    wait();
    // The shards closed their sockets (those whose loop started, at stop; the others at once).
    for (Endpoint& e : m.endpoints) e.fds.clear();
    if (error) *error = "cannot start event loop: " + first_error;
    return false;
  }
  return true;
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.running.load() || m.stopping.exchange(true)) return;
  m.unregister_rpcbind();
  for (auto& s : m.shards) {
    if (s->loop() != nullptr) {
      Shard* shard = s.get();
      s->loop()->post([shard] { shard->begin_shutdown(); });
    }
  }
}

void Server::wait() {
  Impl& m = *impl_;
  for (std::thread& t : m.threads) {
    if (t.joinable()) t.join();
  }
  m.threads.clear();
  m.offload.reset();
  m.shards.clear();
  m.running.store(false);
}

bool Server::running() const noexcept { return impl_->running.load() && !impl_->stopping.load(); }

uint16_t Server::tcp_port() const noexcept {
  for (const Endpoint& e : impl_->endpoints) {
    if (e.kind == TransportKind::kTcp) return e.addr.port();
  }
  return 0;
}

uint16_t Server::udp_port() const noexcept {
  for (const Endpoint& e : impl_->endpoints) {
    if (e.kind == TransportKind::kUdp) return e.addr.port();
  }
  return 0;
}

std::vector<std::pair<TransportKind, SockAddr>> Server::endpoints() const {
  std::vector<std::pair<TransportKind, SockAddr>> out;
  for (const Endpoint& e : impl_->endpoints) out.emplace_back(e.kind, e.addr);
  return out;
}

std::string Server::backend_description() const { return impl_->backend; }
unsigned Server::shard_count() const noexcept {
  return static_cast<unsigned>(impl_->shards.size());
}

ServerStats Server::stats() const {
  const AtomicStats& a = impl_->stats;
  ServerStats s;
  s.connections_accepted = a.connections_accepted.load(std::memory_order_relaxed);
  s.connections_open = a.connections_open.load(std::memory_order_relaxed);
  s.calls = a.calls.load(std::memory_order_relaxed);
  s.replies = a.replies.load(std::memory_order_relaxed);
  s.errors_sent = a.errors_sent.load(std::memory_order_relaxed);
  s.malformed = a.malformed.load(std::memory_order_relaxed);
  s.offloaded = a.offloaded.load(std::memory_order_relaxed);
  s.offload_rejected = a.offload_rejected.load(std::memory_order_relaxed);
  s.drc_hits = a.drc_hits.load(std::memory_order_relaxed);
  s.read_pauses = a.read_pauses.load(std::memory_order_relaxed);
  s.zc_sends = a.zc_sends.load(std::memory_order_relaxed);
  return s;
}

// The (netid, universal address) of every endpoint, as svc_reg registers them.
static std::vector<std::pair<std::string, std::string>> registry_addresses(
    const std::vector<std::pair<TransportKind, SockAddr>>& endpoints) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [kind, addr] : endpoints) {
    const int family =
        kind == TransportKind::kUnix || kind == TransportKind::kShm ? AF_UNIX : addr.family();
    out.emplace_back(std::string(registry::netid_of(kind, family).netid), registry::to_uaddr(addr));
  }
  return out;
}

bool Server::register_with_rpcbind(std::string* error) {
  Impl& m = *impl_;
  const auto addresses = registry_addresses(endpoints());
  constexpr auto kTimeout = std::chrono::seconds(3);
  Result<std::unique_ptr<HostRegistry>> host =
      HostRegistry::find(registry::kDefaultUnixPath, kTimeout);
  if (!host.ok() && m.options.embedded_registry) {
    // No registry on this host: serve one, so that one server binary is all a user needs.
    registry::RegistryServerOptions ro;
    ro.log = m.options.log;
    auto embedded = std::make_unique<registry::RegistryServer>(ro);
    std::string why;
    bool in_use = false;
    if (embedded->start(&why, &in_use)) {
      for (const Service* s : m.services_for_registry()) {
        for (const auto& [netid, uaddr] : addresses) {
          embedded->registry().set({s->program(), s->version(), netid, uaddr,
                                    ::getuid() == 0 ? "superuser" : std::to_string(::getuid())});
        }
      }
      std::lock_guard<std::mutex> lock(m.mu);
      m.embedded = std::move(embedded);
      m.registry_where = "embedded registry (" + m.embedded->describe() + ")";
      return true;
    }
    if (!in_use) {
      if (error) *error = "no registry runs on this host and this server cannot host one: " + why;
      return false;
    }
    // Another server started one first: register with it.
    host = HostRegistry::find(registry::kDefaultUnixPath, kTimeout);
  }
  if (!host.ok()) {
    if (error) *error = "no registry answers on this host (" + host.error().to_string() + ")";
    return false;
  }
  HostRegistry& reg = *host.value();
  for (const Service* s : m.services_for_registry()) {
    // Replace what a previous instance left.
    (void)reg.unset(s->program(), s->version());
    for (const auto& [netid, uaddr] : addresses) {
      if (reg.version() == 2 && registry::ipproto_of_netid(netid) == 0) continue;
      Result<bool> r = reg.set(s->program(), s->version(), netid, uaddr);
      if (!r.ok() || !r.value()) {
        if (error) {
          *error =
              std::string("the registry (") + reg.describe() + ") refused " + s->program_name() +
              " version " + std::to_string(s->version()) + " on " + netid +
              (r.ok() ? std::string(" (SET returned FALSE)") : " (" + r.error().to_string() + ")");
        }
        return false;
      }
    }
    std::lock_guard<std::mutex> lock(m.mu);
    m.registered.emplace_back(s->program(), s->version());
  }
  std::lock_guard<std::mutex> lock(m.mu);
  m.registry_where = reg.describe();
  m.host_registry = std::move(host.value());
  return true;
}

std::string Server::registry_description() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->registry_where;
}

void Server::Impl::unregister_rpcbind() {
  std::vector<std::pair<uint32_t, uint32_t>> done;
  std::unique_ptr<HostRegistry> reg;
  std::unique_ptr<registry::RegistryServer> hosted;
  {
    std::lock_guard<std::mutex> lock(mu);
    done.swap(registered);
    reg = std::move(host_registry);
    hosted = std::move(embedded);
  }
  if (reg) {
    for (const auto& [prog, vers] : done) (void)reg->unset(prog, vers);
  }
  if (hosted) hosted->stop();  // its registrations (ours and others') go with it
}

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_termination_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace ringrpc
