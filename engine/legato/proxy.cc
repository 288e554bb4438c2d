#include "engine/legato/proxy.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>

#include "codec/byteswap.h"
#include "codec/record_marking.h"
#include "codec/xdr_writer.h"
#include "engine/legato/id_map.h"
#include "engine/legato/oncrpc.h"
#include "engine/legato/out_batch.h"
#include "engine/registration.h"
#include "engine/registry/uaddr.h"

namespace ringrpc::legato {
namespace {

using transport::Clock;
using transport::TimePoint;

constexpr uint32_t kCall = 0;
constexpr uint32_t kReply = 1;
constexpr uint32_t kProgUnavail = 1;
constexpr uint32_t kProgMismatch = 2;
constexpr uint32_t kSystemErr = 5;

using xdr::load_be32;
using xdr::store_be32;

// An accepted reply with no results (RFC 5531 9): xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier,
// the status, and for PROG_MISMATCH the versions served.
struct ErrorReply {
  uint8_t bytes[32];
  size_t size = 0;
  ErrorReply(uint32_t xid, uint32_t astat, uint32_t low = 0, uint32_t high = 0) {
    const uint32_t words[] = {xid, kReply, 0, 0, 0, astat, low, high};
    const size_t n = astat == kProgMismatch ? 8 : 6;
    for (size_t i = 0; i < n; ++i) store_be32(bytes + 4 * i, words[i]);
    size = 4 * n;
  }
  // MSG_DENIED RPC_MISMATCH, versions 2 to 2.
  static ErrorReply rpc_mismatch(uint32_t xid) {
    ErrorReply r(xid, 0);
    const uint32_t words[] = {xid, kReply, 1, 0, 2, 2};
    for (size_t i = 0; i < 6; ++i) store_be32(r.bytes + 4 * i, words[i]);
    r.size = 24;
    return r;
  }
  std::span<const uint8_t> span() const { return {bytes, size}; }
};

std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Hands every whole record in `data` (which lies in `owner`) to `fn` while the stream is open;
// false (the stream closed) when the record marking is broken, which nothing can resynchronise.
// A large record that spans receive buffers comes as pieces of them, forwarded without a copy,
// while the loop can spare the buffers (can_pin).
template <class F>
bool read_records(xdr::RecordReader& reader, transport::EventLoop& loop, transport::Stream& s,
                  std::span<const uint8_t> data, const Buffer& owner, F&& fn) {
  const bool pin = can_pin(loop);
  while (!s.closing()) {
    xdr::Record r;
    auto st = reader.next(data, r, pin ? &owner : nullptr);
    if (st == xdr::RecordReader::Status::kNeedMore) return true;
    if (st == xdr::RecordReader::Status::kError) {
      s.close();
      return false;
    }
    fn(r.pieces.empty() ? Payload(r.data, &owner) : Payload(r.pieces));
  }
  return true;
}

// True when something accepts connections on the Unix socket at `path`.
bool socket_answers(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) return false;
  std::memcpy(sun.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
  ::close(fd);
  return ok;
}

// The RPC message a request or response carries (oncrpc.h): found by the reader already on the
// data path (in place, or in pieces when large), else parsed from the body.
bool rpc_message(const DataMessage& m, Payload& msg) {
  if (m.payload) {
    msg = Payload(*m.payload, m.owner);
    return true;
  }
  if (!m.pieces.empty()) {
    msg = Payload(m.pieces);  // the reader takes pieces only in the shape unwrap accepts
    return true;
  }
  std::span<const uint8_t> flat;
  if (!unwrap_rpc_message(m.body, flat)) return false;
  msg = Payload(flat);
  return true;
}

// For what a peer can make happen at will: the first ten, then at each power of two, so that a
// flood of bad messages cannot flood the log.
bool worth_logging(uint64_t nth) { return nth <= 10 || (nth & (nth - 1)) == 0; }

// `now` is the loop's iteration time, as is every call's start: a clock read per call would cost
// more than the rest of the proxy's bookkeeping for it (vDSO clock_gettime, ~10% of its CPU).
uint64_t micros_since(TimePoint now, TimePoint t) {
  auto d = now - t;
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

}  // namespace

// --- latency ---------------------------------------------------------------------------------

void LatencyHistogram::record(uint64_t us) noexcept {
  ++count;
  total_us += us;
  if (us > max_us) max_us = us;
  // 8 buckets per doubling above 1 us: the position of the top bit, then the 3 bits below it.
  int b = 0;
  if (us > 1) {
    const int top = 63 - __builtin_clzll(us);
    const int sub = top >= 3 ? static_cast<int>((us >> (top - 3)) & 7)
                             : static_cast<int>((us << (3 - top)) & 7);
    b = top * 8 + sub;
    if (b >= kBuckets) b = kBuckets - 1;
  }
  ++counts[b];
}

uint64_t LatencyHistogram::percentile(double q) const noexcept {
  if (count == 0) return 0;
  const auto want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count)));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= want && counts[b] != 0) {
      // The bucket's upper edge: 2^top * (1 + (sub + 1) / 8).
      const int top = b / 8, sub = b % 8;
      const auto upper = static_cast<uint64_t>(std::ldexp(1.0 + (sub + 1) / 8.0, top));
      return upper < max_us ? upper : max_us;
    }
  }
  return max_us;
}

// --- the pieces ------------------------------------------------------------------------------

// Registry calls block (a registry that is slow or gone costs its timeout), so they run here,
// one at a time and in order, never on the loop.
class Proxy::Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();  // runs what was queued first: unregistrations at stop must happen
  }
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> g(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> g(mu_);
    for (;;) {
      cv_.wait(g, [&] { return done_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      g.unlock();
      job();
      g.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool done_ = false;
  std::thread thread_;
};

class Proxy::Tick final : public transport::Timer {
 public:
  explicit Tick(Proxy& p) : p_(p) {}
  ~Tick() override = default;
  void on_timer() override { p_.tick(); }

 private:
  Proxy& p_;
};

// A client extern: local clients call it here (TCP and UDP on one port, and shared memory with
// shm_dir); it runs on the bound system.
struct Proxy::LocalService final : transport::AcceptHandler, transport::DatagramHandler {
  LocalService(Proxy& p, const Extern& e) : proxy(p), ext(e), shm_accept(*this) {
    protocol_id = oncrpc_protocol_id(e.program, e.version);
  }
  void on_accept(int fd, const transport::SockAddr& peer) override;
  // A new local connection, its stream made by `open(conn)` (nullptr: none, and no connection).
  template <class Open>
  void adopt(Open open);
  // The shared-memory socket's connections: the offer is made and sent at once (the client's
  // loop waits for it), then the connection is a LocalConn like a TCP one.
  struct ShmAccept final : transport::AcceptHandler {
    explicit ShmAccept(LocalService& s) : svc(s) {}
    void on_accept(int fd, const transport::SockAddr& peer) override;
    LocalService& svc;
  };
  void on_datagram(transport::Datagram&, std::span<const uint8_t> data,
                   const transport::SockAddr& from, bool truncated, const Buffer&) override {
    if (truncated) {
      ++stats.errors;  // a call longer than a receive buffer: no server could take it either
      return;
    }
    proxy.local_call(*this, 0, &from, data);
  }

  Proxy& proxy;
  const Extern& ext;
  std::string protocol_id;
  transport::Listener* listener = nullptr;
  transport::Datagram* udp = nullptr;
  transport::SockAddr bound;
  ShmAccept shm_accept;
  transport::Listener* shm_listener = nullptr;
  std::string shm_path;        // empty: no shared-memory socket
  std::string system;          // the binding: empty when unbound
  SystemEntry* sys = nullptr;  // systems_[system] when there is one (kept by apply())
  Want* want = nullptr;        // sys's want for this extern (kept by apply(), which alone
                               // adds and removes wants)
  std::string remote_service;
  bool registered = false;
  CallStats stats;
};

struct Proxy::LocalConn final : transport::StreamHandler {
  LocalConn(Proxy& p, LocalService& s, size_t max_record)
      : proxy(p), svc(s), reader(xdr::RecordOptions{max_record}), out(p.loop_) {}
  void on_data(transport::Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    if (!read_records(reader, proxy.loop_, s, data, owner,
                      [&](Payload r) { proxy.local_call(svc, id, nullptr, r); })) {
      ++svc.stats.errors;
      proxy.log(svc.ext.alias + ": a local client sent a broken record stream (" +
                reader.error().to_string() + "); its connection is closed");
    }
    if (!s.closing() && s.congested()) s.pause_reading();
    proxy.hold_if_link_congested(*this);
  }
  // A client that sends calls and does not read the replies stops being read once its replies
  // pile up past the stream's high-water mark, so it cannot make the proxy hold without bound.
  void on_drained(transport::Stream& s) override { s.resume_reading(); }
  void on_closed(transport::Stream&, int) override {
    proxy.remove_conn(id);
    delete this;
  }

  Proxy& proxy;
  LocalService& svc;
  uint64_t id = 0;  // Proxy::add_conn's; 0 until then (and for UDP calls)
  transport::Stream* stream = nullptr;
  xdr::RecordReader reader;
  OutBatch out;  // replies
};

template <class Open>
void Proxy::LocalService::adopt(Open open) {
  auto* c = new LocalConn(proxy, *this, proxy.options_.max_record);
  c->stream = open(*c);
  if (c->stream == nullptr) {
    delete c;
    return;
  }
  c->out.attach(c->stream);
  c->id = proxy.add_conn(c);
}

void Proxy::LocalService::on_accept(int fd, const transport::SockAddr& peer) {
  if (proxy.stopped_) {
    ::close(fd);
    return;
  }
  transport::prepare_accepted(fd);
  adopt([&](LocalConn& c) { return proxy.loop_.add_stream(fd, c, peer); });
}

void Proxy::LocalService::ShmAccept::on_accept(int fd, const transport::SockAddr&) {
  Proxy& p = svc.proxy;
  if (p.stopped_) {
    ::close(fd);
    return;
  }
  transport::prepare_accepted(fd);
  transport::ShmEndpoint e;
  std::string why;
  if (!transport::offer_shm(fd, p.options_.shm_ring_bytes, e, &why)) {
    ++svc.stats.errors;
    p.log(svc.ext.alias + ": a shared-memory connection was not set up (" + why + ")");
    ::close(fd);
    return;
  }
  svc.adopt([&](LocalConn& c) { return p.loop_.add_shm_stream(std::move(e), c); });
}

// A call from a peer system, in flight to a real server under our xid.
struct PendingRemote {
  uint64_t gen = 0;         // the system's (SystemEntry::gen): replies go to that one or nowhere
  uint32_t id = 0;          // the peer's message id
  uint32_t service_id = 0;  // the peer's service id
  uint32_t msg_id = 0;
  uint32_t xid = 0;  // the peer client's
  TimePoint start;
};

// A server extern: one connection to the real server.
struct Proxy::RemoteServer final : transport::StreamHandler, transport::Timer {
  RemoteServer(Proxy& p, const Extern& e)
      : proxy(p), ext(e), reader(xdr::RecordOptions{p.options_.max_record}), out(p.loop_) {
    // Our xids start anywhere, like a client's, so that a restart does not replay old ones.
    next_xid = static_cast<uint32_t>(Clock::now().time_since_epoch().count()) ^ 0x5bd1e995u;
  }
  ~RemoteServer() override = default;
  bool up() const { return state == State::kUp; }

  void on_connected(transport::Stream&, int err) override {
    if (err != 0) {
      last_error = "connect to " + where() + ": " + std::strerror(err);
      // A shared-memory endpoint the registry named and that does not work (a server of an
      // older build, a segment we refuse): TCP next time, rather than the same failure forever.
      if (shm && !ext.server_address) shm_failed = true;
      return;  // on_closed follows
    }
    state = State::kUp;
    out.attach(stream);
    last_error.clear();
    shm_failed = false;
    proxy.log(ext.alias + ": connected to the server at " + where());
  }
  std::string where() const {
    return shm ? address.to_string() + " (shared memory)" : address.to_string();
  }
  const char* transport_name() const { return shm ? "shm" : address.is_unix() ? "unix" : "tcp"; }
  void on_data(transport::Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    if (!read_records(reader, proxy.loop_, s, data, owner,
                      [&](Payload r) { proxy.remote_reply(*this, r); }))
      last_error = "the server sent a broken record stream (" + reader.error().to_string() + ")";
  }
  void on_closed(transport::Stream&, int err) override {
    out.attach(nullptr);
    stream = nullptr;
    if (last_error.empty() || state == State::kUp) {
      last_error = err != 0 ? std::string("connection to the server lost: ") + std::strerror(err)
                            : "the server closed the connection";
    }
    proxy.remote_down(*this, last_error);
  }
  void on_timer() override { proxy.connect_remote(*this); }

  enum class State : uint8_t { kIdle, kResolving, kConnecting, kUp };
  Proxy& proxy;
  const Extern& ext;
  State state = State::kIdle;
  transport::Stream* stream = nullptr;
  transport::SockAddr address;
  bool shm = false;         // address is a shared-memory endpoint
  bool shm_failed = false;  // the last one the registry named did not work: TCP next
  xdr::RecordReader reader;
  OutBatch out;  // calls to the server
  IdMap<PendingRemote> pending;
  uint32_t next_xid = 1;
  std::string last_error;
  uint64_t connects = 0;
  CallStats stats;
};

// A call from a local client, in flight on a link. Plain data, so that the ring of calls in
// flight moves and clears it without a destructor: a UDP caller's address is kept beside it
// (SystemEntry::udp_from), and TCP calls, nearly all of them, do not pay for one.
struct PendingLocal {
  uint64_t conn = 0;    // the client's connection; 0 for a datagram (SystemEntry::udp_from)
  void* svc = nullptr;  // LocalService*
  uint32_t xid = 0;
  uint32_t service_id = 0;
  TimePoint start;
};
static_assert(std::is_trivially_copyable_v<PendingLocal>);

struct Proxy::SystemEntry final : ServicesHandler {
  SystemEntry(Proxy& p, const System& cfg)
      : proxy(p),
        name(cfg.system_name),
        link_name(cfg.link_name),
        parameters(cfg.parameters),
        gen(p.next_gen_++) {}

  void on_want_connected(Want& w) override {
    proxy.log("binding " + w.local_alias + ": connected to " + w.remote_service + " on " + name +
              " (service id " + std::to_string(w.service_id) + ")");
  }
  void on_want_disconnected(Want& w) override {
    LocalService* l = nullptr;
    for (auto& s : proxy.locals_) {
      if (s->ext.alias == w.local_alias) l = s.get();
    }
    proxy.log("binding " + w.local_alias + ": disconnected from " + name);
    if (l != nullptr) proxy.fail_pending(*this, l, kSystemErr, "the service was disconnected");
  }
  int32_t open_offer(Offer& o) override {
    for (auto& r : proxy.remotes_) {
      if (r->ext.alias == o.alias) {
        o.user = r.get();  // remotes_ lives as long as the proxy
        if (r->up()) {
          proxy.log(name + " connected to " + o.alias);
          return kLeOk;
        }
        proxy.log(name + " asked for " + o.alias + ", whose server is not reachable (" +
                  (r->last_error.empty() ? "connecting" : r->last_error) + "): LE_UNAVAILABLE");
        return kLeUnavailable;
      }
    }
    return kLeUnavailable;
  }
  bool on_data(const DataMessage& m, Want* w, Offer* o, std::string*) override {
    if (m.header.type == MsgType::kServerResponse && w != nullptr) {
      proxy.deliver_response(*this, m, *w);
      return true;
    }
    if (m.header.type == MsgType::kClientRequest && o != nullptr) {
      return proxy.remote_call(*this, m, *o);
    }
    ++unmatched;
    if (m.header.type == MsgType::kClientRequest) {
      // Legato tears the link down here; one wrong service id need not cost every binding.
      Payload msg;
      uint8_t xid[4];
      if (rpc_message(m, msg) && msg.size() >= 4) {
        proxy.answer_peer(*this, m, load_be32(msg.front(xid, 4)), kProgUnavail);
      }
      if (worth_logging(unmatched)) {
        proxy.log(name + " sent a request for service id " + std::to_string(m.header.service_id) +
                  ", which is not connected: answered PROG_UNAVAIL (" + std::to_string(unmatched) +
                  " unmatched so far)");
      }
    } else if (worth_logging(unmatched)) {
      proxy.log(name + " sent a " + to_string(m.header.type) + " for service id " +
                std::to_string(m.header.service_id) + " (id " + std::to_string(m.header.id) +
                ") that matches nothing here: dropped (" + std::to_string(unmatched) +
                " unmatched so far)");
    }
    return true;
  }
  void on_link_up() override { proxy.log("link to " + name + " (" + link_name + ") is UP"); }
  void on_link_down(const std::string& why) override {
    proxy.log("link to " + name + " (" + link_name + ") is DOWN: " + why);
    proxy.fail_pending(*this, nullptr, kSystemErr, "the link went down");
    proxy.release_held(*this);
  }
  void on_link_drained() override { proxy.release_held(*this); }
  // The address a UDP call in `pending` came from (nullptr for TCP calls), and forgetting it
  // once the call is answered.
  const transport::SockAddr* from_of(uint32_t id, const PendingLocal& p) noexcept {
    return p.conn == 0 ? udp_from.find(id) : nullptr;
  }
  void forget_from(uint32_t id, const PendingLocal& p) noexcept {
    if (p.conn == 0) udp_from.erase(id);
  }

  Proxy& proxy;
  std::string name;
  std::string link_name;
  std::string parameters;
  uint64_t gen;
  std::string error;  // why there is no link (configuration)
  std::unique_ptr<Services> services;
  bool started = false;
  IdMap<PendingLocal> pending;          // by link message id
  IdMap<transport::SockAddr> udp_from;  // the sender of each UDP call in pending, by the same id
  std::vector<uint64_t> held;           // local connections not read while the link is congested
  uint64_t holds = 0;
  uint64_t unmatched = 0;
  uint64_t malformed = 0;
};

struct Proxy::ControlConn final : transport::StreamHandler {
  explicit ControlConn(Proxy& p) : proxy(p) {}
  void on_data(transport::Stream& s, std::span<const uint8_t> data, const Buffer&) override {
    if (answered) return;
    line.append(reinterpret_cast<const char*>(data.data()), data.size());
    size_t nl = line.find('\n');
    if (nl == std::string::npos) {
      if (line.size() > 4096) s.close();
      return;
    }
    std::string cmd = line.substr(0, nl);
    if (!cmd.empty() && cmd.back() == '\r') cmd.pop_back();
    std::string reply;
    if (cmd == "status") {
      reply = proxy.status_json();
    } else if (cmd == "reload") {
      std::string why;
      if (!proxy.reload(&why)) {
        reply = "{\"error\": " + json_str(why) + "}";
      } else {
        reply = proxy.status_json();
      }
    } else {
      reply = "{\"error\": " + json_str("unknown command \"" + cmd + "\" (status, reload)") + "}";
    }
    reply += '\n';
    answered = true;
    send_record_raw(s, reply);
    s.close_after_flush();
  }
  void send_record_raw(transport::Stream& s, const std::string& text) {
    xdr::OutMessage out;
    xdr::EncodeOptions raw;
    raw.record_mark = false;
    {
      xdr::XdrWriter w(proxy.loop_.send_pool(), out, raw);
      if (!w.put_bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()) || !w.finish())
        return;
    }
    s.send(std::move(out));
  }
  void on_closed(transport::Stream&, int) override { delete this; }

  Proxy& proxy;
  std::string line;
  bool answered = false;
};

struct Proxy::ControlListener final : transport::AcceptHandler {
  explicit ControlListener(Proxy& p) : proxy(p) {}
  void on_accept(int fd, const transport::SockAddr& peer) override {
    if (proxy.stopped_) {
      ::close(fd);
      return;
    }
    auto* c = new ControlConn(proxy);
    if (proxy.loop_.add_stream(fd, *c, peer) == nullptr) delete c;
  }
  Proxy& proxy;
  transport::Listener* listener = nullptr;
  std::string path;
};

// --- Proxy -----------------------------------------------------------------------------------

Proxy::Proxy(transport::EventLoop& loop, ProxyOptions options)
    : loop_(loop), options_(std::move(options)), alive_(std::make_shared<bool>(true)) {}

Proxy::~Proxy() {
  stop();
  worker_.reset();
}

void Proxy::log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "ringrpc-proxy: %s\n", line.c_str());
  }
}

bool Proxy::start(std::string* error) {
  worker_ = std::make_unique<Worker>();
  tick_ = std::make_unique<Tick>(*this);
  for (const Extern& e : options_.declarations.externs) {
    if (e.kind == ExternKind::kClient) {
      auto svc = std::make_unique<LocalService>(*this, e);
      svc->bound = options_.local_address;
      svc->bound.set_port(e.local_port);
      transport::IoError err;
      int fd = transport::listen_stream(svc->bound, {}, err);
      if (fd < 0) {
        *error = e.alias + ": cannot listen on " + svc->bound.to_string() + ": " + err.to_string();
        return false;
      }
      svc->listener = loop_.add_listener(fd, *svc);
      transport::SockAddr ua = svc->bound;
      int ufd = transport::bind_datagram(ua, {}, err);
      if (ufd < 0) {
        *error = e.alias + ": cannot bind UDP " + ua.to_string() + ": " + err.to_string();
        loop_.close_listener(svc->listener);
        return false;
      }
      svc->udp = loop_.add_datagram(ufd, *svc);
      if (!options_.shm_dir.empty() && !listen_shm(*svc, error)) {
        loop_.close_listener(svc->listener);
        loop_.close_datagram(svc->udp);
        return false;
      }
      locals_.push_back(std::move(svc));
    } else {
      remotes_.push_back(std::make_unique<RemoteServer>(*this, e));
    }
  }
  if (!options_.control_path.empty()) {
    struct stat st {};
    if (::lstat(options_.control_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      if (socket_answers(options_.control_path)) {
        *error = "another ringrpc-proxy answers on " + options_.control_path +
                 " (give this one its own with --control)";
        return false;
      }
      ::unlink(options_.control_path.c_str());  // left by a proxy that did not stop cleanly
    }
    transport::SockAddr a;
    if (!transport::SockAddr::unix_path(options_.control_path, a)) {
      *error = "control socket path too long: " + options_.control_path;
      return false;
    }
    transport::IoError err;
    int fd = transport::listen_stream(a, {}, err);
    if (fd < 0) {
      *error = "cannot open the control socket " + options_.control_path + ": " + err.to_string() +
               " (give another with --control)";
      return false;
    }
    control_ = std::make_unique<ControlListener>(*this);
    control_->path = options_.control_path;
    control_->listener = loop_.add_listener(fd, *control_);
  }
  std::string why;
  auto cfg = load_config(options_.config_path, &why);
  if (!cfg) {
    *error = why;
    return false;
  }
  stamp_ = config_stamp();
  started_ = true;
  apply(*cfg);
  for (auto& r : remotes_) connect_remote(*r);
  arm_tick();
  return true;
}

bool Proxy::listen_shm(LocalService& svc, std::string* error) {
  if (svc.ext.alias.find('/') != std::string::npos) {
    *error = svc.ext.alias + ": an alias with '/' cannot name a socket in --shm-dir";
    return false;
  }
  const std::string path = options_.shm_dir + "/" + svc.ext.alias + ".shm";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = svc.ext.alias + ": " + path + " exists and is not a socket";
      return false;
    }
    if (socket_answers(path)) {
      *error = svc.ext.alias + ": " + path + " is in use (another proxy or server answers there)";
      return false;
    }
    ::unlink(path.c_str());  // left by a proxy that did not stop cleanly
  }
  transport::SockAddr a;
  if (!transport::SockAddr::unix_path(path, a)) {
    *error = svc.ext.alias + ": shared-memory socket path too long: " + path;
    return false;
  }
  transport::IoError err;
  const int fd = transport::listen_stream(a, {}, err);
  if (fd < 0) {
    *error = svc.ext.alias + ": cannot listen on " + path + ": " + err.to_string();
    return false;
  }
  svc.shm_listener = loop_.add_listener(fd, svc.shm_accept);
  svc.shm_path = path;
  return true;
}

void Proxy::stop() {
  if (stopped_ || !started_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  *alive_ = false;
  loop_.disarm(*tick_);
  for (auto& [name, s] : systems_) {
    fail_pending(*s, nullptr, kSystemErr, "the proxy is stopping");
    if (s->services) s->services->stop();
  }
  systems_.clear();
  by_gen_.clear();
  for (auto& svc : locals_) {
    svc->sys = nullptr;
    svc->want = nullptr;
  }
  for (auto& r : remotes_) {
    loop_.disarm(*r);
    r->pending.clear();
    if (r->stream != nullptr) r->stream->close();
  }
  for (auto& svc : locals_) {
    if (svc->listener != nullptr) loop_.close_listener(svc->listener);
    svc->listener = nullptr;
    if (svc->shm_listener != nullptr) {
      loop_.close_listener(svc->shm_listener);
      ::unlink(svc->shm_path.c_str());
    }
    svc->shm_listener = nullptr;
    if (svc->udp != nullptr) loop_.close_datagram(svc->udp);
    svc->udp = nullptr;
    if (svc->registered) {
      const uint32_t prog = svc->ext.local_program, vers = svc->ext.local_version;
      std::string sock = options_.registry_socket;
      worker_->post([prog, vers, sock] {
        auto reg = HostRegistry::find(sock, std::chrono::milliseconds(1000));
        if (reg.ok()) (void)reg.value()->unset(prog, vers);
      });
      svc->registered = false;
    }
  }
  for (ConnSlot& slot : conns_) {
    if (slot.conn != nullptr && slot.conn->stream != nullptr)
      slot.conn->stream->close_after_flush();
  }
  if (control_ && control_->listener != nullptr) {
    loop_.close_listener(control_->listener);
    control_->listener = nullptr;
    ::unlink(control_->path.c_str());
  }
}

bool Proxy::reload(std::string* error) {
  if (stopped_) return false;
  std::string why;
  auto cfg = load_config(options_.config_path, &why);
  if (!cfg) {
    config_error_ = why;
    log("configuration not applied, the running one is kept: " + why);
    if (error != nullptr) *error = why;
    return false;
  }
  config_error_.clear();
  if (!(*cfg == config_)) log("configuration changed: applying it");
  apply(*cfg);
  return true;
}

Proxy::FileStamp Proxy::config_stamp() const {
  struct stat st {};
  FileStamp f;  // a missing file has the default stamp
  if (::stat(options_.config_path.c_str(), &st) == 0) {
    f = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
         static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size)};
  }
  return f;
}

void Proxy::arm_tick() {
  // The file is watched every watch_interval; timeouts and retries want a tick once a second.
  loop_.arm_after(*tick_, std::min<std::chrono::milliseconds>(options_.watch_interval,
                                                              std::chrono::milliseconds(1000)));
}

void Proxy::tick() {
  if (stopped_) return;
  const FileStamp now_stamp = config_stamp();
  if (!(now_stamp == stamp_)) {
    stamp_ = now_stamp;
    reload(nullptr);
  }
  // Call timeouts: a sweep of the calls in flight, once per tick (at most 65536 per system; a
  // queue of deadlines would cost an allocation every few calls instead).
  const TimePoint now = Clock::now();
  for (auto& [name, s] : systems_) {
    SystemEntry& sys = *s;  // clang 14 cannot capture a structured binding (C++20 allows it)
    size_t expired = sys.pending.erase_if([&](uint32_t id, PendingLocal& p) {
      if (now - p.start < options_.call_timeout) return false;
      auto* svc = static_cast<LocalService*>(p.svc);
      ++svc->stats.errors;
      reply_local(*svc, p.conn, sys.from_of(id, p), ErrorReply(p.xid, kSystemErr).span());
      sys.forget_from(id, p);
      return true;
    });
    if (expired != 0) {
      log(std::to_string(expired) + " call(s) to " + name +
          " had no answer within the call timeout: answered SYSTEM_ERR");
    }
    if (s->services && !s->started) {
      std::string why;
      s->started = s->services->start(&why);
      if (!s->started)
        s->error = why;
      else
        s->error.clear();
    }
  }
  for (auto& r : remotes_) {
    r->stats.errors += r->pending.erase_if(
        [&](uint32_t, PendingRemote& p) { return now - p.start > options_.call_timeout; });
  }
  arm_tick();
}

void Proxy::apply(const RuntimeConfig& cfg) {
  config_ = cfg;
  std::map<std::string, const System*> want_systems;
  for (const System& s : cfg.system_slots()) {
    if (!s.empty()) want_systems[s.system_name] = &s;
  }
  // Systems that went away or whose link changed: everything on them ends.
  for (auto it = systems_.begin(); it != systems_.end();) {
    auto d = want_systems.find(it->first);
    SystemEntry& s = *it->second;
    if (d != want_systems.end() && d->second->link_name == s.link_name &&
        d->second->parameters == s.parameters) {
      ++it;
      continue;
    }
    log(d == want_systems.end() ? "system " + s.name + " removed from the configuration"
                                : "system " + s.name + ": link changed, reconnecting");
    fail_pending(s, nullptr, kSystemErr, "the system's configuration changed");
    release_held(s);
    if (s.services) s.services->stop();
    by_gen_.erase(s.gen);
    for (auto& svc : locals_) {
      if (svc->sys == &s) {
        svc->sys = nullptr;
        svc->want = nullptr;
      }
    }
    it = systems_.erase(it);
  }
  // Bindings of client externs.
  for (auto& svc : locals_) {
    auto b = cfg.binding(svc->ext.alias);
    std::string sys = b ? b->system_name : std::string();
    std::string remote = b ? b->remote_service : std::string();
    if (sys != svc->system || remote != svc->remote_service) {
      auto old = systems_.find(svc->system);
      if (old != systems_.end() && old->second->services)
        old->second->services->remove_want(svc->ext.alias);
      if (sys.empty()) {
        log("binding " + svc->ext.alias + " removed");
      } else {
        log("binding " + svc->ext.alias + " -> " + remote + " on " + sys);
      }
      svc->system = sys;
      svc->remote_service = remote;
    }
    update_registration(*svc);
  }
  for (const Binding& b : cfg.binding_slots()) {
    if (!b.empty() && options_.declarations.find_extern(b.service_name) == nullptr) {
      log("binding " + b.service_name + " names no declared extern: ignored");
    }
  }
  // New systems.
  for (auto& [name, cfg_sys] : want_systems) {
    if (systems_.count(name) != 0) continue;
    auto s = std::make_unique<SystemEntry>(*this, *cfg_sys);
    const LinkDeclaration* decl = options_.declarations.find_link(cfg_sys->link_name);
    LinkOptions lo;
    std::string why;
    if (decl == nullptr) {
      s->error = "no link named \"" + cfg_sys->link_name + "\" is declared";
    } else if (!find_link_kind(decl->kind)->parse(cfg_sys->parameters, lo.address, &why)) {
      s->error = "link parameters \"" + cfg_sys->parameters + "\": " + why;
    } else {
      lo.peer_name = name;
      lo.role = decl->role;
      lo.timers = options_.timers;
      lo.limits.max_body = options_.max_record + 64;
      s->services = std::make_unique<Services>(loop_, lo, *s, options_.resend);
      for (auto& r : remotes_) {
        s->services->add_offer(r->ext.alias, oncrpc_protocol_id(r->ext.program, r->ext.version));
      }
    }
    if (!s->error.empty()) log("system " + name + ": " + s->error);
    SystemEntry& ref = *s;
    by_gen_[ref.gen] = &ref;
    systems_[name] = std::move(s);
    if (ref.services) {
      if (lo.role == LinkRole::kListen && lo.address.is_unix()) {
        struct stat st {};
        std::string path = lo.address.host_string();
        // A stale socket file is removed; a live one (another proxy's) is left, and the bind
        // fails with a message.
        if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && !socket_answers(path))
          ::unlink(path.c_str());
      }
      ref.started = ref.services->start(&why);
      if (!ref.started) {
        ref.error = why;
        log("system " + name + ": " + why + " (trying again)");
      } else {
        log("system " + name + ": link " + ref.link_name + " (" +
            (lo.role == LinkRole::kListen ? "listen" : "connect") + " " + ref.parameters + ")");
      }
    }
  }
  for (auto& [name, s] : systems_) sync_wants(*s);
  for (auto& svc : locals_) {
    auto it = svc->system.empty() ? systems_.end() : systems_.find(svc->system);
    svc->sys = it == systems_.end() ? nullptr : it->second.get();
    svc->want = svc->sys != nullptr && svc->sys->services ? svc->sys->services->want(svc->ext.alias)
                                                          : nullptr;
  }
}

void Proxy::sync_wants(SystemEntry& s) {
  if (!s.services) return;
  for (auto& svc : locals_) {
    Want* w = s.services->want(svc->ext.alias);
    const bool should = svc->system == s.name;
    if (w != nullptr && (!should || w->remote_service != svc->remote_service)) {
      s.services->remove_want(svc->ext.alias);
      w = nullptr;
    }
    if (should && w == nullptr)
      s.services->add_want(svc->ext.alias, svc->remote_service, svc->protocol_id);
  }
}

void Proxy::update_registration(LocalService& svc) {
  const bool want = options_.register_services && !svc.system.empty();
  if (want == svc.registered) return;
  svc.registered = want;
  const uint32_t prog = svc.ext.local_program, vers = svc.ext.local_version;
  const std::string uaddr = registry::to_uaddr(svc.bound);
  const std::string sock = options_.registry_socket;
  const std::string alias = svc.ext.alias;
  const std::string shm = svc.shm_path;
  auto alive = alive_;
  transport::EventLoop* loop = &loop_;
  const Proxy* self = this;
  worker_->post([=] {
    std::string line;
    auto reg = HostRegistry::find(sock, std::chrono::milliseconds(1000));
    if (!reg.ok()) {
      line = alias + ": no registry on this host (" + reg.error().to_string() +
             "): local clients must be given the port";
    } else if (want) {
      auto r = reg.value()->set(prog, vers, "tcp", uaddr);
      auto ru = reg.value()->set(prog, vers, "udp", uaddr);
      if (r.ok() && r.value() && ru.ok() && ru.value()) {
        line = alias + ": registered program " + std::to_string(prog) + " version " +
               std::to_string(vers) + " tcp and udp " + uaddr;
        if (!shm.empty()) {
          // Portmap (version 2) has no netids beyond tcp and udp: TCP is then what clients get.
          auto rs = reg.value()->set(prog, vers, registry::kShmNetid, shm);
          const std::string netid(registry::kShmNetid);
          line += rs.ok() && rs.value() ? " and " + netid + " " + shm
                                        : " (not " + netid + " " + shm + ": refused)";
        }
        line += " with the " + reg.value()->describe();
      } else {
        line = alias + ": the registry refused program " + std::to_string(prog) + " version " +
               std::to_string(vers) +
               (r.ok() ? " (already registered by another server?)"
                       : " (" + r.error().to_string() + ")");
      }
    } else {
      (void)reg.value()->unset(prog, vers);
      line = alias + ": unregistered program " + std::to_string(prog) + " version " +
             std::to_string(vers);
    }
    loop->post([alive, self, line] {
      if (*alive) self->log(line);
    });
  });
}

// --- the data path ---------------------------------------------------------------------------

uint64_t Proxy::add_conn(LocalConn* c) {
  uint32_t slot;
  if (!free_conns_.empty()) {
    slot = free_conns_.back();
    free_conns_.pop_back();
  } else {
    slot = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
  }
  conns_[slot].conn = c;
  return uint64_t{conns_[slot].gen} << 32 | slot;
}

void Proxy::remove_conn(uint64_t id) noexcept {
  const auto slot = static_cast<uint32_t>(id);
  if (slot >= conns_.size() || conns_[slot].gen != static_cast<uint32_t>(id >> 32)) return;
  conns_[slot].conn = nullptr;
  // Never 0, so no id is 0 (the UDP callers' "connection"); ids of the old generation miss.
  if (++conns_[slot].gen == 0) conns_[slot].gen = 1;
  free_conns_.push_back(slot);
}

void Proxy::reply_local(LocalService& svc, uint64_t conn, const transport::SockAddr* from,
                        const Payload& msg) {
  if (conn != 0) {
    if (LocalConn* c = find_conn(conn)) c->out.append_record({}, msg);
    return;
  }
  if (from == nullptr || svc.udp == nullptr) return;
  xdr::OutMessage out;
  xdr::EncodeOptions raw;
  raw.record_mark = false;
  {
    xdr::XdrWriter w(loop_.send_pool(), out, raw);
    bool ok = true;
    if (msg.pieces.empty()) {
      ok = w.put_bytes(msg.bytes.data(), msg.bytes.size());
    } else {
      for (const BufferPiece& p : msg.pieces)
        ok = ok && w.put_bytes(p.bytes.data(), p.bytes.size());
    }
    if (!ok || !w.finish()) return;
  }
  // A datagram the kernel refuses is lost, as any UDP reply may be; the client retransmits.
  (void)svc.udp->send_to(out, *from);
}

void Proxy::local_call(LocalService& svc, uint64_t conn, const transport::SockAddr* from,
                       Payload rec) {
  const size_t size = rec.size();
  uint8_t copy[24];
  const uint8_t* f = size >= 24 ? rec.front(copy, 24) : nullptr;  // the call header's start
  if (f == nullptr || load_be32(f + 4) != kCall) {
    // What libtirpc's server does with a record that is no call: nothing.
    ++svc.stats.errors;
    return;
  }
  const uint32_t xid = load_be32(f);
  auto reply = [&](const ErrorReply& r) {
    ++svc.stats.errors;
    reply_local(svc, conn, from, r.span());
  };
  if (load_be32(f + 8) != 2) return reply(ErrorReply::rpc_mismatch(xid));
  if (load_be32(f + 12) != svc.ext.local_program) return reply(ErrorReply(xid, kProgUnavail));
  if (load_be32(f + 16) != svc.ext.local_version) {
    return reply(ErrorReply(xid, kProgMismatch, svc.ext.local_version, svc.ext.local_version));
  }
  if (svc.sys == nullptr || !svc.sys->services) return reply(ErrorReply(xid, kProgUnavail));
  SystemEntry& s = *svc.sys;
  Want* w = svc.want;
  if (w == nullptr || !w->connected || s.services->link().state() != LinkState::kUp)
    return reply(ErrorReply(xid, kProgUnavail));
  if (s.pending.size() >= options_.max_pending) return reply(ErrorReply(xid, kSystemErr));
  uint8_t head[20];
  std::memcpy(head, f, sizeof head);
  store_be32(head + 12, svc.ext.program);
  store_be32(head + 16, svc.ext.version);
  const uint32_t proc = load_be32(f + 20);
  rec.drop_front(sizeof head);
  Link& link = s.services->link();
  const uint32_t id = link.next_id();
  if (!link.send_wrapped({id, w->service_id, MsgType::kClientRequest}, proc, head, rec)) {
    return reply(ErrorReply(xid, kSystemErr));
  }
  s.pending.put(id, {conn, &svc, xid, w->service_id, loop_.now()});
  if (from != nullptr) s.udp_from.put(id, *from);
  svc.stats.bytes_out += size;
  if (!rec.pieces.empty()) ++svc.stats.in_pieces;
}

void Proxy::hold_if_link_congested(LocalConn& c) {
  SystemEntry* s = c.svc.sys;
  if (s == nullptr || !s->services || !s->services->link().congested()) return;
  if (c.stream == nullptr || c.stream->closing() || c.stream->reading_paused()) return;
  c.stream->pause_reading();
  // Listed once: its own drained replies may have resumed it since the link last held it.
  if (std::find(s->held.begin(), s->held.end(), c.id) == s->held.end()) s->held.push_back(c.id);
  ++s->holds;
}

void Proxy::release_held(SystemEntry& s) {
  for (uint64_t id : s.held) {
    LocalConn* c = find_conn(id);
    if (c == nullptr || c->stream == nullptr) continue;
    transport::Stream& st = *c->stream;
    if (!st.closing() && !st.congested()) st.resume_reading();
  }
  s.held.clear();
}

void Proxy::deliver_response(SystemEntry& s, const DataMessage& m, Want& w) {
  PendingLocal* found = s.pending.find(m.header.id);
  if (found == nullptr || found->service_id != m.header.service_id) {
    ++s.unmatched;
    return;  // its call timed out, or was failed when the binding changed
  }
  const uint32_t id = m.header.id;
  const PendingLocal p = *found;
  s.pending.erase(id);
  const transport::SockAddr* from = s.from_of(id, p);  // forgotten once answered
  auto* svc = static_cast<LocalService*>(p.svc);
  Payload msg;
  uint8_t copy[12];
  const uint8_t* f = rpc_message(m, msg) && msg.size() >= 12 ? msg.front(copy, 12) : nullptr;
  if (f == nullptr || load_be32(f) != p.xid || load_be32(f + 4) != kReply) {
    ++s.malformed;
    ++svc->stats.errors;
    if (worth_logging(s.malformed)) {
      log(s.name + " answered a call on " + w.local_alias +
          " with something that is not its RPC reply: the client gets SYSTEM_ERR (" +
          std::to_string(s.malformed) + " malformed so far)");
    }
    reply_local(*svc, p.conn, from, ErrorReply(p.xid, kSystemErr).span());
    s.forget_from(id, p);
    return;
  }
  ++svc->stats.calls;
  svc->stats.bytes_in += msg.size();
  if (!msg.pieces.empty()) ++svc->stats.in_pieces;
  svc->stats.latency.record(micros_since(loop_.now(), p.start));
  reply_local(*svc, p.conn, from, msg);
  s.forget_from(id, p);
}

void Proxy::fail_pending(SystemEntry& s, LocalService* only, uint32_t astat,
                         const std::string& why) {
  const size_t n = s.pending.erase_if([&](uint32_t id, PendingLocal& p) {
    if (only != nullptr && p.svc != only) return false;
    auto* svc = static_cast<LocalService*>(p.svc);
    ++svc->stats.errors;
    reply_local(*svc, p.conn, s.from_of(id, p), ErrorReply(p.xid, astat).span());
    s.forget_from(id, p);
    return true;
  });
  if (n != 0) {
    log(std::to_string(n) + " call(s) in flight to " + s.name + " answered " +
        (astat == kSystemErr ? "SYSTEM_ERR" : "PROG_UNAVAIL") + ": " + why);
  }
}

void Proxy::answer_peer(SystemEntry& s, const DataMessage& m, uint32_t xid, uint32_t astat) {
  ErrorReply r(xid, astat);
  s.services->link().send_wrapped({m.header.id, m.header.service_id, MsgType::kServerResponse},
                                  m.msg_id, r.span(), {});
}

bool Proxy::remote_call(SystemEntry& s, const DataMessage& m, Offer& o) {
  auto* r = static_cast<RemoteServer*>(o.user);
  Payload msg;
  uint8_t copy[24];
  const bool found = rpc_message(m, msg);
  const size_t size = found ? msg.size() : 0;
  const uint8_t* f = found ? msg.front(copy, std::min<size_t>(size, sizeof copy)) : nullptr;
  if (size < 24 || load_be32(f + 4) != kCall) {
    // The framing held, so only this call is lost: the link stays up.
    ++s.malformed;
    if (r != nullptr) ++r->stats.errors;
    if (worth_logging(s.malformed)) {
      log(s.name + " sent a request on " + o.alias +
          " that is not an ONC RPC call (oncrpc.h): dropped (" + std::to_string(s.malformed) +
          " malformed so far)");
    }
    if (size >= 4) answer_peer(s, m, load_be32(f), kSystemErr);
    return true;
  }
  const uint32_t xid = load_be32(f);
  if (r == nullptr || !r->up() || r->pending.size() >= options_.max_pending) {
    if (r != nullptr) ++r->stats.errors;
    answer_peer(s, m, xid, kSystemErr);
    return true;
  }
  uint32_t ours = r->next_xid++;
  while (r->pending.contains(ours)) ours = r->next_xid++;
  uint8_t head[4];
  store_be32(head, ours);
  msg.drop_front(4);
  if (!r->out.append_record(head, msg)) {
    ++r->stats.errors;
    answer_peer(s, m, xid, kSystemErr);
    return true;
  }
  r->pending.insert_new(ours,
                        {s.gen, m.header.id, m.header.service_id, m.msg_id, xid, loop_.now()});
  r->stats.bytes_in += size;
  if (!msg.pieces.empty()) ++r->stats.in_pieces;
  return true;
}

void Proxy::remote_reply(RemoteServer& r, Payload rec) {
  const size_t size = rec.size();
  uint8_t copy[12];
  const uint8_t* f = size >= 12 ? rec.front(copy, 12) : nullptr;
  if (f == nullptr || load_be32(f + 4) != kReply) {
    ++r.stats.errors;
    return;
  }
  const uint32_t ours = load_be32(f);
  PendingRemote* found = r.pending.find(ours);
  if (found == nullptr) return;  // a reply to a call already given up
  const PendingRemote p = *found;
  r.pending.erase(ours);
  auto sit = by_gen_.find(p.gen);
  if (sit == by_gen_.end() || !sit->second->services) return;
  uint8_t head[4];
  store_be32(head, p.xid);
  rec.drop_front(4);
  if (sit->second->services->link().send_wrapped({p.id, p.service_id, MsgType::kServerResponse},
                                                 p.msg_id, head, rec)) {
    ++r.stats.calls;
    r.stats.bytes_out += size;
    if (!rec.pieces.empty()) ++r.stats.in_pieces;
    r.stats.latency.record(micros_since(loop_.now(), p.start));
  }
}

void Proxy::connect_remote(RemoteServer& r) {
  if (stopped_ || r.state != RemoteServer::State::kIdle) return;
  auto go = [this, &r](const transport::SockAddr& a, bool shm) {
    r.address = a;
    r.shm = shm;
    transport::IoError err;
    r.state = RemoteServer::State::kConnecting;
    ++r.connects;
    r.stream = shm ? loop_.connect_shm(a, r, options_.max_shm_ring, err) : loop_.connect(a, r, err);
    if (r.stream == nullptr) {
      r.state = RemoteServer::State::kIdle;
      r.last_error = err.to_string();
      if (shm && !r.ext.server_address) r.shm_failed = true;
      loop_.arm_after(r, options_.server_retry);
    }
  };
  if (r.ext.server_address) {
    go(*r.ext.server_address, r.ext.server_shm);
    return;
  }
  r.state = RemoteServer::State::kResolving;
  auto alive = alive_;
  const uint32_t prog = r.ext.program, vers = r.ext.version;
  const transport::SockAddr registry = options_.registry_address;
  const bool try_shm = options_.shared_memory && !r.shm_failed;
  worker_->post([this, &r, alive, prog, vers, registry, go, try_shm] {
    constexpr std::chrono::milliseconds kTimeout(1000);
    if (try_shm) {
      auto shm = rpcb_find_shm(registry, prog, vers, nullptr, kTimeout);
      if (shm.ok()) {
        loop_.post([&r, alive, addr = shm.value(), go] {
          if (!*alive) return;
          r.state = RemoteServer::State::kIdle;
          go(addr, true);
        });
        return;
      }
    }
    auto res = rpcb_getaddr(registry, TransportKind::kTcp, prog, vers, nullptr, kTimeout);
    loop_.post([this, &r, alive, res, go, prog, vers] {
      if (!*alive) return;
      r.state = RemoteServer::State::kIdle;
      if (!res.ok()) {
        std::string why = "program " + std::to_string(prog) + " version " + std::to_string(vers) +
                          " not found through the registry (" + res.error().to_string() + ")";
        if (why != r.last_error) log(r.ext.alias + ": " + why + "; trying again");
        r.last_error = why;
        loop_.arm_after(r, options_.server_retry);
        return;
      }
      go(res.value(), false);
    });
  });
}

void Proxy::remote_down(RemoteServer& r, const std::string& why) {
  const bool was_up = r.state == RemoteServer::State::kUp;
  r.state = RemoteServer::State::kIdle;
  r.reader.reset();
  // Calls in flight to the server are answered, so that no client waits for its timeout.
  r.pending.for_each([&](uint32_t, PendingRemote& p) {
    auto sit = by_gen_.find(p.gen);
    if (sit == by_gen_.end() || !sit->second->services) return;
    ErrorReply rep(p.xid, kSystemErr);
    sit->second->services->link().send_wrapped({p.id, p.service_id, MsgType::kServerResponse},
                                               p.msg_id, rep.span(), {});
    ++r.stats.errors;
  });
  r.pending.clear();
  if (stopped_) return;
  if (was_up) {
    log(r.ext.alias + ": " + why + "; telling the systems connected to it (DISCONNECT_SERVICE)");
    for (auto& [name, s] : systems_) {
      if (s->services) s->services->close_offer(r.ext.alias);
    }
  }
  loop_.arm_after(r, options_.server_retry);
}

// --- status ----------------------------------------------------------------------------------

namespace {
std::string stats_json(const CallStats& s) {
  std::string out = "{\"calls\": " + std::to_string(s.calls) +
                    ", \"errors\": " + std::to_string(s.errors) +
                    ", \"bytesOut\": " + std::to_string(s.bytes_out) +
                    ", \"bytesIn\": " + std::to_string(s.bytes_in) +
                    ", \"inPieces\": " + std::to_string(s.in_pieces) + ", \"latencyUs\": {";
  const auto& h = s.latency;
  out += "\"mean\": " + std::to_string(h.count ? h.total_us / h.count : 0) +
         ", \"p50\": " + std::to_string(h.percentile(0.5)) +
         ", \"p99\": " + std::to_string(h.percentile(0.99)) +
         ", \"max\": " + std::to_string(h.max_us) + "}}";
  return out;
}
}  // namespace

std::string Proxy::status_json() const {
  std::string out = "{\"system\": " + json_str(options_.declarations.system_name) +
                    ", \"pid\": " + std::to_string(::getpid()) +
                    ", \"config\": " + json_str(options_.config_path) +
                    ", \"configError\": " + json_str(config_error_) + ",\n \"bindings\": [";
  bool first = true;
  for (const Binding& b : config_.binding_slots()) {
    if (b.empty()) continue;
    out += first ? "\n  " : ",\n  ";
    first = false;
    const Extern* e = options_.declarations.find_extern(b.service_name);
    bool connected = false;
    uint32_t service_id = 0;
    int32_t last_code = 0;
    const CallStats* st = nullptr;
    auto sit = systems_.find(b.system_name);
    const Services* sv = sit != systems_.end() ? sit->second->services.get() : nullptr;
    if (e != nullptr && e->kind == ExternKind::kClient) {
      for (auto& l : locals_) {
        if (l->ext.alias == b.service_name) st = &l->stats;
      }
      if (sv != nullptr) {
        for (auto& w : sv->wants()) {
          if (w->local_alias == b.service_name) {
            connected = w->connected;
            service_id = w->service_id;
            last_code = w->last_code;
          }
        }
      }
    } else if (e != nullptr) {
      for (auto& r : remotes_) {
        if (r->ext.alias == b.service_name) st = &r->stats;
      }
      if (sv != nullptr) {
        for (auto& o : sv->offers()) {
          if (o->alias == b.service_name && o->connected) {
            connected = true;
            service_id = o->service_id;
          }
        }
      }
    }
    out += "{\"serviceName\": " + json_str(b.service_name) +
           ", \"systemName\": " + json_str(b.system_name) +
           ", \"remoteService\": " + json_str(b.remote_service) + ", \"kind\": " +
           json_str(e == nullptr                     ? "undeclared"
                    : e->kind == ExternKind::kClient ? "client"
                                                     : "server") +
           ", \"connected\": " + (connected ? "true" : "false") +
           ", \"serviceId\": " + std::to_string(connected ? service_id : 0) +
           ", \"lastCode\": " + std::to_string(last_code);
    if (st != nullptr) out += ", \"stats\": " + stats_json(*st);
    out += "}";
  }
  out += "],\n \"systems\": [";
  first = true;
  for (const System& cs : config_.system_slots()) {
    if (cs.empty()) continue;
    out += first ? "\n  " : ",\n  ";
    first = false;
    auto sit = systems_.find(cs.system_name);
    const SystemEntry* s = sit != systems_.end() ? sit->second.get() : nullptr;
    std::string state = "NOT STARTED", error;
    LinkStats ls;
    uint64_t pending = 0, unmatched = 0, malformed = 0, holds = 0, held_now = 0;
    std::string local;
    if (s != nullptr) {
      error = s->error;
      pending = s->pending.size();
      unmatched = s->unmatched;
      malformed = s->malformed;
      holds = s->holds;
      // The list keeps a connection that has closed since until the link drains.
      for (uint64_t id : s->held) held_now += find_conn(id) != nullptr;
      if (s->services && s->started) {
        const Link& l = s->services->link();
        state = to_string(l.state());
        if (error.empty()) error = l.last_error();
        ls = l.stats();
        if (l.options().role == LinkRole::kListen) local = l.local_address().to_string();
      }
    }
    out += "{\"systemName\": " + json_str(cs.system_name) +
           ", \"linkName\": " + json_str(cs.link_name) +
           ", \"parameters\": " + json_str(cs.parameters) + ", \"state\": " + json_str(state) +
           ", \"lastError\": " + json_str(error) + ", \"listening\": " + json_str(local) +
           ", \"inFlight\": " + std::to_string(pending) +
           ", \"unmatched\": " + std::to_string(unmatched) +
           ", \"malformed\": " + std::to_string(malformed) +
           ", \"clientsHeld\": " + std::to_string(holds) +
           ", \"clientsHeldNow\": " + std::to_string(held_now) +
           ", \"messagesIn\": " + std::to_string(ls.messages_in) +
           ", \"messagesOut\": " + std::to_string(ls.messages_out) +
           ", \"bytesIn\": " + std::to_string(ls.bytes_in) +
           ", \"bytesOut\": " + std::to_string(ls.bytes_out) +
           ", \"keepalivesSent\": " + std::to_string(ls.keepalives_sent) +
           ", \"keepalivesAnswered\": " + std::to_string(ls.keepalives_answered) +
           ", \"keepalivesReceived\": " + std::to_string(ls.keepalives_received) +
           ", \"ups\": " + std::to_string(ls.ups) + ", \"downs\": " + std::to_string(ls.downs) +
           "}";
  }
  out += "],\n \"externs\": [";
  first = true;
  for (auto& l : locals_) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += "{\"alias\": " + json_str(l->ext.alias) +
           ", \"kind\": \"client\", \"program\": " + std::to_string(l->ext.local_program) +
           ", \"version\": " + std::to_string(l->ext.local_version) +
           ", \"port\": " + std::to_string(l->bound.port()) +
           ", \"shm\": " + json_str(l->shm_path) +
           ", \"registered\": " + (l->registered ? "true" : "false") +
           ", \"stats\": " + stats_json(l->stats) + "}";
  }
  for (auto& r : remotes_) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += "{\"alias\": " + json_str(r->ext.alias) +
           ", \"kind\": \"server\", \"program\": " + std::to_string(r->ext.program) +
           ", \"version\": " + std::to_string(r->ext.version) +
           ", \"server\": " + json_str(r->up() ? r->address.to_string() : "") +
           ", \"transport\": " + json_str(r->up() ? r->transport_name() : "") +
           ", \"lastError\": " + json_str(r->up() ? "" : r->last_error) +
           ", \"inFlight\": " + std::to_string(r->pending.size()) +
           ", \"stats\": " + stats_json(r->stats) + "}";
  }
  const transport::LoopStats& ls = loop_.stats();
  out += "],\n \"loop\": {\"backend\": " + json_str(loop_.describe()) +
         ", \"iterations\": " + std::to_string(ls.iterations) +
         ", \"recvCalls\": " + std::to_string(ls.recv_calls) +
         ", \"sendCalls\": " + std::to_string(ls.send_calls) +
         ", \"bytesReceived\": " + std::to_string(ls.bytes_received) +
         ", \"bytesSent\": " + std::to_string(ls.bytes_sent) +
         ", \"recvStarved\": " + std::to_string(ls.recv_starved) +
         ", \"idlePolls\": " + std::to_string(ls.idle_polls) +
         ", \"idlePollMisses\": " + std::to_string(ls.idle_poll_misses) + "}}";
  return out;
}

std::string Proxy::describe_listeners() const {
  std::string out;
  if (!options_.control_path.empty()) out = "control=" + options_.control_path;
  for (auto& l : locals_) {
    if (!out.empty()) out += ' ';
    out += l->ext.alias + " tcp=" + std::to_string(l->bound.port()) +
           " udp=" + std::to_string(l->bound.port());
    if (!l->shm_path.empty()) out += " shm=" + l->shm_path;
  }
  return out;
}

}  // namespace ringrpc::legato
