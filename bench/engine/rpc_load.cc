// ringrpc-load: a closed-loop load generator for ONC RPC servers over TCP or Unix sockets, the
// small client the engine's performance figures are measured with (it grows into ringrpc-bench).
//
// C connections x D calls in flight per connection, spread over T threads, each thread one
// ringrpc event loop (io_uring or epoll). Every call is the same pre-encoded record (a NULL call,
// or an opaque<> of --payload bytes for ECHO-style procedures) with its xid patched in; a reply
// is matched by xid and the next call goes out at once. The same driver runs against any server,
// so ringrpc, libtirpc and a raw echo server are measured alike. --raw accepts any record that
// carries the xid back (what an echo server returns); otherwise the reply must be MSG_ACCEPTED /
// SUCCESS.
//
// Output: one line of figures (calls/s, MB/s, latency percentiles in microseconds from a
// log-linear histogram with ~3% resolution, errors), or JSON with --json.
//
// Threading: one driver per thread; results merged after the threads join.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "codec/record_marking.h"
#include "codec/rpc_msg.h"
#include "codec/xdr_raw.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"
#include "transport/event_loop.h"

namespace {

using ringrpc::Buffer;
using ringrpc::transport::Clock;
using ringrpc::transport::EventLoop;
using ringrpc::transport::SockAddr;
using ringrpc::transport::Stream;

// Latency histogram: 64 octaves x 32 linear sub-buckets of nanoseconds.
class Histogram {
 public:
  void add(uint64_t ns) noexcept {
    ++counts_[index(ns)];
    ++n_;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) noexcept {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const noexcept { return n_; }
  uint64_t max() const noexcept { return max_; }
  // The upper edge of the bucket holding quantile q.
  double quantile_us(double q) const noexcept {
    if (n_ == 0) return 0;
    const uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= want && counts_[i] != 0) return static_cast<double>(upper(i)) / 1000.0;
    }
    return static_cast<double>(max_) / 1000.0;
  }

 private:
  static constexpr size_t kSub = 32;
  static constexpr size_t kBuckets = 64 * kSub;
  static size_t index(uint64_t v) noexcept {
    if (v < kSub) return static_cast<size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned shift = msb - 5;  // keep 5 bits below the msb
    return (shift + 1) * kSub + static_cast<size_t>((v >> shift) & (kSub - 1));
  }
  static uint64_t upper(size_t i) noexcept {
    if (i < kSub) return i;
    const size_t shift = i / kSub - 1;
    return ((uint64_t{kSub} | (i % kSub)) + 1) << shift;
  }
  uint64_t counts_[kBuckets] = {};
  uint64_t n_ = 0;
  uint64_t max_ = 0;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  std::string unix_path;
  uint32_t prog = 0;
  uint32_t vers = 1;
  uint32_t proc = 0;
  long payload = -1;  // -1: no arguments
  unsigned connections = 16;
  unsigned depth = 32;
  unsigned threads = 1;
  double duration = 5;
  double warmup = 1;
  bool raw = false;
  bool json = false;
  bool idle = false;  // connect and send nothing (memory cost of idle connections)
  ringrpc::transport::Backend backend = ringrpc::transport::Backend::kAuto;
};

struct Totals {
  unsigned connected = 0;
  Histogram hist;
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t bytes = 0;
  std::string backend;
};

class Driver;

class Conn final : public ringrpc::transport::StreamHandler {
 public:
  Conn(Driver& d, size_t depth) : d_(d), sent_at_(depth), xids_(depth) {}
  void on_connected(Stream& s, int err) override;
  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) override;
  void on_closed(Stream& s, int err) override;
  void send_call(size_t slot);

  Driver& d_;
  Stream* stream_ = nullptr;
  ringrpc::xdr::RecordReader reader_{ringrpc::xdr::RecordOptions{256u << 20}};
  std::vector<Clock::time_point> sent_at_;
  std::vector<uint32_t> xids_;
  uint32_t next_xid_ = 1;
  bool broken_ = false;
};

class Driver {
 public:
  Driver(const Options& o, unsigned first_conn, unsigned conns, const std::vector<uint8_t>& call)
      : o_(o), first_(first_conn), nconns_(conns), call_(call) {}

  void run(Totals& out) {
    ringrpc::transport::LoopOptions lo;
    lo.backend = o_.backend;
    lo.log_fallback = false;
    std::string err;
    loop_ = EventLoop::create(lo, &err);
    if (!loop_) {
      std::fprintf(stderr, "ringrpc-load: %s\n", err.c_str());
      std::exit(1);
    }
    out.backend = loop_->describe();
    SockAddr addr;
    if (!o_.unix_path.empty()) {
      SockAddr::unix_path(o_.unix_path, addr);
    } else {
      std::string why;
      if (!SockAddr::resolve(o_.host, static_cast<uint16_t>(o_.port), false, addr, &why)) {
        std::fprintf(stderr, "ringrpc-load: %s\n", why.c_str());
        std::exit(1);
      }
    }
    for (unsigned i = 0; i < nconns_; ++i) {
      conns_.push_back(std::make_unique<Conn>(*this, o_.depth));
      ringrpc::transport::IoError e;
      conns_.back()->stream_ = loop_->connect(addr, *conns_.back(), e);
      if (conns_.back()->stream_ == nullptr) {
        std::fprintf(stderr, "ringrpc-load: connect: %s\n", e.to_string().c_str());
        std::exit(1);
      }
      conns_.back()->next_xid_ = (first_ + i) << 20 | 1;
    }
    open_ = nconns_;  // connections not yet closed (connecting ones included)
    const auto start = Clock::now();
    const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(o_.warmup));
    const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o_.duration));
    while (Clock::now() < end && open_ > 0) {
      loop_->run_once(std::chrono::milliseconds(50));
      if (!measuring_ && Clock::now() >= measure_from) {
        measuring_ = true;
        measure_start_ = Clock::now();
      }
    }
    const auto stop = Clock::now();
    measured_seconds = std::chrono::duration<double>(stop - measure_start_).count();
    for (auto& c : conns_) {
      if (c->stream_ != nullptr) c->stream_->close();
    }
    for (int i = 0; i < 100 && open_ > 0; ++i) loop_->run_once(std::chrono::milliseconds(10));
    out.connected = connected_;
    out.hist = hist_;
    out.calls = calls_;
    out.errors = errors_;
    out.bytes = bytes_;
    conns_.clear();
    loop_.reset();
  }

  const Options& o_;
  unsigned first_;
  unsigned nconns_;
  const std::vector<uint8_t>& call_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Histogram hist_;
  uint64_t calls_ = 0;
  uint64_t errors_ = 0;
  uint64_t bytes_ = 0;
  bool measuring_ = false;
  Clock::time_point measure_start_{};
  double measured_seconds = 0;
  unsigned open_ = 0;
  unsigned connected_ = 0;
};

void Conn::on_connected(Stream& s, int err) {
  (void)s;
  if (err != 0) {
    std::fprintf(stderr, "ringrpc-load: connect: %s\n", std::strerror(err));
    broken_ = true;
    return;
  }
  ++d_.connected_;
  if (d_.o_.idle) return;
  for (size_t i = 0; i < sent_at_.size(); ++i) send_call(i);
}

void Conn::send_call(size_t slot) {
  ringrpc::xdr::OutMessage m;
  ringrpc::xdr::EncodeOptions raw;
  raw.record_mark = false;
  ringrpc::xdr::XdrWriter w(d_.loop_->send_pool(), m, raw);
  const uint32_t xid = next_xid_++;
  // The pre-encoded call with this xid: 4 bytes of record mark, then the xid.
  w.put_bytes(d_.call_.data(), 4);
  w.put_u32(xid);
  w.put_bytes(d_.call_.data() + 8, d_.call_.size() - 8);
  w.finish();
  xids_[slot] = xid;
  sent_at_[slot] = Clock::now();
  stream_->send(std::move(m));
}

void Conn::on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) {
  (void)owner;
  while (!s.closing()) {
    ringrpc::xdr::Record rec;
    const auto st = reader_.next(data, rec);
    if (st == ringrpc::xdr::RecordReader::Status::kNeedMore) break;
    if (st == ringrpc::xdr::RecordReader::Status::kError) {
      std::fprintf(stderr, "ringrpc-load: bad record: %s\n", reader_.error().to_string().c_str());
      s.close();
      return;
    }
    if (rec.data.size() < 4) {
      ++d_.errors_;
      continue;
    }
    const uint32_t xid = ringrpc::xdr::load_be32(rec.data.data());
    // Replies come back in order on one connection to every server we drive, but match by xid
    // anyway: a server may answer out of order.
    size_t slot = sent_at_.size();
    for (size_t i = 0; i < xids_.size(); ++i) {
      if (xids_[i] == xid) {
        slot = i;
        break;
      }
    }
    if (slot == sent_at_.size()) {
      ++d_.errors_;
      continue;
    }
    bool ok = true;
    if (!d_.o_.raw) {
      ringrpc::xdr::XdrReader r(rec.data);
      ringrpc::rpc::ReplyHeader h;
      ok = ringrpc::rpc::decode_reply_header(r, h) &&
           h.stat == ringrpc::rpc::reply_stat::MSG_ACCEPTED &&
           h.astat == ringrpc::rpc::accept_stat::SUCCESS;
    }
    if (d_.measuring_) {
      const auto now = Clock::now();
      d_.hist_.add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_at_[slot]).count()));
      ++d_.calls_;
      d_.bytes_ += rec.data.size() + d_.call_.size();
      if (!ok) ++d_.errors_;
    }
    send_call(slot);
  }
}

void Conn::on_closed(Stream& s, int err) {
  (void)s;
  (void)err;
  --d_.open_;
  stream_ = nullptr;
}

std::vector<uint8_t> encode_call(const Options& o) {
  ringrpc::BufferPool pool(ringrpc::BufferPool::Options{1u << 20, 1, 0});
  ringrpc::xdr::OutMessage m;
  {
    ringrpc::xdr::XdrWriter w(pool, m);
    ringrpc::rpc::CallHeader h;
    h.xid = 0;
    h.prog = o.prog;
    h.vers = o.vers;
    h.proc = o.proc;
    ringrpc::rpc::encode_call_header(w, h);
    if (o.payload >= 0) {
      std::vector<uint8_t> p(static_cast<size_t>(o.payload), 0xab);
      w.put_opaque(p, UINT32_MAX);
    }
    if (!w.finish()) {
      std::fprintf(stderr, "ringrpc-load: cannot encode the call\n");
      std::exit(1);
    }
  }
  return m.flatten();
}

void usage() {
  std::printf(
      "usage: ringrpc-load --port N | --unix PATH --prog P [options]\n"
      "Drives an ONC RPC server with a closed loop of identical calls and reports throughput\n"
      "and latency.\n\n"
      "  --host H          server address (default 127.0.0.1)\n"
      "  --port N          TCP port\n"
      "  --unix PATH       Unix stream socket instead of TCP\n"
      "  --prog P --vers V --proc N   the procedure (default: version 1, procedure 0 = NULL)\n"
      "  --payload BYTES   send an opaque<> of BYTES as the argument (ECHO-style procedures)\n"
      "  --connections C   connections (default 16)\n"
      "  --depth D         calls in flight per connection (default 32)\n"
      "  --threads T       client threads, each with its own event loop (default 1)\n"
      "  --duration S      seconds measured (default 5), after --warmup S (default 1)\n"
      "  --raw             accept any record that returns the xid (echo servers)\n"
      "  --idle            connect and send nothing for the duration (idle-connection cost)\n"
      "  --backend B       io_uring, epoll or auto\n"
      "  --json            one JSON object instead of text\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ringrpc-load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help") {
      usage();
      return 0;
    } else if (a == "--host") {
      o.host = next();
    } else if (a == "--port") {
      o.port = std::atoi(next());
    } else if (a == "--unix") {
      o.unix_path = next();
    } else if (a == "--prog") {
      o.prog = static_cast<uint32_t>(std::strtoul(next(), nullptr, 0));
    } else if (a == "--vers") {
      o.vers = static_cast<uint32_t>(std::strtoul(next(), nullptr, 0));
    } else if (a == "--proc") {
      o.proc = static_cast<uint32_t>(std::strtoul(next(), nullptr, 0));
    } else if (a == "--payload") {
      o.payload = std::atol(next());
    } else if (a == "--connections") {
      o.connections = static_cast<unsigned>(std::atoi(next()));
    } else if (a == "--depth") {
      o.depth = static_cast<unsigned>(std::atoi(next()));
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(std::atoi(next()));
    } else if (a == "--duration") {
      o.duration = std::atof(next());
    } else if (a == "--warmup") {
      o.warmup = std::atof(next());
    } else if (a == "--raw") {
      o.raw = true;
    } else if (a == "--idle") {
      o.idle = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--backend") {
      if (!ringrpc::transport::parse_backend(next(), o.backend)) {
        std::fprintf(stderr, "ringrpc-load: --backend: io_uring, epoll or auto\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "ringrpc-load: unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if ((o.port <= 0 && o.unix_path.empty()) || o.connections == 0 || o.depth == 0 ||
      o.threads == 0 || o.duration <= 0) {
    std::fprintf(stderr, "ringrpc-load: need --port or --unix, and positive counts (see --help)\n");
    return 2;
  }
  o.threads = std::min(o.threads, o.connections);
  const std::vector<uint8_t> call = encode_call(o);
  std::vector<Totals> totals(o.threads);
  std::vector<double> seconds(o.threads);
  std::vector<std::thread> threads;
  unsigned first = 0;
  for (unsigned t = 0; t < o.threads; ++t) {
    const unsigned n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    threads.emplace_back([&, t, first, n] {
      Driver d(o, first, n, call);
      d.run(totals[t]);
      seconds[t] = d.measured_seconds;
    });
    first += n;
  }
  for (auto& th : threads) th.join();
  Totals all;
  double secs = 0;
  for (unsigned t = 0; t < o.threads; ++t) {
    all.hist.merge(totals[t].hist);
    all.calls += totals[t].calls;
    all.errors += totals[t].errors;
    all.bytes += totals[t].bytes;
    secs = std::max(secs, seconds[t]);
  }
  if (o.idle) {
    unsigned connected = 0;
    for (const Totals& t : totals) connected += t.connected;
    std::printf("idle connections held: %u of %u for %.1f s\n", connected, o.connections,
                o.duration);
    return connected == o.connections ? 0 : 1;
  }
  const double rate = secs > 0 ? static_cast<double>(all.calls) / secs : 0;
  const double mbps = secs > 0 ? static_cast<double>(all.bytes) / secs / 1e6 : 0;
  if (o.json) {
    std::printf("{\"calls\":%" PRIu64
                ",\"seconds\":%.3f,\"calls_per_sec\":%.0f,\"mb_per_sec\":%.1f,"
                "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
                "\"errors\":%" PRIu64
                ",\"connections\":%u,\"depth\":%u,\"payload\":%ld,"
                "\"client_backend\":\"%s\"}\n",
                all.calls, secs, rate, mbps, all.hist.quantile_us(0.5), all.hist.quantile_us(0.9),
                all.hist.quantile_us(0.99), all.hist.quantile_us(0.999),
                static_cast<double>(all.hist.max()) / 1000.0, all.errors, o.connections, o.depth,
                o.payload, totals[0].backend.c_str());
  } else {
    std::printf(
        "%.0f calls/s  %.1f MB/s  p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
        "max %.1f us  errors %" PRIu64 "  (%" PRIu64 " calls in %.2f s, %u x %u, %s)\n",
        rate, mbps, all.hist.quantile_us(0.5), all.hist.quantile_us(0.9),
        all.hist.quantile_us(0.99), all.hist.quantile_us(0.999),
        static_cast<double>(all.hist.max()) / 1000.0, all.errors, all.calls, secs, o.connections,
        o.depth, totals[0].backend.c_str());
  }
  return all.errors == 0 ? 0 : 1;
}
