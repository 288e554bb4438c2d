#include "transport/event_loop.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "codec/check.h"
#include "transport/loop_backends.h"

namespace ringrpc::transport {

const char* to_string(Backend b) noexcept {
  switch (b) {
    case Backend::kAuto:
      return "auto";
    case Backend::kIoUring:
      return "io_uring";
    case Backend::kEpoll:
      return "epoll";
  }
  return "?";
}

bool parse_backend(std::string_view s, Backend& out) noexcept {
  if (s == "auto") {
    out = Backend::kAuto;
  } else if (s == "io_uring" || s == "uring" || s == "iouring") {
    out = Backend::kIoUring;
  } else if (s == "epoll") {
    out = Backend::kEpoll;
  } else {
    return false;
  }
  return true;
}

std::unique_ptr<EventLoop> EventLoop::create(const LoopOptions& options, std::string* error) {
  std::string why;
  if (options.backend != Backend::kEpoll) {
    std::unique_ptr<EventLoop> loop = make_uring_loop(options, why);
    if (loop) return loop;
    if (options.backend == Backend::kIoUring) {
      if (error) *error = "io_uring is unavailable: " + why;
      return nullptr;
    }
  }
  std::string epoll_why;
  std::unique_ptr<EventLoop> loop = make_epoll_loop(options, epoll_why);
  if (!loop) {
    if (error) *error = "epoll is unavailable: " + epoll_why;
    return nullptr;
  }
  if (loop && options.backend == Backend::kAuto && options.log_fallback) {
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      std::fprintf(stderr, "ringrpc: io_uring unavailable (%s); using epoll\n", why.c_str());
    }
  }
  return loop;
}

EventLoop::EventLoop(const LoopOptions& options)
    : options_(options),
      recv_pool_(BufferPool::Options{options.recv_buffer_size, 16, 0}),
      send_pool_(BufferPool::Options{options.send_buffer_size, 16, 0}),
      owner_(std::this_thread::get_id()),
      now_(Clock::now()) {
  if (options_.max_recv_buffers == 0) options_.max_recv_buffers = 4 * options_.recv_buffers;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  RINGRPC_CHECK(wake_fd_ >= 0, "eventfd failed");
}

EventLoop::~EventLoop() {
  // The backend's destructor has already cancelled every operation; close what is left without
  // callbacks (the handlers may be gone).
  for (auto& s : streams_) {
    if (s && s->fd_ >= 0) ::close(s->fd_);
  }
  for (auto& l : listeners_) {
    if (l && l->fd_ >= 0) ::close(l->fd_);
  }
  for (auto& d : datagrams_) {
    if (d && d->fd_ >= 0) ::close(d->fd_);
  }
  for (const TimerEntry& e : timers_) {
    if (e.timer->seq_ == e.seq) {
      e.timer->seq_ = 0;
      e.timer->loop_ = nullptr;
    }
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Timer::~Timer() {
  if (loop_ != nullptr) loop_->forget(*this);
}

void StreamHandler::on_eof(Stream& s) { s.close_after_flush(); }

// What a shared-memory stream holds beyond a socket's: the mapping, its two ends, the eventfds.
struct Stream::Shm {
  std::unique_ptr<shm::Segment> segment;
  shm::Producer out;
  shm::Consumer in;
  int wake = -1;
  int peer_wake = -1;
  size_t max_ring_bytes = 0;  // connect_shm: the largest rings the server may offer
  ~Shm() {
    if (wake >= 0) ::close(wake);
    if (peer_wake >= 0) ::close(peer_wake);
  }
};

Stream::~Stream() = default;
int Stream::shm_wake_fd() const noexcept { return shm_ ? shm_->wake : -1; }

// --- Stream -----------------------------------------------------------------------------------

void Stream::send(xdr::OutMessage&& m) {
  if (closing_ || m.size() == 0) return;
  // A ring needs no system call to amortise: the first message of an iteration goes into the
  // ring now, and the peer (polling, or signalled) sees it before this iteration ends. The
  // others are queued and published together at its end: one message at a time would have the
  // peer take the ring's index line once per message under pipelined load.
  if (shm_ && !shm_sent_now_ && queued_bytes_ == 0 && !connecting_ &&
      loop_->shm_send_now(*this, m)) {
    m.clear();
    return;
  }
  queued_bytes_ += m.size();
  // Small messages queued in one iteration share a buffer (and an iovec): copying a few dozen
  // bytes is cheaper than another iovec, and holds fewer buffers until the send completes.
  if (m.size() <= kCoalesceMax && queue_.size() > queue_head_ && queue_.back().absorb(m)) {
    m.clear();
  } else {
    queue_.push_back(std::move(m));
  }
  loop_->mark_dirty(*this);
}

void Stream::close() {
  if (closing_) return;
  closing_ = true;
  loop_->mark_closing(*this);
}

void Stream::close_after_flush() {
  if (closing_ || flush_then_close_) return;
  flush_then_close_ = true;
  pause_reading();
  if (queued_bytes_ == 0 && !send_inflight_) close();
}

void Stream::pause_reading() {
  if (paused_ || closing_) return;
  paused_ = true;
  if (!shm_) loop_->stop_reading(*this);  // a ring is simply not read while paused
}

void Stream::resume_reading() {
  if (!paused_ || closing_ || flush_then_close_) return;
  paused_ = false;
  if (shm_) {
    loop_->shm_pend(*this);
  } else if (!connecting_ && loop_->reading()) {
    loop_->restart_reading(*this);
  }
}

size_t Stream::build_iov() {
  iov_.clear();
  size_t skip = head_offset_;
  for (size_t i = queue_head_; i < queue_.size() && iov_.size() < kMaxIov; ++i) {
    for (const iovec& v : queue_[i].iov()) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      iov_.push_back({static_cast<uint8_t*>(v.iov_base) + skip, v.iov_len - skip});
      skip = 0;
      if (iov_.size() == kMaxIov) break;
    }
  }
  return iov_.size();
}

void Stream::consume(size_t n, std::vector<xdr::OutMessage>* keep) {
  queued_bytes_ -= n;
  n += head_offset_;
  while (queue_head_ < queue_.size() && n >= queue_[queue_head_].size()) {
    n -= queue_[queue_head_].size();
    if (keep != nullptr) {
      keep->push_back(std::move(queue_[queue_head_]));
    } else {
      queue_[queue_head_].clear();
    }
    ++queue_head_;
  }
  head_offset_ = n;
  if (queue_head_ == queue_.size()) {
    queue_.clear();  // keeps its capacity: no allocation next time
    queue_head_ = 0;
    head_offset_ = 0;
  } else if (queue_head_ > 64 && queue_head_ * 2 > queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
}

// --- Datagram ---------------------------------------------------------------------------------

bool Datagram::send_to(const xdr::OutMessage& m, const SockAddr& to) {
  const std::span<const iovec> iov = m.iov();
  msghdr h{};
  h.msg_name = const_cast<sockaddr*>(to.get());
  h.msg_namelen = to.len();
  h.msg_iov = const_cast<iovec*>(iov.data());
  h.msg_iovlen = iov.size();
  const ssize_t n = ::sendmsg(fd_, &h, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    ++loop_->stats_.datagrams_dropped;
    return false;
  }
  ++loop_->stats_.send_calls;
  loop_->stats_.bytes_sent += static_cast<uint64_t>(n);
  return true;
}

// --- EventLoop: objects -----------------------------------------------------------------------

Stream* EventLoop::new_stream(int fd, StreamHandler& h, const SockAddr& peer, bool connecting,
                              std::unique_ptr<Stream::Shm> shm) {
  uint32_t index;
  if (!free_streams_.empty()) {
    index = free_streams_.back();
    free_streams_.pop_back();
  } else {
    index = static_cast<uint32_t>(streams_.size());
    streams_.emplace_back();
  }
  // A fresh object per connection keeps nothing of the slot's previous one; the generation
  // (24 bits, never 0) tells a completion for the old one from one for the new.
  next_gen_ = (next_gen_ + 1) & 0xffffff;
  if (next_gen_ == 0) next_gen_ = 1;
  std::unique_ptr<Stream> s(new Stream());
  s->loop_ = this;
  s->handler_ = &h;
  s->fd_ = fd;
  s->index_ = index;
  s->gen_ = next_gen_;
  s->peer_ = peer;
  s->connecting_ = connecting;
  s->shm_ = std::move(shm);
  Stream* raw = s.get();
  streams_[index] = std::move(s);
  ++stream_count_;
  if (raw->shm_) {
    shm_streams_.push_back(raw);
    watch_shm(*raw);
    shm_pend(*raw);  // the peer may have written before we watched
  } else {
    start_stream(*raw);
  }
  return raw;
}

Stream* EventLoop::add_stream(int fd, StreamHandler& h, const SockAddr& peer) {
  return new_stream(fd, h, peer, false);
}

Stream* EventLoop::add_shm_stream(ShmEndpoint e, StreamHandler& h) {
  auto m = std::make_unique<Stream::Shm>();
  m->wake = e.wake;
  m->peer_wake = e.peer_wake;
  if (!e.segment || e.wake < 0 || e.peer_wake < 0 || e.control < 0) {
    if (e.control >= 0) ::close(e.control);
    return nullptr;  // `m` closes the eventfds
  }
  // Signalling and draining must never block the loop, nor reading the control socket.
  for (int fd : {e.wake, e.peer_wake, e.control}) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  }
  const shm::Direction out = e.client ? shm::Direction::kToServer : shm::Direction::kToClient;
  const shm::Direction in = e.client ? shm::Direction::kToClient : shm::Direction::kToServer;
  m->out = e.segment->producer(out);
  m->in = e.segment->consumer(in);
  m->segment = std::move(e.segment);
  SockAddr peer;
  socklen_t len = SockAddr::capacity();
  if (::getpeername(e.control, peer.get_mut(), &len) == 0) peer.set_len(len);
  return new_stream(e.control, h, peer, false, std::move(m));
}

Stream* EventLoop::connect_shm(const SockAddr& path, StreamHandler& h, size_t max_ring_bytes,
                               IoError& error) {
  bool in_progress = false;
  // A Unix stream connect completes at once or fails (EAGAIN: the server's backlog is full).
  const int fd = connect_stream(path, in_progress, error);
  if (fd < 0) return nullptr;
  auto m = std::make_unique<Stream::Shm>();
  m->max_ring_bytes = max_ring_bytes;
  // No segment yet: the stream is "connecting" until the offer arrives on the socket.
  return new_stream(fd, h, path, true, std::move(m));
}

bool offer_shm(int sock, size_t ring_bytes, ShmEndpoint& out, std::string* error) {
  std::unique_ptr<shm::Segment> seg = shm::Segment::create(ring_bytes, error);
  if (!seg) return false;
  const int client_wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int server_wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto close_both = [&] {
    if (client_wake >= 0) ::close(client_wake);
    if (server_wake >= 0) ::close(server_wake);
  };
  if (client_wake < 0 || server_wake < 0) {
    if (error) *error = std::string("eventfd: ") + std::strerror(errno);
    close_both();
    return false;
  }
  if (!shm::send_handoff(sock, {seg->fd(), client_wake, server_wake}, error)) {
    close_both();
    return false;
  }
  // The client has its own copies now; ours of its eventfd is the one we signal.
  out.segment = std::move(seg);
  out.client = false;
  out.wake = server_wake;
  out.peer_wake = client_wake;
  out.control = sock;
  return true;
}

Stream* EventLoop::connect(const SockAddr& to, StreamHandler& h, IoError& error) {
  bool in_progress = false;
  const int fd = connect_stream(to, in_progress, error);
  if (fd < 0) return nullptr;
  // Even a connect that finished at once is reported through on_connected() from the loop, so
  // callers have one code path.
  return new_stream(fd, h, to, true);
}

Listener* EventLoop::add_listener(int fd, AcceptHandler& h) {
  auto l = std::make_unique<Listener>();
  l->handler_ = &h;
  l->fd_ = fd;
  l->index_ = static_cast<uint32_t>(listeners_.size());
  Listener* raw = l.get();
  listeners_.push_back(std::move(l));
  start_listener(*raw);
  return raw;
}

void EventLoop::close_listener(Listener* l) {
  if (l == nullptr || l->closing_) return;
  l->closing_ = true;
  begin_close(*l);
}

void EventLoop::finish_close(Listener& l) {
  ::close(l.fd_);
  l.fd_ = -1;
  // The slot stays (empty) so indices of other listeners stay valid.
  for (auto& p : listeners_) {
    if (p.get() == &l) p.reset();
  }
}

Datagram* EventLoop::add_datagram(int fd, DatagramHandler& h) {
  auto d = std::make_unique<Datagram>();
  d->loop_ = this;
  d->handler_ = &h;
  d->fd_ = fd;
  d->index_ = static_cast<uint32_t>(datagrams_.size());
  Datagram* raw = d.get();
  datagrams_.push_back(std::move(d));
  start_datagram(*raw);
  return raw;
}

void EventLoop::close_datagram(Datagram* d) {
  if (d == nullptr || d->closing_) return;
  d->closing_ = true;
  begin_close(*d);
}

void EventLoop::finish_close(Datagram& d) {
  ::close(d.fd_);
  d.fd_ = -1;
  for (auto& p : datagrams_) {
    if (p.get() == &d) p.reset();
  }
}

void EventLoop::mark_dirty(Stream& s) {
  if (!s.in_dirty_) {
    s.in_dirty_ = true;
    dirty_.push_back(&s);
  }
}

void EventLoop::mark_closing(Stream& s) {
  if (!s.in_closing_) {
    s.in_closing_ = true;
    closing_.push_back(&s);
  }
}

void EventLoop::starve(Stream& s) {
  if (!s.starved_) {
    s.starved_ = true;
    ++stats_.recv_starved;
    starved_.push_back(&s);
  }
}

Buffer EventLoop::acquire_recv() noexcept {
  if (recv_pool_.buffers_in_use() >= options_.max_recv_buffers) return Buffer();
  return recv_pool_.acquire();
}

void EventLoop::set_reading(bool on) {
  if (on == reading_) return;
  reading_ = on;
  for (auto& p : streams_) {
    Stream* s = p.get();
    if (s == nullptr || s->closing_ || s->paused_ || s->connecting_) continue;
    if (s->shm_) {
      if (on) shm_pend(*s);
    } else if (on) {
      restart_reading(*s);
    } else {
      stop_reading(*s);
    }
  }
}

// --- EventLoop: events from backends ------------------------------------------------------------

void EventLoop::deliver(Stream& s, std::span<const uint8_t> data, const Buffer& owner) {
  ++stats_.recv_calls;
  stats_.bytes_received += data.size();
  if (s.closing_) return;
  s.handler_->on_data(s, data, owner);
}

void EventLoop::deliver_eof(Stream& s) {
  if (s.closing_ || s.eof_) return;
  s.eof_ = true;
  s.handler_->on_eof(s);
}

void EventLoop::fail(Stream& s, int err) {
  if (s.close_err_ == 0) s.close_err_ = err;
  s.close();
}

void EventLoop::sent(Stream& s, size_t n, std::vector<xdr::OutMessage>* keep) {
  ++stats_.send_calls;
  stats_.bytes_sent += n;
  if (s.queued_bytes_ > Stream::kHighWater) s.was_congested_ = true;
  s.consume(n, keep);
  if (s.queued_bytes_ == 0) {
    if (s.was_congested_) {
      s.was_congested_ = false;
      if (!s.closing_) s.handler_->on_drained(s);
    }
    if (s.flush_then_close_ && !s.send_inflight_) s.close();
  } else if (!s.closing_) {
    mark_dirty(s);
  }
}

void EventLoop::send_done(Stream& s) {
  if (s.closing_) return;
  if (s.queued_bytes_ != 0) {
    mark_dirty(s);
  } else if (s.flush_then_close_) {
    s.close();
  }
}

void EventLoop::connected(Stream& s, int err) {
  s.connecting_ = false;
  if (s.closing_) return;
  s.handler_->on_connected(s, err);
  if (err != 0) {
    fail(s, err);
    return;
  }
  if (s.closing_) return;
  if (s.shm_) {
    shm_pend(s);  // the server may have written already
  } else if (!s.paused_ && reading_) {
    restart_reading(s);
  }
  if (s.queued_bytes_ != 0) mark_dirty(s);
}

void EventLoop::read_datagrams(Datagram& d) {
  // Bounded per wake-up, so one busy socket cannot starve the rest of the loop.
  for (int i = 0; i < 64 && !d.closing_; ++i) {
    Buffer b = acquire_recv();
    if (!b) {
      ++stats_.recv_starved;
      break;
    }
    SockAddr from;
    iovec v{b.data(), b.capacity()};
    msghdr h{};
    h.msg_name = from.get_mut();
    h.msg_namelen = SockAddr::capacity();
    h.msg_iov = &v;
    h.msg_iovlen = 1;
    const ssize_t n = ::recvmsg(d.fd_, &h, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) break;  // EAGAIN, or an error the next datagram will show again
    from.set_len(h.msg_namelen);
    const bool truncated = (h.msg_flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) > b.capacity();
    const size_t len = std::min(static_cast<size_t>(n), b.capacity());
    ++stats_.recv_calls;
    stats_.bytes_received += len;
    d.handler_->on_datagram(d, {b.data(), len}, from, truncated, b);
  }
}

void EventLoop::drain_wakeups() {
  uint64_t v;
  while (::read(wake_fd_, &v, sizeof v) > 0) {
  }
}

// --- EventLoop: shared-memory streams --------------------------------------------------------

void EventLoop::shm_pend(Stream& s) {
  if (!s.in_shm_pending_ && !s.closing_) {
    s.in_shm_pending_ = true;
    shm_pending_.push_back(&s);
  }
}

void EventLoop::shm_signal(Stream& s) {
  const uint64_t one = 1;
  // EAGAIN means the counter is saturated: the peer has a signal pending anyway.
  [[maybe_unused]] const ssize_t n = ::write(s.shm_->peer_wake, &one, sizeof one);
}

void EventLoop::shm_read(Stream& s) {
  Stream::Shm& m = *s.shm_;
  if (s.closing_ || s.eof_ || s.paused_ || s.connecting_ || !reading_) return;
  // Bounded like a socket's receive: one busy ring cannot starve the loop's other work.
  for (int i = 0; i < 16; ++i) {
    const size_t n = m.in.available();
    if (m.in.error() != shm::RingError::kNone) {
      fail(s, EPROTO);
      return;
    }
    if (n == 0) return;
    Buffer b = acquire_recv();
    if (!b) {
      starve(s);
      return;
    }
    const size_t k = m.in.read({b.data(), b.capacity()});
    if (m.in.producer_needs_wake()) shm_signal(s);
    deliver(s, {b.data(), k}, b);
    if (s.closing_ || s.paused_ || s.eof_) return;
  }
  shm_pend(s);
}

bool EventLoop::shm_send_now(Stream& s, const xdr::OutMessage& m) {
  Stream::Shm& m_ = *s.shm_;
  if (m_.out.space() < m.size()) return false;  // all or nothing: the rest waits in the queue
  const size_t w = m_.out.write(m.iov());
  if (m_.out.error() != shm::RingError::kNone) {
    fail(s, EPROTO);
    return true;
  }
  ++stats_.send_calls;
  stats_.bytes_sent += w;
  if (m_.out.consumer_needs_wake()) shm_signal(s);
  s.shm_sent_now_ = true;
  mark_dirty(s);  // the end of the iteration clears shm_sent_now_
  return true;
}

void EventLoop::shm_flush(Stream& s) {
  Stream::Shm& m = *s.shm_;
  while (s.queued_bytes_ != 0 && !s.closing_) {
    const size_t n = s.build_iov();
    const size_t w = m.out.write({s.iov_.data(), n});
    if (m.out.error() != shm::RingError::kNone) {
      fail(s, EPROTO);
      return;
    }
    if (w == 0) {
      // Full: the peer signals once it has read a good part of it (our eventfd; shm_wake marks
      // the stream dirty again). Unless it already has.
      if (m.out.prepare_wait_for_space(std::min(s.queued_bytes_, m.segment->ring_bytes() / 4))) {
        continue;
      }
      break;
    }
    sent(s, w);
  }
  if (m.out.consumer_needs_wake()) shm_signal(s);
}

bool EventLoop::shm_arm_sleep() {
  bool sleep = true;
  for (Stream* s : shm_streams_) {
    if (s->closing_ || s->eof_ || s->paused_ || s->connecting_ || !reading_) continue;
    if (s->shm_->in.prepare_sleep()) {  // bytes came in meanwhile (or the ring broke)
      shm_pend(*s);
      sleep = false;
    }
  }
  return sleep;
}

void EventLoop::shm_wake(Stream& s) {
  uint64_t v;
  while (::read(s.shm_->wake, &v, sizeof v) > 0) {
  }
  if (s.closing_) return;
  shm_pend(s);
  if (s.queued_bytes_ != 0) mark_dirty(s);  // the peer may have made room
}

void EventLoop::shm_accept_offer(Stream& s) {
  Stream::Shm& m = *s.shm_;
  uint8_t b;
  const ssize_t n = ::recv(s.fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // The server closed without an offer (it is shutting down, or refused us).
    connected(s, n < 0 ? errno : ECONNRESET);
    return;
  }
  shm::Handoff h;
  std::string why;
  if (!shm::receive_handoff(s.fd_, h, &why)) {
    connected(s, EPROTO);
    return;
  }
  m.segment = shm::Segment::attach(h.memfd, m.max_ring_bytes, &why);
  m.wake = h.client_wake;
  m.peer_wake = h.server_wake;
  if (!m.segment) {
    connected(s, EPROTO);
    return;
  }
  m.out = m.segment->producer(shm::Direction::kToServer);
  m.in = m.segment->consumer(shm::Direction::kToClient);
  watch_shm(s);  // the eventfd, now that there is one
  if (s.closing_) return;
  connected(s, 0);
}

void EventLoop::shm_control(Stream& s) {
  if (s.closing_ || s.eof_) return;
  if (s.connecting_) {
    shm_accept_offer(s);
    return;
  }
  uint8_t b;
  const ssize_t n = ::recv(s.fd_, &b, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) {
    // Nothing travels on the control socket after the handoff: a peer that writes there is
    // not following the protocol.
    fail(s, EPROTO);
    return;
  }
  const int err = n < 0 ? errno : 0;
  // The peer is gone. What it wrote before it went is still in the ring: deliver that first,
  // as a socket delivers what arrived before the FIN.
  while (!s.closing_ && !s.paused_ && s.shm_->in.available() != 0) {
    const uint64_t before = s.shm_->in.consumed();
    shm_read(s);
    if (s.shm_->in.consumed() == before) break;  // starved of buffers: the rest is lost with it
  }
  if (s.closing_) return;
  if (err != 0) {
    fail(s, err);
  } else {
    deliver_eof(s);
  }
}

bool EventLoop::finish_close(Stream& s) {
  if (s.ops_ != 0) return false;
  if (s.fd_ >= 0) ::close(s.fd_);
  s.fd_ = -1;
  s.queue_.clear();
  const uint32_t index = s.index_;
  std::unique_ptr<Stream> owned = std::move(streams_[index]);
  free_streams_.push_back(index);
  --stream_count_;
  owned->handler_->on_closed(*owned, owned->close_err_);
  return true;
}

// --- EventLoop: timers ------------------------------------------------------------------------

void EventLoop::arm(Timer& t, TimePoint when) {
  RINGRPC_CHECK(t.loop_ == nullptr || t.loop_ == this, "a Timer belongs to one loop");
  t.loop_ = this;
  t.seq_ = ++timer_seq_;
  t.when_ = when;
  timers_.push_back({when, t.seq_, &t});
  std::push_heap(timers_.begin(), timers_.end(), later);
  // Re-arming leaves stale entries behind; drop them before they pile up.
  if (timers_.size() > 4096) {
    std::erase_if(timers_, [](const TimerEntry& e) { return e.timer->seq_ != e.seq; });
    std::make_heap(timers_.begin(), timers_.end(), later);
  }
}

void EventLoop::disarm(Timer& t) noexcept {
  forget(t);
  t.loop_ = nullptr;
}

void EventLoop::forget(Timer& t) noexcept {
  t.seq_ = 0;
  const size_t before = timers_.size();
  std::erase_if(timers_, [&t](const TimerEntry& e) { return e.timer == &t; });
  if (timers_.size() != before) std::make_heap(timers_.begin(), timers_.end(), later);
}

void EventLoop::run_timers() {
  while (!timers_.empty() && timers_.front().when <= now_) {
    std::pop_heap(timers_.begin(), timers_.end(), later);
    const TimerEntry e = timers_.back();
    timers_.pop_back();
    if (e.timer->seq_ != e.seq) continue;
    e.timer->seq_ = 0;
    e.timer->on_timer();
  }
}

// --- EventLoop: cross-thread ------------------------------------------------------------------

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) wake_backend();
}

void EventLoop::stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) wake_backend();
}

void EventLoop::run_posted() {
  // Nothing posted (post() sets the flag after queueing, and wakes the loop if it was clear):
  // no lock taken on an iteration that has nothing to run.
  if (!wake_pending_.load(std::memory_order_acquire)) return;
  wake_pending_.store(false, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    if (posted_.empty()) return;
    running_.swap(posted_);
  }
  for (auto& fn : running_) fn();
  running_.clear();
}

// --- EventLoop: iteration ---------------------------------------------------------------------

void EventLoop::retry_starved() {
  if (starved_.empty() || !reading_) return;
  retry_.swap(starved_);
  for (Stream* s : retry_) {
    s->starved_ = false;
    if (s->closing_ || s->paused_ || s->connecting_) continue;
    if (s->shm_) {
      shm_pend(*s);
    } else {
      restart_reading(*s);
    }
  }
  retry_.clear();
}

void EventLoop::defer(Deferred& d) {
  if (d.queued_) return;
  d.queued_ = true;
  deferred_.push_back(&d);
}

void EventLoop::cancel(Deferred& d) noexcept {
  if (!d.queued_) return;
  d.queued_ = false;
  // Nulled, not erased: end_iteration() may be walking the list.
  std::replace(deferred_.begin(), deferred_.end(), &d, static_cast<Deferred*>(nullptr));
}

void EventLoop::end_iteration() {
  // Rings with bytes left from earlier (a bounded read, a resume, a refilled pool) first: what
  // their handlers queue goes out in this iteration's flush.
  if (!shm_pending_.empty()) {
    shm_running_.swap(shm_pending_);
    for (Stream* s : shm_running_) {
      s->in_shm_pending_ = false;
      if (!s->closing_) shm_read(*s);
    }
    shm_running_.clear();
  }
  // Deferred work first: it queues sends that should leave in this iteration's flush. Work
  // deferred while running deferred work runs too (the index, not an iterator, sees it).
  for (size_t i = 0; i < deferred_.size(); ++i) {
    Deferred* d = deferred_[i];
    if (d == nullptr) continue;
    d->queued_ = false;
    deferred_[i] = nullptr;
    d->run_deferred();
  }
  deferred_.clear();
  // Flushing may complete synchronously (epoll) and close streams, which may mark others dirty.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    Stream* s = dirty_[i];
    s->in_dirty_ = false;
    s->shm_sent_now_ = false;
    if (s->closing_ || s->connecting_ || s->send_inflight_ || s->queued_bytes_ == 0) continue;
    if (s->shm_) {
      shm_flush(*s);
    } else {
      flush(*s);
    }
  }
  dirty_.clear();
  if (!closing_.empty()) {
    std::vector<Stream*> pending;
    pending.swap(closing_);
    for (Stream* s : pending) {
      // A stream leaves the starved list before it can be freed.
      if (s->starved_) {
        std::erase(starved_, s);
        s->starved_ = false;
      }
      if (!s->close_begun_) {
        s->close_begun_ = true;
        if (s->shm_) {
          unwatch_shm(*s);
          std::erase(shm_streams_, s);
          if (s->in_shm_pending_) {
            std::erase(shm_pending_, s);
            s->in_shm_pending_ = false;
          }
        } else {
          begin_close(*s);
        }
      }
      if (!finish_close(*s)) closing_.push_back(s);  // operations still in flight
    }
  }
  refill();
  retry_starved();
}

void EventLoop::run_once(Duration max_wait) {
  const bool poll = options_.idle_poll > Duration::zero();
  bool busy = stop_.load(std::memory_order_relaxed) || !shm_pending_.empty();
  // Polling first, and the timers' part of the timeout only when it comes to sleeping: a busy
  // loop (an event found at the first looks) reads no clock for it.
  if (!busy && poll && max_wait > Duration::zero()) {
    busy =
        poll_before_sleeping(max_wait, timers_.empty() ? TimePoint::max() : timers_.front().when);
  }
  Duration timeout = Duration::zero();
  if (!busy) {
    timeout = max_wait;
    if (!timers_.empty()) {
      const Duration until = timers_.front().when - Clock::now();
      timeout = std::min(timeout, std::max(until, Duration::zero()));
    }
  }
  // Last, just before sleeping: the peers of idle rings must signal from now on.
  if (timeout > Duration::zero() && !shm_streams_.empty() && !shm_arm_sleep()) {
    timeout = Duration::zero();
  }
  if (poll && timeout > Duration::zero()) {
    const TimePoint slept = Clock::now();
    wait(timeout);
    if (now_ - slept < options_.idle_poll) polling_ = true;
  } else {
    wait(timeout);
  }
  // now_ is the time the wait returned (woke()): timers due by then run now, the others next
  // iteration. A second clock read here cost more than the lateness it saves.
  run_timers();
  run_posted();
  end_iteration();
  dispatching_ = false;
  ++stats_.iterations;
}

bool EventLoop::poll_before_sleeping(Duration max_wait, TimePoint next_timer) {
  if (!polling_) return false;
  // sched_yield costs microseconds on a VM (the run-queue lock, a reschedule): yielding between
  // every two looks made a shared-memory round trip 60 us. Looks are cheap (memory reads, and a
  // system call only when io_uring flags work), so yield once per kYieldEvery of looking.
  constexpr auto kYieldEvery = std::chrono::microseconds(5);
  // A look costs a few nanoseconds and a clock read (25 ns here) more than that: the clock is
  // read every few looks, the first time after a few, so an event that is already there (the
  // busy case) is found without reading it at all.
  constexpr unsigned kLooksPerClockRead = 16;
  TimePoint until{};
  TimePoint next_yield{};
  unsigned looks = 0;
  for (;;) {
    bool ring = false;
    for (Stream* s : shm_streams_) {
      if (!s->closing_ && !s->paused_ && !s->eof_ && !s->connecting_ &&
          s->shm_->in.available() != 0) {
        shm_pend(*s);
        ring = true;
      }
    }
    if (ring || poll_ready()) {
      ++stats_.idle_polls;
      return true;
    }
    if (++looks % kLooksPerClockRead != 0) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();  // lets the sibling hyperthread run, and saves power
#endif
      continue;
    }
    const TimePoint t = Clock::now();
    if (looks == kLooksPerClockRead) {
      until = t + std::min(max_wait, options_.idle_poll);
      next_yield = t + kYieldEvery;
    }
    if (t >= next_timer) return false;  // a timer is due: not a poll that found nothing
    if (t >= until) break;
    if (t >= next_yield) {
      sched_yield();
      next_yield = Clock::now() + kYieldEvery;
    }
  }
  polling_ = false;
  ++stats_.idle_poll_misses;
  return false;
}

void EventLoop::drain(Duration limit) {
  const TimePoint deadline = Clock::now() + limit;
  for (;;) {
    run_posted();
    for (auto& p : streams_) {
      if (p && !p->closing_) p->close();
    }
    for (auto& l : listeners_) {
      if (l && !l->closing_) close_listener(l.get());
    }
    for (auto& d : datagrams_) {
      if (d && !d->closing_) close_datagram(d.get());
    }
    end_iteration();
    const bool listeners_left = std::any_of(listeners_.begin(), listeners_.end(),
                                            [](const auto& l) { return l != nullptr; });
    const bool datagrams_left = std::any_of(datagrams_.begin(), datagrams_.end(),
                                            [](const auto& d) { return d != nullptr; });
    bool posted_left;
    {
      std::lock_guard<std::mutex> lock(posted_mu_);
      posted_left = !posted_.empty();
    }
    if ((stream_count_ == 0 && !listeners_left && !datagrams_left && !posted_left) ||
        Clock::now() >= deadline) {
      dispatching_ = false;
      return;
    }
    wait(std::chrono::milliseconds(5));
    now_ = Clock::now();
  }
}

void EventLoop::run() {
  while (!stop_.load(std::memory_order_relaxed)) run_once(std::chrono::seconds(10));
  stop_.store(false, std::memory_order_relaxed);
}

}  // namespace ringrpc::transport
