#include "engine/client.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "codec/check.h"
#include "codec/record_marking.h"
#include "engine/registration.h"
#include "engine/reply_encoding.h"

namespace ringrpc {

using transport::Clock;
using transport::EventLoop;
using transport::SockAddr;
using transport::Stream;

// --- Credentials ------------------------------------------------------------------------------

Credentials Credentials::sys(std::string_view machine, uint32_t uid, uint32_t gid,
                             const std::vector<uint32_t>& gids, uint32_t stamp) {
  rpc::AuthSysParms p;
  p.stamp = stamp;
  p.machinename = machine.substr(0, rpc::kMaxMachineName);
  p.uid = uid;
  p.gid = gid;
  p.ngids = static_cast<uint32_t>(std::min<size_t>(gids.size(), rpc::kMaxAuthSysGids));
  for (uint32_t i = 0; i < p.ngids; ++i) p.gids[i] = gids[i];
  Credentials c;
  c.flavor = static_cast<uint32_t>(rpc::auth_flavor::AUTH_SYS);
  c.body.resize(rpc::authsys_size(p));
  size_t written = 0;
  if (!rpc::encode_authsys(p, c.body, written)) return none();
  c.body.resize(written);
  return c;
}

Credentials Credentials::sys_default() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  gid_t groups[rpc::kMaxAuthSysGids];
  const int n = getgroups(static_cast<int>(rpc::kMaxAuthSysGids), groups);
  std::vector<uint32_t> gids;
  for (int i = 0; i < n; ++i) gids.push_back(groups[i]);
  return sys(host, static_cast<uint32_t>(geteuid()), static_cast<uint32_t>(getegid()), gids,
             static_cast<uint32_t>(time(nullptr)));
}

// --- ClientRuntime ----------------------------------------------------------------------------

ClientRuntime::ClientRuntime(const transport::LoopOptions& options) {
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::string error;
  thread_ = std::thread([&, options] {
    std::unique_ptr<EventLoop> loop = EventLoop::create(options, &error);
    {
      std::lock_guard<std::mutex> lock(mu);
      loop_ = std::move(loop);
      ready = true;
    }
    cv.notify_all();
    if (!loop_) return;
    loop_->run();
    // Channels still connected hold themselves alive until their stream closes: close them all
    // here, on the loop's thread, so every call ends and every channel is freed.
    loop_->drain(std::chrono::seconds(2));
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return ready; });
  RINGRPC_CHECK(loop_ != nullptr, "ClientRuntime: no event loop can start");
}

ClientRuntime::~ClientRuntime() {
  loop_->stop();
  thread_.join();
  // Destroyed here, after its thread has drained it: the io_uring ring is only unmapped.
  loop_.reset();
}

ClientRuntime& ClientRuntime::shared() {
  // Never destroyed: channels may still reference its loop while static destructors run.
  static ClientRuntime* rt = new ClientRuntime();
  return *rt;
}

namespace internal {

// The loop-side state of a Channel. Lives until its stream has closed, even after the Channel
// handle is gone (it holds a reference to itself while a stream is open).
class ChannelCore final : public transport::StreamHandler,
                          public transport::DatagramHandler,
                          public transport::Timer,
                          public std::enable_shared_from_this<ChannelCore> {
 public:
  ChannelCore(EventLoop& loop, ChannelOptions options)
      : loop_(loop),
        options_(std::move(options)),
        reader_(xdr::RecordOptions{options_.max_record}) {
    stream_opts_.record_mark = options_.transport != TransportKind::kUdp;
    next_xid_ = static_cast<uint32_t>(Clock::now().time_since_epoch().count()) ^
                (static_cast<uint32_t>(getpid()) << 16);
    slots_.resize(64);
  }
  ~ChannelCore() override = default;

  EventLoop& loop() const noexcept { return loop_; }
  const ChannelOptions& options() const noexcept { return options_; }
  uint64_t calls_sent() const noexcept { return calls_sent_; }
  uint32_t in_flight() const noexcept { return inflight_; }

  // On the loop thread: encode and send.
  void start_call(uint32_t proc, Channel::EncodeFn enc, const void* enc_ctx, Channel::ReplyFn fn,
                  void* fn_ctx, const CallOptions& o) {
    if (closed_) return fail_later(fn, fn_ctx, RpcError::of(Errc::kCancelled));
    if (inflight_ >= options_.max_inflight) {
      return fail_later(fn, fn_ctx, RpcError::of(Errc::kTooManyCalls));
    }
    const uint32_t xid = allocate_xid();
    xdr::OutMessage m;
    {
      xdr::XdrWriter w(loop_.send_pool(), m, stream_opts_);
      if (!encode_header(w, xid, proc) || !enc(enc_ctx, w) || !w.finish()) {
        return fail_later(fn, fn_ctx, RpcError::of(Errc::kCannotEncode));
      }
    }
    Pending& p = add_pending(xid, proc, fn, fn_ctx, o);
    if (needs_copy(o)) p.resend = m.flatten();
    transmit(std::move(m));
  }

  // On the loop thread: a call encoded elsewhere (xid 0 in the bytes; patched here).
  void start_encoded(uint32_t proc, std::vector<uint8_t> bytes, Channel::ReplyFn fn, void* fn_ctx,
                     const CallOptions& o) {
    if (closed_) return fail_later(fn, fn_ctx, RpcError::of(Errc::kCancelled));
    if (inflight_ >= options_.max_inflight) {
      return fail_later(fn, fn_ctx, RpcError::of(Errc::kTooManyCalls));
    }
    const uint32_t xid = allocate_xid();
    const size_t at = stream_opts_.record_mark ? 4 : 0;
    xdr::store_be32(bytes.data() + at, xid);
    xdr::OutMessage m = message_of(bytes);
    Pending& p = add_pending(xid, proc, fn, fn_ctx, o);
    if (needs_copy(o)) p.resend = std::move(bytes);
    transmit(std::move(m));
  }

  // Encodes a call on a thread that is not the loop's, with xid 0.
  bool encode_elsewhere(uint32_t proc, Channel::EncodeFn enc, const void* enc_ctx,
                        std::vector<uint8_t>& out) const {
    xdr::OutMessage m;
    xdr::XdrWriter w(thread_reply_pool(), m, stream_opts_);
    if (!encode_header(w, 0, proc) || !enc(enc_ctx, w) || !w.finish()) return false;
    out = m.flatten();
    return true;
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    fail_all(RpcError::of(Errc::kCancelled));
    if (stream_ != nullptr) stream_->close();
    if (dgram_ != nullptr) {
      loop_.close_datagram(dgram_);
      dgram_ = nullptr;
    }
    loop_.disarm(*this);
  }

  // StreamHandler
  void on_connected(Stream& s, int err) override {
    (void)s;
    if (err != 0) connect_error_ = err;
  }
  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    (void)owner;
    while (!s.closing()) {
      xdr::Record rec;
      const auto st = reader_.next(data, rec);
      if (st == xdr::RecordReader::Status::kNeedMore) break;
      if (st == xdr::RecordReader::Status::kError) {
        s.close();
        return;
      }
      on_reply(rec.data);
    }
  }
  void on_eof(Stream& s) override { s.close(); }
  void on_closed(Stream& s, int err) override {
    (void)s;
    // The stream's hold on this channel ends here; `keep` may be the last reference, released
    // when this returns. Taken first: connection_lost() may open a new stream, which takes a
    // new hold.
    const std::shared_ptr<ChannelCore> keep = std::move(self_);
    stream_ = nullptr;
    reader_.reset();
    if (!closed_) {
      // A failed connect says why (refused, unreachable); a connection that broke later is a
      // reset, whatever the errno.
      const int e = connect_error_ != 0 ? connect_error_ : err;
      Errc code = Errc::kReset;
      if (e == ECONNREFUSED) {
        code = Errc::kRefused;
      } else if (connect_error_ != 0) {
        code = Errc::kCannotSend;
      }
      connect_error_ = 0;
      connection_lost(RpcError::io(code, e));
    }
  }

  // DatagramHandler
  void on_datagram(transport::Datagram& d, std::span<const uint8_t> data, const SockAddr& from,
                   bool truncated, const Buffer& owner) override {
    (void)d;
    (void)from;
    (void)owner;
    if (truncated) return;
    on_reply(data);
  }

  // Timer: deadlines and UDP retransmissions.
  void on_timer() override {
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.front().first <= now) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
      const uint32_t xid = deadlines_.back().second;
      deadlines_.pop_back();
      Pending* p = find(xid);
      if (p == nullptr) continue;
      if (p->deadline <= now) {
        complete(*p, RpcError::of(Errc::kTimedOut), nullptr);
        continue;
      }
      if (options_.transport == TransportKind::kUdp && p->next_retry <= now) {
        if (dgram_ != nullptr) dgram_->send_to(message_of(p->resend), options_.address);
        p->retry_interval =
            std::min<Clock::duration>(p->retry_interval * 2, options_.udp_retry * 8);
        p->next_retry = now + p->retry_interval;
      }
      schedule(*p);
    }
    rearm();
  }

 private:
  friend class ::ringrpc::Channel;

  struct Pending {
    uint32_t xid = 0;
    bool used = false;
    bool idempotent = false;
    bool retried = false;
    uint32_t proc = 0;
    Channel::ReplyFn fn = nullptr;
    void* ctx = nullptr;
    Clock::time_point deadline{};
    Clock::time_point next_retry{};
    Clock::duration retry_interval{};
    std::vector<uint8_t> resend;  // UDP and idempotent calls: the bytes to send again
  };
  using Deadline = std::pair<Clock::time_point, uint32_t>;
  static bool later(const Deadline& a, const Deadline& b) noexcept { return a.first > b.first; }

  bool needs_copy(const CallOptions& o) const noexcept {
    return options_.transport == TransportKind::kUdp || o.idempotent;
  }

  bool encode_header(xdr::XdrWriter& w, uint32_t xid, uint32_t proc) const {
    rpc::CallHeader h;
    h.xid = xid;
    h.prog = options_.program;
    h.vers = options_.version;
    h.proc = proc;
    h.cred.flavor = options_.credentials.flavor;
    h.cred.body = options_.credentials.body;
    return rpc::encode_call_header(w, h);
  }

  xdr::OutMessage message_of(const std::vector<uint8_t>& bytes) {
    xdr::OutMessage m;
    xdr::EncodeOptions raw;
    raw.record_mark = false;
    xdr::XdrWriter w(loop_.send_pool(), m, raw);
    w.put_bytes(bytes.data(), bytes.size());
    w.finish();
    return m;
  }

  uint32_t allocate_xid() {
    if (inflight_ * 2 >= slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    while (slots_[++next_xid_ & mask].used) {
    }
    return next_xid_;
  }

  void grow() {
    std::vector<Pending> old = std::move(slots_);
    slots_.assign(old.size() * 2, Pending{});
    const size_t mask = slots_.size() - 1;
    for (Pending& p : old) {
      if (p.used) slots_[p.xid & mask] = std::move(p);
    }
  }

  Pending* find(uint32_t xid) noexcept {
    Pending& p = slots_[xid & (slots_.size() - 1)];
    return (p.used && p.xid == xid) ? &p : nullptr;
  }

  Pending& add_pending(uint32_t xid, uint32_t proc, Channel::ReplyFn fn, void* ctx,
                       const CallOptions& o) {
    Pending& p = slots_[xid & (slots_.size() - 1)];
    p.xid = xid;
    p.used = true;
    p.idempotent = o.idempotent;
    p.retried = false;
    p.proc = proc;
    p.fn = fn;
    p.ctx = ctx;
    const auto now = loop_.approx_now();
    p.deadline = now + (o.timeout.count() > 0 ? o.timeout : options_.timeout);
    p.next_retry = Clock::time_point::max();
    if (options_.transport == TransportKind::kUdp) {
      p.retry_interval = options_.udp_retry;
      p.next_retry = now + p.retry_interval;
    }
    p.resend.clear();
    ++inflight_;
    ++calls_sent_;
    schedule(p);
    rearm();
    return p;
  }

  void schedule(const Pending& p) {
    deadlines_.emplace_back(std::min(p.deadline, p.next_retry), p.xid);
    std::push_heap(deadlines_.begin(), deadlines_.end(), later);
  }

  void rearm() {
    // Entries of calls already answered stay in the heap until their time; prune them when
    // they outnumber live calls, so the heap stays proportional to the calls in flight.
    if (deadlines_.size() > 64 && deadlines_.size() > 4 * static_cast<size_t>(inflight_)) {
      std::erase_if(deadlines_, [this](const Deadline& d) { return find(d.second) == nullptr; });
      std::make_heap(deadlines_.begin(), deadlines_.end(), later);
    }
    if (deadlines_.empty()) {
      if (armed()) loop_.disarm(*this);
      return;
    }
    const auto when = deadlines_.front().first;
    if (!armed() || when < this->when()) loop_.arm(*this, when);
  }

  void transmit(xdr::OutMessage&& m) {
    if (options_.transport == TransportKind::kUdp) {
      if (dgram_ == nullptr) open_datagram();
      if (dgram_ != nullptr) dgram_->send_to(m, options_.address);
      return;
    }
    if (stream_ == nullptr) open_stream();
    if (stream_ != nullptr) stream_->send(std::move(m));
  }

  void open_stream() {
    transport::IoError err;
    stream_ = options_.transport == TransportKind::kShm
                  ? loop_.connect_shm(options_.address, *this, options_.max_shm_ring, err)
                  : loop_.connect(options_.address, *this, err);
    if (stream_ == nullptr) {
      connection_lost(RpcError::io(Errc::kCannotSend, err.code));
      return;
    }
    self_ = shared_from_this();
  }

  void open_datagram() {
    transport::IoError err;
    const int fd = transport::open_datagram(options_.address, err);
    if (fd < 0) {
      fail_all(RpcError::io(Errc::kCannotSend, err.code));
      return;
    }
    dgram_ = loop_.add_datagram(fd, *this);
  }

  void on_reply(std::span<const uint8_t> bytes) {
    xdr::XdrReader r(bytes);
    rpc::ReplyHeader h;
    const bool ok = rpc::decode_reply_header(r, h);
    Pending* p = find(h.xid);
    if (p == nullptr) return;  // late (timed out) or not ours: RFC 5531 says match by xid only
    if (!ok) {
      complete(*p, RpcError::of(Errc::kCannotDecode), nullptr);
      return;
    }
    RpcError e;
    if (h.stat == rpc::reply_stat::MSG_DENIED) {
      if (h.rstat == rpc::reject_stat::RPC_MISMATCH) {
        e.code = Errc::kRpcMismatch;
        e.mismatch = h.mismatch;
      } else {
        e.code = Errc::kAuthError;
        e.auth = h.why;
      }
    } else {
      switch (h.astat) {
        case rpc::accept_stat::SUCCESS:
          break;
        case rpc::accept_stat::PROG_UNAVAIL:
          e.code = Errc::kProgUnavail;
          break;
        case rpc::accept_stat::PROG_MISMATCH:
          e.code = Errc::kProgMismatch;
          e.mismatch = h.mismatch;
          break;
        case rpc::accept_stat::PROC_UNAVAIL:
          e.code = Errc::kProcUnavail;
          break;
        case rpc::accept_stat::GARBAGE_ARGS:
          e.code = Errc::kGarbageArgs;
          break;
        case rpc::accept_stat::SYSTEM_ERR:
          e.code = Errc::kSystemErr;
          break;
      }
    }
    complete(*p, e, e.ok() ? &r : nullptr);
  }

  void complete(Pending& p, const RpcError& e, xdr::XdrReader* r) {
    Channel::ReplyFn fn = p.fn;
    void* ctx = p.ctx;
    p.used = false;
    p.fn = nullptr;
    --inflight_;
    fn(ctx, e, r);
  }

  void fail_later(Channel::ReplyFn fn, void* ctx, const RpcError& e) {
    // Never inside call_raw: callers (co_await above all) must not be resumed re-entrantly.
    loop_.post([fn, ctx, e] { fn(ctx, e, nullptr); });
  }

  void fail_all(const RpcError& e) {
    for (Pending& p : slots_) {
      if (p.used) complete(p, e, nullptr);
    }
  }

  // The stream broke: idempotent calls go again on a new connection (once), the rest fail.
  void connection_lost(const RpcError& e) {
    std::vector<uint32_t> again;
    for (Pending& p : slots_) {
      if (!p.used) continue;
      if (p.idempotent && !p.retried && !p.resend.empty() && e.code == Errc::kReset) {
        p.retried = true;
        again.push_back(p.xid);
      } else {
        complete(p, e, nullptr);
      }
    }
    for (uint32_t xid : again) {
      Pending* p = find(xid);
      if (p != nullptr) transmit(message_of(p->resend));
    }
  }

  EventLoop& loop_;
  ChannelOptions options_;
  xdr::EncodeOptions stream_opts_;
  xdr::RecordReader reader_;
  std::vector<Pending> slots_;  // indexed by xid & (size - 1)
  std::vector<Deadline> deadlines_;
  uint32_t next_xid_ = 0;
  uint32_t inflight_ = 0;
  uint64_t calls_sent_ = 0;
  Stream* stream_ = nullptr;
  transport::Datagram* dgram_ = nullptr;
  int connect_error_ = 0;
  bool closed_ = false;
  std::shared_ptr<ChannelCore> self_;  // while a stream is open
};

}  // namespace internal

// --- Channel ----------------------------------------------------------------------------------

std::shared_ptr<Channel> Channel::create(EventLoop& loop, ChannelOptions options) {
  auto core = std::make_shared<internal::ChannelCore>(loop, std::move(options));
  return std::shared_ptr<Channel>(new Channel(std::move(core)));
}

Channel::~Channel() { close(); }

void Channel::close() {
  if (!core_) return;
  std::shared_ptr<internal::ChannelCore> core = core_;
  if (core->loop().in_loop_thread()) {
    core->close();
  } else {
    core->loop().post([core] { core->close(); });
  }
}

EventLoop& Channel::loop() const noexcept { return core_->loop(); }
const ChannelOptions& Channel::options() const noexcept { return core_->options(); }
uint64_t Channel::calls_sent() const noexcept { return core_->calls_sent(); }
uint32_t Channel::in_flight() const noexcept { return core_->in_flight(); }

void Channel::call_raw(uint32_t proc, EncodeFn enc, const void* enc_ctx, ReplyFn fn, void* fn_ctx,
                       const CallOptions& options) {
  if (core_->loop().in_loop_thread()) {
    core_->start_call(proc, enc, enc_ctx, fn, fn_ctx, options);
    return;
  }
  std::vector<uint8_t> bytes;
  if (!core_->encode_elsewhere(proc, enc, enc_ctx, bytes)) {
    const RpcError e = RpcError::of(Errc::kCannotEncode);
    core_->loop().post([fn, fn_ctx, e] { fn(fn_ctx, e, nullptr); });
    return;
  }
  std::shared_ptr<internal::ChannelCore> core = core_;
  core_->loop().post([core, proc, b = std::move(bytes), fn, fn_ctx, options]() mutable {
    core->start_encoded(proc, std::move(b), fn, fn_ctx, options);
  });
}

void Channel::run_loop_until(const std::function<bool()>& done) {
  while (!done()) core_->loop().run_once(std::chrono::milliseconds(100));
}

// --- binding ----------------------------------------------------------------------------------

// A loopback address, or one of this host's interfaces': a server there shares our memory.
static bool is_this_host(const SockAddr& a) {
  if (a.is_loopback()) return true;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool mine = false;
  for (ifaddrs* i = list; i != nullptr && !mine; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != a.family()) continue;
    if (a.family() == AF_INET) {
      mine = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr ==
             reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr.s_addr;
    } else if (a.family() == AF_INET6) {
      mine = std::memcmp(&reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr,
                         &reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr,
                         sizeof(in6_addr)) == 0;
    }
  }
  ::freeifaddrs(list);
  return mine;
}

Result<std::shared_ptr<Channel>> connect(const std::string& host, uint32_t program,
                                         uint32_t version, std::string_view nettype,
                                         ChannelOptions base, EventLoop* loop) {
  using R = Result<std::shared_ptr<Channel>>;
  if (loop == nullptr) loop = &ClientRuntime::shared().loop();
  base.program = program;
  base.version = version;
  if (nettype == "unix" || nettype == "local" || nettype == "shm") {
    base.transport = nettype == "shm" ? TransportKind::kShm : TransportKind::kUnix;
    if (!SockAddr::unix_path(host, base.address)) return R(RpcError::of(Errc::kUnknownHost));
    return R(Channel::create(*loop, std::move(base)));
  }
  const bool udp = nettype == "udp" || nettype == "udp6";
  const bool v6 = nettype == "tcp6" || nettype == "udp6";
  if (!udp && nettype != "tcp" && nettype != "tcp6") return R(RpcError::of(Errc::kUnknownHost));
  SockAddr registry;
  if (!SockAddr::resolve(host, 111, v6, registry)) return R(RpcError::of(Errc::kUnknownHost));
  base.transport = udp ? TransportKind::kUdp : TransportKind::kTcp;
  if (!udp && base.shared_memory && is_this_host(registry)) {
    Result<SockAddr> shm = rpcb_find_shm(registry, program, version, loop, std::chrono::seconds(2));
    if (shm.ok()) {
      base.transport = TransportKind::kShm;
      base.address = shm.value();
      return R(Channel::create(*loop, std::move(base)));
    }
  }
  Result<SockAddr> addr =
      rpcb_getaddr(registry, base.transport, program, version, loop, std::chrono::seconds(5));
  if (!addr.ok()) return R(addr.error());
  base.address = addr.value();
  return R(Channel::create(*loop, std::move(base)));
}

}  // namespace ringrpc
