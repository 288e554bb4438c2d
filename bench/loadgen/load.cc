#include "bench/loadgen/load.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/loadgen/host_cpu.h"

namespace ringrpc::bench {

using transport::Clock;
using transport::EventLoop;
using transport::TimePoint;

double process_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3.. : state is the first; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / tick;
}

std::vector<uint8_t> opaque_argument(size_t n) {
  // Length, then the bytes, then zeros to a multiple of four (XDR's padding).
  std::vector<uint8_t> a(4 + ((n + 3) & ~size_t{3}), 0);
  const uint32_t len = static_cast<uint32_t>(n);
  for (int i = 0; i < 4; ++i) a[static_cast<size_t>(i)] = static_cast<uint8_t>(len >> (24 - 8 * i));
  std::fill_n(a.begin() + 4, n, uint8_t{0xab});
  return a;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

namespace {

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
double to_seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool is_connection_error(Errc e) {
  return e == Errc::kRefused || e == Errc::kCannotSend || e == Errc::kUnknownHost ||
         e == Errc::kReset;
}

// What the workers and the caller's thread share. Workers only write their own Counter line;
// the rest changes under `mu`.
struct alignas(64) Counter {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> errors{0};
};

struct Shared {
  Shared(unsigned threads, unsigned reps) : counters(threads), arrived(reps + 1, 0) {}
  std::vector<Counter> counters;
  std::atomic<bool> abort{false};

  std::mutex mu;
  std::condition_variable cv;
  // Calls mode: the repetition the caller has released (-1: none yet), how many workers have
  // arrived, quiet, at the start of each (the last entry: the end), and when the measurement
  // began (for the time line).
  int released = -1;
  std::vector<unsigned> arrived;
  TimePoint measure_origin{};
  std::string fatal;
};

class Worker {
 public:
  Worker(const LoadSpec& spec, Shared& shared, unsigned index, unsigned nconns, double rate,
         uint64_t calls_per_rep, TimePoint start)
      : spec_(spec),
        shared_(shared),
        index_(index),
        nconns_(nconns),
        rate_(rate),
        calls_per_rep_(calls_per_rep),
        start_(start) {
    reps_.resize(spec.repetitions);
    timed_ = spec.calls == 0;
    warm_end_ = start_ + seconds(spec.warmup_s);
    end_ = warm_end_ + seconds(spec.duration_s * spec.repetitions);
    if (timed_) {
      timeline_.resize(
          static_cast<size_t>(std::ceil(spec.duration_s * spec.repetitions / spec.interval_s)));
    }
  }

  void run() {
    transport::LoopOptions lo;
    lo.backend = spec_.backend;
    lo.idle_poll = spec_.idle_poll;
    lo.log_fallback = false;
    std::string err;
    loop_ = EventLoop::create(lo, &err);
    if (!loop_) {
      fail("cannot start an event loop: " + err);
      return;
    }
    backend_ = loop_->describe();
    ChannelOptions co;
    co.transport = spec_.transport;
    co.address = spec_.address;
    co.program = spec_.program;
    co.version = spec_.version;
    co.timeout = spec_.timeout;
    co.credentials = spec_.credentials;
    co.max_inflight = std::max(spec_.depth, spec_.max_inflight) + 16;
    conns_.resize(nconns_);
    const unsigned per_conn = open() ? spec_.max_inflight : spec_.depth;
    ctxs_.resize(static_cast<size_t>(nconns_) * per_conn);
    for (size_t i = 0; i < ctxs_.size(); ++i) {
      ctxs_[i].w = this;
      ctxs_[i].next_free = static_cast<uint32_t>(i + 1);
    }
    free_ = 0;
    for (Conn& c : conns_) c.ch = Channel::create(*loop_, co);

    if (timed_) {
      run_timed();
    } else {
      run_counted();
    }
    // Give calls still in flight a moment, then close: what is left fails as cancelled, and is
    // not counted (it is past the measurement).
    phase_ = Phase::kDrain;
    const TimePoint give_up = Clock::now() + spec_.drain;
    while (inflight_ > 0 && Clock::now() < give_up && !shared_.abort.load()) {
      loop_->run_once(std::chrono::milliseconds(10));
    }
    in_flight_at_end_ = inflight_;
    for (Conn& c : conns_) c.ch->close();
    loop_->drain(std::chrono::seconds(1));
    conns_.clear();
    loop_.reset();
  }

  // Results, read after join.
  std::vector<RepResult> reps_;
  std::vector<IntervalPoint> timeline_;
  LatencyHistogram send_lag_;
  uint64_t unsent_ = 0;
  uint64_t capped_ = 0;
  uint64_t in_flight_at_end_ = 0;
  std::string backend_;

 private:
  enum class Phase : uint8_t { kWarmup, kMeasure, kPause, kDrain };
  struct Conn {
    std::shared_ptr<Channel> ch;
    uint32_t inflight = 0;
    uint32_t owed = 0;  // closed loop: calls to send again once `backoff` has passed
    TimePoint backoff{};
  };
  struct CallCtx {
    Worker* w = nullptr;
    uint32_t conn = 0;
    uint32_t next_free = 0;
    TimePoint sent{};
    TimePoint due{};
  };

  bool open() const noexcept { return rate_ > 0; }

  void fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(shared_.mu);
    if (shared_.fatal.empty()) shared_.fatal = why;
    shared_.abort.store(true);
    shared_.cv.notify_all();
  }

  // --- duration mode: one continuous load, windows by completion time ---

  void run_timed() {
    phase_ = Phase::kWarmup;
    sched_origin_ = start_;
    if (!open()) {
      for (uint32_t c = 0; c < conns_.size(); ++c) {
        for (unsigned d = 0; d < spec_.depth; ++d) issue(c, Clock::now());
      }
    }
    while (!shared_.abort.load(std::memory_order_relaxed)) {
      // A closed loop only needs the time to end the phases: the loop's own (the time its last
      // wait returned) spares a clock read per iteration, which a one-call-at-a-time run over
      // shared memory would count in its latency.
      const TimePoint now = open() ? Clock::now() : loop_->now();
      if (now >= end_) break;
      if (phase_ == Phase::kWarmup && now >= warm_end_) phase_ = Phase::kMeasure;
      pump(now);
      loop_->run_once(wait_from(now, end_));
    }
    finish_open_loop(Clock::now());
  }

  // --- calls mode: exactly calls_per_rep_ calls a repetition, quiet in between ---

  void run_counted() {
    phase_ = Phase::kWarmup;
    sched_origin_ = start_;
    if (spec_.warmup_s > 0) {
      if (!open()) {
        for (uint32_t c = 0; c < conns_.size(); ++c) {
          for (unsigned d = 0; d < spec_.depth; ++d) issue(c, Clock::now());
        }
      }
      while (!shared_.abort.load(std::memory_order_relaxed) && Clock::now() < warm_end_) {
        const TimePoint now = Clock::now();
        pump(now);
        loop_->run_once(wait_from(now, warm_end_));
      }
    }
    for (unsigned rep = 0; rep < spec_.repetitions; ++rep) {
      quiesce();
      if (!wait_for_release(static_cast<int>(rep))) return;
      cur_rep_ = rep;
      budget_ = calls_per_rep_;
      completed_in_rep_ = 0;
      phase_ = Phase::kMeasure;
      const TimePoint now = Clock::now();
      sched_origin_ = now;
      sched_sent_ = 0;
      if (!open()) {
        for (uint32_t c = 0; c < conns_.size(); ++c) {
          for (unsigned d = 0; d < spec_.depth && budget_ > 0; ++d) issue(c, now);
        }
      }
      while (completed_in_rep_ < calls_per_rep_ && !shared_.abort.load(std::memory_order_relaxed)) {
        const TimePoint t = Clock::now();
        pump(t);
        loop_->run_once(wait_from(t, t + std::chrono::milliseconds(50)));
      }
      phase_ = Phase::kPause;
    }
    quiesce();
    wait_for_release(static_cast<int>(spec_.repetitions));
  }

  // Stops issuing and lets what is in flight finish (bounded by the call timeout).
  void quiesce() {
    const Phase was = phase_;
    phase_ = Phase::kPause;
    const TimePoint give_up = Clock::now() + spec_.timeout + std::chrono::seconds(1);
    while (inflight_ > 0 && Clock::now() < give_up && !shared_.abort.load()) {
      loop_->run_once(std::chrono::milliseconds(10));
    }
    for (Conn& c : conns_) c.owed = 0;
    if (was == Phase::kWarmup) finish_open_loop(Clock::now());
    unsent_ = 0;  // a warm-up's backlog is not the measurement's
  }

  bool wait_for_release(int rep) {
    std::unique_lock<std::mutex> lock(shared_.mu);
    ++shared_.arrived[static_cast<size_t>(rep)];
    shared_.cv.notify_all();
    shared_.cv.wait(lock, [&] { return shared_.released >= rep || shared_.abort.load(); });
    measure_origin_ = shared_.measure_origin;
    return !shared_.abort.load();
  }

  // --- issuing ---

  Clock::duration wait_from(TimePoint now, TimePoint limit) const {
    TimePoint next = limit;
    if (open() && issuing()) {
      const TimePoint due = due_time(sched_sent_);
      if (due < next) next = due;
    }
    if (owed_ > 0) next = std::min(next, now + std::chrono::milliseconds(10));
    next = std::min(next, now + std::chrono::milliseconds(100));
    return next > now ? next - now : Clock::duration::zero();
  }

  bool issuing() const noexcept {
    if (phase_ != Phase::kWarmup && phase_ != Phase::kMeasure) return false;
    return timed_ || phase_ == Phase::kWarmup || budget_ > 0;
  }

  TimePoint due_time(uint64_t k) const {
    return sched_origin_ + seconds(static_cast<double>(k) / rate_);
  }

  // Open loop: sends every call that is due and fits; closed loop: calls owed after a backoff.
  void pump(TimePoint now) {
    if (owed_ > 0) {
      for (uint32_t c = 0; c < conns_.size(); ++c) {
        Conn& conn = conns_[c];
        while (conn.owed > 0 && conn.backoff <= now && issuing()) {
          --conn.owed;
          --owed_;
          issue(c, now);
        }
      }
    }
    if (!open() || !issuing()) return;
    const uint64_t due_count = static_cast<uint64_t>(to_seconds(now - sched_origin_) * rate_) + 1;
    while (sched_sent_ < due_count && issuing()) {
      // Round robin over the connections with room.
      uint32_t tried = 0;
      while (tried < conns_.size() && conns_[rr_].inflight >= spec_.max_inflight) {
        rr_ = (rr_ + 1) % static_cast<uint32_t>(conns_.size());
        ++tried;
      }
      if (tried == conns_.size()) {
        // Every connection is at its cap: the calls wait here, still timed from when they
        // were due. That is the server's queue showing, not the client's lag.
        capping_ = true;
        return;
      }
      const TimePoint due = due_time(sched_sent_);
      if (capping_) {
        ++capped_;  // held back by the cap until now
      } else if (phase_ == Phase::kMeasure) {
        send_lag_.add(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count()));
      }
      const uint32_t c = rr_;
      rr_ = (rr_ + 1) % static_cast<uint32_t>(conns_.size());
      ++sched_sent_;
      issue(c, due);
    }
    capping_ = false;
  }

  void finish_open_loop(TimePoint now) {
    if (!open()) return;
    const uint64_t due_count = static_cast<uint64_t>(to_seconds(now - sched_origin_) * rate_);
    if (due_count > sched_sent_) unsent_ += due_count - sched_sent_;
  }

  void issue(uint32_t conn, TimePoint due) {
    if (free_ >= ctxs_.size()) return;  // cannot happen: contexts are sized for the caps
    if (!timed_ && phase_ == Phase::kMeasure) {
      if (budget_ == 0) return;
      --budget_;
    }
    const uint32_t i = free_;
    CallCtx& ctx = ctxs_[i];
    free_ = ctx.next_free;
    ctx.conn = conn;
    ctx.sent = Clock::now();
    ctx.due = open() ? due : ctx.sent;
    ++conns_[conn].inflight;
    ++inflight_;
    conns_[conn].ch->call_raw(spec_.procedure, &Worker::encode, &spec_.args, &Worker::on_reply,
                              &ctx);
  }

  static bool encode(const void* ctx, xdr::XdrWriter& w) {
    const auto& args = *static_cast<const std::vector<uint8_t>*>(ctx);
    return args.empty() || w.put_bytes(args.data(), args.size());
  }

  static void on_reply(void* p, const RpcError& e, xdr::XdrReader* results) {
    auto* ctx = static_cast<CallCtx*>(p);
    ctx->w->reply(*ctx, e, results);
  }

  void reply(CallCtx& ctx, const RpcError& e, xdr::XdrReader* results) {
    const TimePoint now = Clock::now();
    const uint32_t c = ctx.conn;
    const TimePoint due = ctx.due;
    ctx.next_free = free_;
    free_ = static_cast<uint32_t>(&ctx - ctxs_.data());
    --inflight_;
    if (c >= conns_.size()) return;  // a cancellation while the channels are being closed
    --conns_[c].inflight;
    const bool ok = e.ok() || (spec_.raw_replies && e.code == Errc::kCannotDecode);
    if (ok) {
      ++successes_;
    } else if (is_connection_error(e.code) && successes_ == 0 && ++early_failures_ >= 64) {
      fail(e.to_string());
    }
    record(now, due, e, ok, results);
    if (phase_ == Phase::kDrain || phase_ == Phase::kPause) return;
    if (!open()) {
      if (!ok && is_connection_error(e.code)) {
        // Back off instead of spinning on a server that is gone; the call goes again later.
        conns_[c].owed++;
        owed_++;
        conns_[c].backoff = now + std::chrono::milliseconds(10);
        return;
      }
      if (issuing()) issue(c, now);
    }
  }

  void record(TimePoint now, TimePoint due, const RpcError& e, bool ok, xdr::XdrReader* results) {
    int rep = -1;
    double since = 0;
    if (timed_) {
      if (now < warm_end_ || now >= end_) return;
      since = to_seconds(now - warm_end_);
      rep = std::min(static_cast<int>(since / spec_.duration_s),
                     static_cast<int>(spec_.repetitions) - 1);
    } else {
      if (phase_ != Phase::kMeasure) return;
      rep = static_cast<int>(cur_rep_);
      since = to_seconds(now - measure_origin_);
      ++completed_in_rep_;
    }
    RepResult& r = reps_[static_cast<size_t>(rep)];
    const uint64_t ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count());
    ++r.calls;
    r.latency.add(ns);
    // An echo server's reply is the call itself: count its arguments again for it.
    const size_t reply_bytes = results != nullptr          ? results->remaining()
                               : (spec_.raw_replies && ok) ? spec_.args.size()
                                                           : 0;
    r.bytes += spec_.args.size() + reply_bytes;
    const size_t slot = static_cast<size_t>(since / spec_.interval_s);
    if (slot >= timeline_.size()) timeline_.resize(slot + 1);
    IntervalPoint& pt = timeline_[slot];
    ++pt.calls;
    pt.latency.add(ns);
    if (!ok) {
      ++r.errors;
      ++r.errors_by_kind[static_cast<size_t>(e.code)];
      ++pt.errors;
      shared_.counters[index_].errors.store(++errors_seen_, std::memory_order_relaxed);
    }
    shared_.counters[index_].calls.store(++calls_seen_, std::memory_order_relaxed);
  }

  const LoadSpec& spec_;
  Shared& shared_;
  unsigned index_;
  unsigned nconns_;
  double rate_;
  uint64_t calls_per_rep_;
  TimePoint start_;
  TimePoint warm_end_{};
  TimePoint end_{};
  TimePoint measure_origin_{};
  bool timed_ = true;

  std::unique_ptr<EventLoop> loop_;
  std::vector<Conn> conns_;
  std::vector<CallCtx> ctxs_;
  uint32_t free_ = 0;
  uint32_t inflight_ = 0;
  uint32_t owed_ = 0;
  uint32_t rr_ = 0;
  Phase phase_ = Phase::kWarmup;
  unsigned cur_rep_ = 0;
  uint64_t budget_ = 0;
  uint64_t completed_in_rep_ = 0;
  TimePoint sched_origin_{};
  uint64_t sched_sent_ = 0;
  bool capping_ = false;
  uint64_t successes_ = 0;
  uint64_t early_failures_ = 0;
  uint64_t calls_seen_ = 0;
  uint64_t errors_seen_ = 0;
};

uint64_t total(const Shared& s, bool errors) {
  uint64_t n = 0;
  for (const Counter& c : s.counters) n += (errors ? c.errors : c.calls).load();
  return n;
}

}  // namespace

LoadResult run_load(const LoadSpec& spec_in, const LoadHooks& hooks) {
  LoadSpec spec = spec_in;
  spec.connections = std::max(1u, spec.connections);
  spec.threads = std::clamp(spec.threads, 1u, spec.connections);
  spec.repetitions = std::max(1u, spec.repetitions);
  spec.depth = std::max(1u, spec.depth);
  spec.max_inflight = std::max(1u, spec.max_inflight);
  const bool timed = spec.calls == 0;

  Shared shared(spec.threads, spec.repetitions);
  const TimePoint start = Clock::now();
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < spec.threads; ++t) {
    const unsigned n = spec.connections / spec.threads + (t < spec.connections % spec.threads);
    const uint64_t share = spec.calls / spec.threads + (t < spec.calls % spec.threads);
    workers.push_back(
        std::make_unique<Worker>(spec, shared, t, n, spec.rate / spec.threads, share, start));
  }
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  LoadResult out;
  std::vector<double> cpu_at(spec.repetitions + 1, 0);
  std::vector<double> server_at(spec.repetitions + 1, -1);
  std::vector<std::optional<HostCpuTicks>> host_at(spec.repetitions + 1);
  std::vector<double> counted(spec.repetitions, -1);
  std::vector<double> rep_seconds(spec.repetitions, spec.duration_s);
  auto sample = [&](unsigned edge) {
    cpu_at[edge] = self_cpu_seconds();
    if (hooks.server_pid > 0) server_at[edge] = process_cpu_seconds(hooks.server_pid);
    host_at[edge] = read_host_cpu();
  };
  auto progress = [&](bool warming) {
    if (hooks.progress) {
      hooks.progress(to_seconds(Clock::now() - start), total(shared, false), total(shared, true),
                     warming);
    }
  };
  TimePoint measure_begin{};
  TimePoint measure_end{};

  if (timed) {
    const TimePoint warm_end = start + seconds(spec.warmup_s);
    TimePoint next_progress = start + std::chrono::seconds(1);
    for (unsigned edge = 0; edge <= spec.repetitions && !shared.abort.load(); ++edge) {
      const TimePoint at = warm_end + seconds(spec.duration_s * edge);
      while (!shared.abort.load()) {
        const TimePoint now = Clock::now();
        if (now >= at) break;
        if (now >= next_progress) {
          progress(now < warm_end);
          next_progress += std::chrono::seconds(1);
        }
        std::unique_lock<std::mutex> lock(shared.mu);
        shared.cv.wait_until(lock, std::min(at, next_progress));
      }
      if (edge > 0 && hooks.after_rep) counted[edge - 1] = hooks.after_rep(edge - 1);
      sample(edge);
      if (edge < spec.repetitions && hooks.before_rep) hooks.before_rep(edge);
    }
    measure_begin = warm_end;
    measure_end = Clock::now();
  } else {
    for (unsigned rep = 0; rep <= spec.repetitions; ++rep) {
      // Wait until every worker is quiet and waiting for this repetition.
      {
        std::unique_lock<std::mutex> lock(shared.mu);
        while (shared.arrived[rep] < spec.threads && !shared.abort.load()) {
          shared.cv.wait_for(lock, std::chrono::seconds(1));
          lock.unlock();
          progress(rep == 0);
          lock.lock();
        }
      }
      const TimePoint now = Clock::now();
      if (rep > 0) {
        rep_seconds[rep - 1] = to_seconds(now - measure_end);
        if (hooks.after_rep) counted[rep - 1] = hooks.after_rep(rep - 1);
      }
      sample(rep);
      if (shared.abort.load()) break;
      if (rep < spec.repetitions && hooks.before_rep) hooks.before_rep(rep);
      std::lock_guard<std::mutex> lock(shared.mu);
      measure_end = Clock::now();
      if (rep == 0) {
        measure_begin = measure_end;
        shared.measure_origin = measure_end;
      }
      shared.released = static_cast<int>(rep);
      shared.cv.notify_all();
    }
    measure_end = Clock::now();
  }
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    shared.released = static_cast<int>(spec.repetitions) + 1;
    shared.cv.notify_all();
  }
  for (auto& th : threads) th.join();

  out.reps.resize(spec.repetitions);
  for (auto& w : workers) {
    for (unsigned r = 0; r < spec.repetitions; ++r) {
      RepResult& into = out.reps[r];
      const RepResult& from = w->reps_[r];
      into.calls += from.calls;
      into.errors += from.errors;
      into.bytes += from.bytes;
      for (size_t k = 0; k < kErrcCount; ++k) into.errors_by_kind[k] += from.errors_by_kind[k];
      into.latency.merge(from.latency);
    }
    if (out.timeline.size() < w->timeline_.size()) out.timeline.resize(w->timeline_.size());
    for (size_t i = 0; i < w->timeline_.size(); ++i) {
      out.timeline[i].calls += w->timeline_[i].calls;
      out.timeline[i].errors += w->timeline_[i].errors;
      out.timeline[i].latency.merge(w->timeline_[i].latency);
    }
    out.send_lag.merge(w->send_lag_);
    out.unsent += w->unsent_;
    out.capped += w->capped_;
    out.in_flight_at_end += w->in_flight_at_end_;
    if (out.client_backend.empty()) out.client_backend = w->backend_;
  }
  for (size_t i = 0; i < out.timeline.size(); ++i) {
    out.timeline[i].t = static_cast<double>(i) * spec.interval_s;
  }
  for (unsigned r = 0; r < spec.repetitions; ++r) {
    RepResult& rep = out.reps[r];
    rep.seconds = rep_seconds[r];
    rep.client_cpu_s = cpu_at[r + 1] - cpu_at[r];
    if (server_at[r] >= 0 && server_at[r + 1] >= 0)
      rep.server_cpu_s = server_at[r + 1] - server_at[r];
    if (host_at[r] && host_at[r + 1]) {
      if (const auto share = host_share(*host_at[r], *host_at[r + 1])) {
        rep.host_busy = share->busy;
        rep.host_steal = share->steal;
      }
    }
    if (counted[r] >= 0 && rep.calls > 0) {
      rep.instructions_per_call = counted[r] / static_cast<double>(rep.calls);
    }
    out.latency.merge(rep.latency);
  }
  out.wall_s = to_seconds(measure_end - measure_begin);
  out.fatal = shared.fatal;
  uint64_t answered = 0;
  for (const RepResult& r : out.reps) answered += r.calls;
  // Calls that all failed are still figures (errors by kind); a run in which nothing at all came
  // back is not.
  if (out.fatal.empty() && answered == 0) out.fatal = "no reply came in the measured time";
  return out;
}

}  // namespace ringrpc::bench
