// The per-shard event loop: sockets, timers and cross-thread wake-ups for one thread, behind one
// seam with two backends, io_uring (multishot accept and recv into a provided-buffer ring,
// SENDMSG for replies, SINGLE_ISSUER | DEFER_TASKRUN when the kernel has them) and epoll (the
// fallback where io_uring is missing or forbidden, as in many containers).
//
// The seam is at the level of sockets, not of single operations: a backend turns "bytes arrived on
// this stream" and "these messages must go out" into whatever its kernel interface does best. The
// engine above sees the same callbacks from both. Shared-memory connections (shm_ring.h) are
// another kind of Stream, handled above the backends: a backend only watches their eventfd and
// control socket.
//
// Batching: Stream::send() only queues. Every queued message goes out at the end of the loop
// iteration, all the messages of one stream in one sendmsg, and with io_uring all the streams'
// sends in one io_uring_enter. Receive buffers come from the loop's pool and are handed to the
// handler with the bytes; a handler that keeps a Buffer keeps the bytes (zero copy), and an empty
// pool is natural back-pressure: the loop stops reading until buffers come back.
//
// Lifetimes: the loop owns every Stream, Listener and Datagram it hands out. A Stream is valid
// until its handler's on_closed() returns; on_closed() is called exactly once, always from the
// loop, never from inside close() or send().
//
// Threading: an EventLoop is created, used and destroyed by one thread (io_uring's
// SINGLE_ISSUER needs this). Only post(), stop() and wake() may be called from other threads.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "codec/buffer_pool.h"
#include "codec/xdr_writer.h"
#include "transport/shm_ring.h"
#include "transport/socket.h"

namespace ringrpc::transport {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

enum class Backend : uint8_t { kAuto, kIoUring, kEpoll };
const char* to_string(Backend b) noexcept;
// "auto", "io_uring"/"uring", "epoll"; false on anything else.
bool parse_backend(std::string_view s, Backend& out) noexcept;

struct LoopOptions {
  Backend backend = Backend::kAuto;
  // Receive buffers: 64 KiB, because small provided buffers halve loopback throughput
  // (reference/performance.md 2.2). With io_uring, `recv_buffers` of them sit in the
  // provided-buffer ring (a power of two); the pool may hold more while handlers keep buffers.
  size_t recv_buffer_size = 64 * 1024;
  uint32_t recv_buffers = 64;
  // Hard cap on receive buffers alive at once (0: 4 x recv_buffers). At the cap the loop stops
  // reading until handlers release some.
  uint32_t max_recv_buffers = 0;
  size_t send_buffer_size = 16 * 1024;  // buffers XdrWriter encodes replies into
  uint32_t ring_entries = 1024;         // io_uring submission queue size
  // io_uring: sends of at least this many queued bytes use SENDMSG_ZC (the kernel sends from
  // our buffers, which stay pinned until its notification). Pays above ~3 KB on a real NIC
  // since kernel 6.10; loopback always copies (reference/performance.md 2.2). 0: off.
  size_t send_zc_threshold = 0;
  // Log one line to stderr when kAuto falls back to epoll.
  bool log_fallback = true;
  // Before going to sleep, go on looking for events for this long, yielding the CPU to any
  // other runnable thread between looks (sched_yield: a poll that did not yield would take the
  // core from the very peers it waits for). Events that follow each other closely then find the
  // loop awake, and neither side pays for a sleep and a wake-up: on a VM the waker spends
  // microseconds on the wake-up and the sleeper as long again to be scheduled. It costs CPU
  // time the core would otherwise spend idle, so a look that finds nothing turns polling off
  // until a sleep ends within `idle_poll` again: a loop whose events come further apart than
  // that sleeps as before. 0: off (bench/README.md "Through the proxy pair" measures it).
  Duration idle_poll = Duration::zero();
};

class EventLoop;
class Stream;

// Something to run at a time on the loop. Intrusive, so arming one never allocates (re-arming
// leaves the old entry to be skipped; disarm() removes it). A Timer must be disarmed or destroyed
// before its loop is destroyed.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual void on_timer() = 0;
  bool armed() const noexcept { return seq_ != 0; }
  TimePoint when() const noexcept { return when_; }

 protected:
  virtual ~Timer();

 private:
  friend class EventLoop;
  EventLoop* loop_ = nullptr;
  uint64_t seq_ = 0;
  TimePoint when_{};
};

// Work to do once at the end of the current iteration, after every handler has run and before
// the queued sends go out: a writer that coalesces many small messages to one stream into one
// (engine/legato's batches) arms one. Intrusive, so deferring never allocates; an armed
// Deferred must be cancelled or run before it is destroyed.
class Deferred {
 public:
  Deferred() = default;
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;
  virtual void run_deferred() = 0;
  bool deferred() const noexcept { return queued_; }

 protected:
  virtual ~Deferred() = default;

 private:
  friend class EventLoop;
  bool queued_ = false;
};

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // A connect() finished; err is 0 or the errno (then on_closed follows).
  virtual void on_connected(Stream& s, int err) {
    (void)s;
    (void)err;
  }
  // Bytes arrived. They lie inside `owner`, a pooled receive buffer: copy `owner` to keep them.
  // May be called while reading is paused (bytes the kernel had already delivered).
  virtual void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) = 0;
  // The peer will send nothing more (it shut down its side). The default closes the stream once
  // everything queued has been sent.
  virtual void on_eof(Stream& s);
  // The stream's send queue has emptied after having been over Stream::kHighWater.
  virtual void on_drained(Stream& s) { (void)s; }
  // Last call: the stream is closed; err is 0 for an orderly close or the errno that ended it.
  // The Stream is freed when this returns.
  virtual void on_closed(Stream& s, int err) = 0;
};

class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  // A new connection; the handler owns `fd` (non-blocking): add it to a loop or close it.
  virtual void on_accept(int fd, const SockAddr& peer) = 0;
  virtual void on_accept_error(int err) { (void)err; }
};

class Datagram;
class DatagramHandler {
 public:
  virtual ~DatagramHandler() = default;
  // One datagram; `truncated` when it was longer than the receive buffer.
  virtual void on_datagram(Datagram& d, std::span<const uint8_t> data, const SockAddr& from,
                           bool truncated, const Buffer& owner) = 0;
};

// Counters of one loop, for tests, benchmarks and metrics. Read on the loop thread.
struct LoopStats {
  uint64_t iterations = 0;
  uint64_t recv_calls = 0;  // recv completions or recv() calls that returned data
  uint64_t send_calls = 0;  // sendmsg submissions
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t recv_starved = 0;  // times a stream had to wait for a receive buffer
  uint64_t datagrams_dropped = 0;
  uint64_t zc_sends = 0;          // sends made with SENDMSG_ZC
  uint64_t idle_polls = 0;        // waits that found events by polling, without sleeping
  uint64_t idle_poll_misses = 0;  // polls that found nothing and went to sleep
};

// One side of a shared-memory connection (transport/shm_ring.h), set up over a Unix socket:
// the segment, this side's eventfd (it sleeps on it), the peer's (it signals it), and the
// socket, which stays open: its end is the peer's.
struct ShmEndpoint {
  std::unique_ptr<shm::Segment> segment;
  bool client = true;  // the client writes Direction::kToServer, whichever side created the segment
  int wake = -1;
  int peer_wake = -1;
  int control = -1;
};

// The server's half of setting up a shared-memory connection, on a freshly accepted Unix stream
// socket: makes the segment (two rings of `ring_bytes`) and both eventfds, and sends them to the
// client. The server only ever maps memory it made itself, so a client cannot choose what it
// maps, how large, or take it away. The message is small and the socket new, so the send does not
// block. On success `out` holds everything, `sock` as its control socket; on failure `sock` is
// still the caller's and `error` says why.
bool offer_shm(int sock, size_t ring_bytes, ShmEndpoint& out, std::string* error);

// A connected stream owned by a loop: a socket (TCP, Unix), or a shared-memory connection whose
// bytes go through rings instead of the kernel (add_shm_stream); handlers cannot tell them apart.
class Stream {
 public:
  ~Stream();
  // Above this many queued bytes the stream counts as congested; on_drained() fires when the
  // queue empties again.
  static constexpr size_t kHighWater = 4u << 20;

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Queues a message; it goes out at the end of this loop iteration. Dropped if the stream is
  // closing.
  void send(xdr::OutMessage&& m);
  // Stops reading; discards what is queued; on_closed(s, 0) follows from the loop.
  void close();
  // Stops reading; sends what is queued, then closes.
  void close_after_flush();
  void pause_reading();
  void resume_reading();
  bool reading_paused() const noexcept { return paused_; }
  bool closing() const noexcept { return closing_; }
  size_t queued_bytes() const noexcept { return queued_bytes_; }
  bool congested() const noexcept { return queued_bytes_ > kHighWater; }
  const SockAddr& peer() const noexcept { return peer_; }
  int fd() const noexcept { return fd_; }
  EventLoop& loop() const noexcept { return *loop_; }

  void* user = nullptr;  // for the handler

 private:
  friend class EventLoop;
  friend class UringLoop;
  friend class EpollLoop;
  Stream() = default;

  // Fills iov_ from the queue (at most kMaxIov entries) and returns how many.
  size_t build_iov();
  // Drops `n` sent bytes from the front of the queue; messages sent in full are moved to `keep`
  // when given (a zero-copy send pins them until the kernel's notification).
  void consume(size_t n, std::vector<xdr::OutMessage>* keep = nullptr);

  static constexpr size_t kMaxIov = 256;
  static constexpr size_t kCoalesceMax = 2048;

  struct Shm;                        // event_loop.cc
  int shm_wake_fd() const noexcept;  // the eventfd a shared-memory stream sleeps on

  EventLoop* loop_ = nullptr;
  StreamHandler* handler_ = nullptr;
  int fd_ = -1;  // for a shared-memory stream, its control socket
  std::unique_ptr<Shm> shm_;
  uint32_t index_ = 0;
  uint32_t gen_ = 0;
  SockAddr peer_;
  std::vector<xdr::OutMessage> queue_;
  size_t queue_head_ = 0;
  size_t head_offset_ = 0;  // bytes of queue_[queue_head_] already sent
  size_t queued_bytes_ = 0;
  std::vector<iovec> iov_;
  std::vector<xdr::OutMessage> zc_hold_;  // sent by SENDMSG_ZC, pinned until the notification
  msghdr msg_{};
  int close_err_ = 0;
  uint8_t ops_ = 0;  // io_uring operations in flight that reference this stream
  bool connecting_ = false;
  bool paused_ = false;
  bool closing_ = false;
  bool flush_then_close_ = false;
  bool in_dirty_ = false;
  bool in_closing_ = false;
  bool close_begun_ = false;
  bool recv_armed_ = false;
  bool send_inflight_ = false;  // for zero-copy sends: until the notification
  bool zc_inflight_ = false;
  bool starved_ = false;
  bool was_congested_ = false;
  bool eof_ = false;
  bool epoll_out_ = false;  // epoll: EPOLLOUT is registered
  bool epoll_in_ = false;   // epoll: EPOLLIN is registered
  bool in_shm_pending_ = false;
  bool shm_sent_now_ = false;       // this iteration sent a message straight into the ring
  bool shm_wake_armed_ = false;     // the backend watches the eventfd
  bool shm_control_armed_ = false;  // the backend watches the control socket
};

class Listener {
 public:
  int fd() const noexcept { return fd_; }

 private:
  friend class EventLoop;
  friend class UringLoop;
  friend class EpollLoop;
  AcceptHandler* handler_ = nullptr;
  int fd_ = -1;
  uint32_t index_ = 0;
  bool armed_ = false;
  bool closing_ = false;
};

class Datagram {
 public:
  // Sends one datagram now (datagrams are independent; there is nothing to batch in order).
  // Returns false, and counts a drop, when the kernel refuses it (EAGAIN included).
  bool send_to(const xdr::OutMessage& m, const SockAddr& to);
  int fd() const noexcept { return fd_; }
  EventLoop& loop() const noexcept { return *loop_; }
  void* user = nullptr;

 private:
  friend class EventLoop;
  friend class UringLoop;
  friend class EpollLoop;
  EventLoop* loop_ = nullptr;
  DatagramHandler* handler_ = nullptr;
  int fd_ = -1;
  uint32_t index_ = 0;
  bool armed_ = false;
  bool closing_ = false;
};

class EventLoop {
 public:
  // Makes a loop for the calling thread. With Backend::kAuto, io_uring when the kernel allows it,
  // else epoll with one log line. nullptr (and `error`) when the requested backend cannot start.
  static std::unique_ptr<EventLoop> create(const LoopOptions& options = {},
                                           std::string* error = nullptr);

  virtual ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  virtual Backend backend() const noexcept = 0;
  // "io_uring (single_issuer, defer_taskrun)", "epoll": for logs and benchmark reports.
  virtual std::string describe() const = 0;

  // Adopts a connected, non-blocking stream socket.
  Stream* add_stream(int fd, StreamHandler& h, const SockAddr& peer);
  // Adopts a shared-memory connection, and everything in `e` with it; nullptr (and all of `e`
  // closed) when `e` lacks a part.
  Stream* add_shm_stream(ShmEndpoint e, StreamHandler& h);
  // Connects to `to`; on_connected() reports the outcome. nullptr and `error` when the socket
  // cannot even be created.
  Stream* connect(const SockAddr& to, StreamHandler& h, IoError& error);
  // Connects to a server's shared-memory endpoint, the Unix socket `path`: the server answers with
  // the segment (offer_shm), and on_connected() reports the outcome as for connect(), EPROTO when
  // the answer is not a valid offer or its rings are larger than `max_ring_bytes`. Sends made
  // before then wait in the queue. The loop is never blocked for the answer.
  Stream* connect_shm(const SockAddr& path, StreamHandler& h, size_t max_ring_bytes,
                      IoError& error);
  // Adopts a listening socket; accepted connections go to `h`.
  Listener* add_listener(int fd, AcceptHandler& h);
  void close_listener(Listener* l);
  Datagram* add_datagram(int fd, DatagramHandler& h);
  void close_datagram(Datagram* d);

  void arm(Timer& t, TimePoint when);
  void arm_after(Timer& t, Duration d) { arm(t, now() + d); }
  void disarm(Timer& t) noexcept;
  // Runs d.run_deferred() at the end of this iteration (once, however often it is deferred).
  void defer(Deferred& d);
  void cancel(Deferred& d) noexcept;

  // Runs `fn` on the loop thread soon. Any thread.
  void post(std::function<void()> fn);
  // Makes run()/run_once() return at the end of the current iteration. Any thread.
  void stop();
  bool stopping() const noexcept { return stop_.load(std::memory_order_relaxed); }
  // Runs until stop().
  void run();
  // One iteration: waits at most `max_wait` for something to happen, handles it.
  void run_once(Duration max_wait);
  bool in_loop_thread() const noexcept { return std::this_thread::get_id() == owner_; }
  // Closes every stream, listener and datagram socket (handlers are told, as for any close),
  // runs what other threads posted, and keeps iterating until nothing is left or `limit` has
  // passed. For an orderly end of a loop whose handlers must see their on_closed().
  void drain(Duration limit);

  // The time this iteration's wait returned (handlers see when their event was picked up, not
  // when the loop went to sleep); timers due by then run in this iteration. Cheap: per-call
  // timestamps should use it rather than Clock::now().
  TimePoint now() const noexcept { return now_; }
  // now() while the loop dispatches events (in a handler, a timer, a posted task), else a fresh
  // clock read: for times that must not be stale by however long the loop was left alone (a
  // call's deadline made from the program's main line), at no cost in the busy case.
  TimePoint approx_now() const noexcept { return dispatching_ ? now_ : Clock::now(); }
  BufferPool& send_pool() noexcept { return send_pool_; }
  BufferPool& recv_pool() noexcept { return recv_pool_; }
  const LoopOptions& options() const noexcept { return options_; }
  const LoopStats& stats() const noexcept { return stats_; }
  size_t stream_count() const noexcept { return stream_count_; }
  // Loop-wide read switch, for a memory budget: while off, streams are not read (buffers already
  // delivered are unaffected). Listening continues.
  void set_reading(bool on);
  bool reading() const noexcept { return reading_; }
  // Receive buffers lent to the kernel and still empty (io_uring's provided-buffer ring): part
  // of recv_pool().buffers_in_use(), but holding no data.
  virtual size_t recv_buffers_in_kernel() const noexcept { return 0; }

 protected:
  explicit EventLoop(const LoopOptions& options);

  // Backend primitives.
  virtual void start_stream(Stream& s) = 0;  // begin reading (or wait for connect)
  virtual void start_listener(Listener& l) = 0;
  virtual void start_datagram(Datagram& d) = 0;
  virtual void stop_reading(Stream& s) = 0;     // pause, or closing
  virtual void restart_reading(Stream& s) = 0;  // resume after a pause or starvation
  virtual void flush(Stream& s) = 0;            // send (some of) what is queued
  virtual void begin_close(Stream& s) = 0;      // cancel operations; finish_close when none left
  virtual void begin_close(Listener& l) = 0;
  virtual void begin_close(Datagram& d) = 0;
  virtual void wait(Duration timeout) = 0;  // waits and dispatches events
  // Submits what is queued and looks for events without sleeping: true when some are ready
  // (the next wait() takes them without a system call to wait for).
  virtual bool poll_ready() = 0;
  // Shared-memory streams: watch (and stop watching) the eventfd and the control socket. A
  // stream still waiting for its offer has no eventfd yet: only the socket is watched, and
  // watch_shm() is called again once the offer has come (it watches what is not watched yet).
  virtual void watch_shm(Stream& s) = 0;
  virtual void unwatch_shm(Stream& s) = 0;
  virtual void wake_backend() = 0;  // makes wait() return; any thread
  virtual void refill() {}          // return released receive buffers to the kernel

  // Called by backends.
  void woke() noexcept {  // right after the kernel's wait returns
    now_ = Clock::now();
    dispatching_ = true;
  }
  void deliver(Stream& s, std::span<const uint8_t> data, const Buffer& owner);
  void deliver_eof(Stream& s);
  void fail(Stream& s, int err);  // the stream broke: close it with this errno
  void sent(Stream& s, size_t n, std::vector<xdr::OutMessage>* keep = nullptr);  // n bytes went out
  void send_done(Stream& s);  // a send (and its notification) finished: flush or close next
  void connected(Stream& s, int err);
  void read_datagrams(Datagram& d);  // nonblocking recvmsg until EAGAIN (bounded)
  void drain_wakeups();
  void shm_wake(Stream& s);      // the stream's eventfd fired
  void shm_control(Stream& s);   // its control socket is readable: the peer went, or misbehaves,
                                 // or (connect_shm) the server's offer has come
  bool finish_close(Stream& s);  // when no operation is in flight: close fd, notify, free
  void finish_close(Listener& l);
  void finish_close(Datagram& d);
  Stream* stream_at(uint32_t index, uint32_t gen) noexcept {
    if (index >= streams_.size()) return nullptr;
    Stream* s = streams_[index].get();
    return (s != nullptr && s->gen_ == gen) ? s : nullptr;
  }
  Listener* listener_at(uint32_t index) noexcept {
    return index < listeners_.size() ? listeners_[index].get() : nullptr;
  }
  Datagram* datagram_at(uint32_t index) noexcept {
    return index < datagrams_.size() ? datagrams_[index].get() : nullptr;
  }
  void mark_dirty(Stream& s);
  void mark_closing(Stream& s);
  void starve(Stream& s);  // no receive buffer: retry when one comes back
  // Acquires a receive buffer within max_recv_buffers.
  Buffer acquire_recv() noexcept;

  LoopOptions options_;
  LoopStats stats_;
  BufferPool recv_pool_;
  BufferPool send_pool_;
  int wake_fd_ = -1;  // eventfd
  std::atomic<bool> wake_pending_{false};
  std::vector<Stream*> starved_;
  std::vector<Deferred*> deferred_;

 private:
  friend class Stream;
  friend class Datagram;
  friend class Timer;

  struct TimerEntry {
    TimePoint when;
    uint64_t seq;
    Timer* timer;
  };
  static bool later(const TimerEntry& a, const TimerEntry& b) noexcept {
    return a.when > b.when || (a.when == b.when && a.seq > b.seq);
  }
  void forget(Timer& t) noexcept;
  Stream* new_stream(int fd, StreamHandler& h, const SockAddr& peer, bool connecting,
                     std::unique_ptr<Stream::Shm> shm = nullptr);
  void run_timers();
  void run_posted();
  // The idle poll before a wait of at most `max_wait` (and not past `next_timer`): true when
  // events were found.
  bool poll_before_sleeping(Duration max_wait, TimePoint next_timer);
  void end_iteration();
  void retry_starved();
  // Shared-memory streams: read the ring into receive buffers (bounded per call; the rest waits
  // on shm_pending_), write the queue into the other ring, and, just before the loop sleeps,
  // ask every idle one's peer to signal (false: one had bytes meanwhile, do not sleep).
  void shm_read(Stream& s);
  void shm_flush(Stream& s);
  // Stream::send() on a ring with nothing queued: writes `m` now when it fits (true; or the
  // ring broke, and the stream is failing), false to queue it.
  bool shm_send_now(Stream& s, const xdr::OutMessage& m);
  bool shm_arm_sleep();
  void shm_pend(Stream& s);
  void shm_signal(Stream& s);
  void shm_accept_offer(Stream& s);  // connect_shm: the control socket became readable

  std::thread::id owner_;
  TimePoint now_;
  bool dispatching_ = false;  // between woke() and the end of the iteration
  std::atomic<bool> stop_{false};
  bool reading_ = true;
  bool polling_ = true;  // idle_poll is on: the last poll found events, or the last sleep was short
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<uint32_t> free_streams_;
  uint32_t next_gen_ = 0;
  size_t stream_count_ = 0;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Datagram>> datagrams_;
  std::vector<Stream*> dirty_;
  std::vector<Stream*> shm_streams_;
  std::vector<Stream*> shm_pending_;
  std::vector<Stream*> shm_running_;
  std::vector<Stream*> closing_;
  std::vector<Stream*> retry_;
  std::vector<TimerEntry> timers_;
  uint64_t timer_seq_ = 0;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mu_
  std::vector<std::function<void()>> running_;
};

}  // namespace ringrpc::transport
