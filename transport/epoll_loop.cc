// The epoll backend: level-triggered readiness, non-blocking recv/sendmsg. Used where io_uring is
// unavailable, and as the baseline the io_uring backend is measured against.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "transport/loop_backends.h"
#include "transport/user_data.h"

namespace ringrpc::transport {

class EpollLoop final : public EventLoop {
 public:
  EpollLoop(const LoopOptions& options, int epfd) : EventLoop(options), epfd_(epfd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = pack(Op::kWake, 0, 0);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }
  ~EpollLoop() override { ::close(epfd_); }

  Backend backend() const noexcept override { return Backend::kEpoll; }
  std::string describe() const override { return "epoll"; }

 protected:
  void start_stream(Stream& s) override {
    epoll_event ev{};
    ev.data.u64 = pack(Op::kStream, s.gen_, s.index_);
    if (s.connecting_) {
      ev.events = EPOLLOUT;
      s.epoll_out_ = true;
    } else if (reading() && !s.paused_) {
      ev.events = EPOLLIN | EPOLLRDHUP;
      s.epoll_in_ = true;
    }
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, s.fd_, &ev) != 0) fail(s, errno);
  }
  void start_listener(Listener& l) override {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = pack(Op::kAccept, 0, l.index_);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, l.fd_, &ev);
  }
  void start_datagram(Datagram& d) override {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = pack(Op::kDatagram, 0, d.index_);
    epoll_ctl(epfd_, EPOLL_CTL_ADD, d.fd_, &ev);
  }
  void stop_reading(Stream& s) override {
    if (s.epoll_in_) {
      s.epoll_in_ = false;
      update(s);
    }
  }
  void restart_reading(Stream& s) override {
    if (!s.epoll_in_ && !s.connecting_) {
      s.epoll_in_ = true;
      update(s);
    }
  }
  void flush(Stream& s) override {
    // One sendmsg per stream per iteration, or more while the kernel takes everything and
    // there is more than one sendmsg's worth queued.
    while (s.queued_bytes_ != 0 && !s.closing_) {
      const size_t n = s.build_iov();
      msghdr h{};
      h.msg_iov = s.iov_.data();
      h.msg_iovlen = n;
      const ssize_t w = ::sendmsg(s.fd_, &h, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        fail(s, errno);
        return;
      }
      size_t iov_bytes = 0;
      for (size_t i = 0; i < n; ++i) iov_bytes += s.iov_[i].iov_len;
      sent(s, static_cast<size_t>(w));
      if (static_cast<size_t>(w) < iov_bytes) break;  // socket buffer full
    }
    const bool want_out = s.queued_bytes_ != 0 && !s.closing_;
    if (want_out != s.epoll_out_) {
      s.epoll_out_ = want_out;
      update(s);
    }
  }
  void watch_shm(Stream& s) override {
    epoll_event ev{};
    if (!s.shm_wake_armed_ && s.shm_wake_fd() >= 0) {
      ev.events = EPOLLIN;
      ev.data.u64 = pack(Op::kShmWake, s.gen_, s.index_);
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, s.shm_wake_fd(), &ev) != 0) {
        fail(s, errno);
        return;
      }
      s.shm_wake_armed_ = true;
    }
    if (!s.shm_control_armed_) {
      ev.events = EPOLLIN | EPOLLRDHUP;
      ev.data.u64 = pack(Op::kShmControl, s.gen_, s.index_);
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, s.fd_, &ev) != 0) {
        fail(s, errno);
        return;
      }
      s.shm_control_armed_ = true;
    }
  }
  void unwatch_shm(Stream& s) override {
    if (s.shm_wake_armed_) epoll_ctl(epfd_, EPOLL_CTL_DEL, s.shm_wake_fd(), nullptr);
    if (s.shm_control_armed_) epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd_, nullptr);
    s.shm_wake_armed_ = s.shm_control_armed_ = false;
  }

  void begin_close(Stream& s) override {
    if (s.fd_ >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd_, nullptr);
    s.epoll_in_ = s.epoll_out_ = false;
  }
  void begin_close(Listener& l) override {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd_, nullptr);
    finish_close(l);
  }
  void begin_close(Datagram& d) override {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, d.fd_, nullptr);
    finish_close(d);
  }
  void wake_backend() override {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  bool poll_ready() override {
    const int n = epoll_wait(epfd_, events_, kMaxEvents, 0);
    if (n <= 0) return false;
    ready_ = n;
    return true;
  }

  void wait(Duration timeout) override {
    timespec ts{};
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    int n = -1;
    if (ready_ > 0) {  // found by poll_ready(), not yet dispatched
      n = ready_;
      ready_ = 0;
    } else if (have_pwait2_) {
      n = epoll_pwait2(epfd_, events_, kMaxEvents, &ts, nullptr);
      // Kernels before 5.11, and sandboxes that filter it (valgrind 3.19 among them), lack the
      // nanosecond wait: fall back to epoll_wait, rounding the timeout up to a millisecond so
      // a timer is never run early.
      if (n < 0 && errno == ENOSYS) have_pwait2_ = false;
    }
    if (n < 0 && !have_pwait2_) {
      const auto ms = (ns + 999999) / 1000000;
      n = epoll_wait(epfd_, events_, kMaxEvents, static_cast<int>(std::min<int64_t>(ms, INT_MAX)));
    }
    woke();
    for (int i = 0; i < n; ++i) dispatch(events_[i]);
  }

 private:
  static constexpr int kMaxEvents = 256;
  bool have_pwait2_ = true;
  int ready_ = 0;  // events poll_ready() left in events_

  void update(Stream& s) {
    if (s.fd_ < 0 || s.closing_) return;
    epoll_event ev{};
    ev.events = (s.epoll_in_ ? (EPOLLIN | EPOLLRDHUP) : 0u) | (s.epoll_out_ ? EPOLLOUT : 0u);
    ev.data.u64 = pack(Op::kStream, s.gen_, s.index_);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, s.fd_, &ev);
  }

  void dispatch(const epoll_event& ev) {
    const Op op = op_of(ev.data.u64);
    switch (op) {
      case Op::kWake:
        drain_wakeups();
        break;
      case Op::kAccept:
        if (Listener* l = listener_at(index_of(ev.data.u64))) accept_all(*l);
        break;
      case Op::kDatagram:
        if (Datagram* d = datagram_at(index_of(ev.data.u64))) read_datagrams(*d);
        break;
      case Op::kShmWake:
        if (Stream* s = stream_at(index_of(ev.data.u64), gen_of(ev.data.u64))) shm_wake(*s);
        break;
      case Op::kShmControl:
        if (Stream* s = stream_at(index_of(ev.data.u64), gen_of(ev.data.u64))) {
          shm_control(*s);
          // Level-triggered: a control socket at its end would be reported on every wait.
          if (s->eof_ && !s->closing_ && s->shm_control_armed_) {
            epoll_ctl(epfd_, EPOLL_CTL_DEL, s->fd_, nullptr);
            s->shm_control_armed_ = false;
          }
        }
        break;
      case Op::kStream:
        if (Stream* s = stream_at(index_of(ev.data.u64), gen_of(ev.data.u64))) {
          on_stream_event(*s, ev.events);
        }
        break;
      default:
        break;
    }
  }

  void accept_all(Listener& l) {
    for (int i = 0; i < 64 && !l.closing_; ++i) {
      SockAddr peer;
      socklen_t len = SockAddr::capacity();
      const int fd = ::accept4(l.fd_, peer.get_mut(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          l.handler_->on_accept_error(errno);
        }
        return;
      }
      peer.set_len(len);
      l.handler_->on_accept(fd, peer);
    }
  }

  void on_stream_event(Stream& s, uint32_t events) {
    if (s.closing_) return;
    if (s.connecting_) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        s.epoll_out_ = false;
        const int err = connect_result(s.fd_);
        update(s);
        connected(s, err);
      }
      return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_stream(s);
    if ((events & EPOLLOUT) && !s.closing_ && s.queued_bytes_ != 0) flush(s);
  }

  void read_stream(Stream& s) {
    // A few reads per readiness: enough to empty a socket buffer, bounded for fairness.
    for (int i = 0; i < 4 && !s.closing_ && s.epoll_in_; ++i) {
      Buffer b = acquire_recv();
      if (!b) {
        stop_reading(s);
        starve(s);
        return;
      }
      const ssize_t n = ::recv(s.fd_, b.data(), b.capacity(), MSG_DONTWAIT);
      if (n > 0) {
        deliver(s, {b.data(), static_cast<size_t>(n)}, b);
        if (static_cast<size_t>(n) < b.capacity()) return;
        continue;
      }
      if (n == 0) {
        stop_reading(s);
        deliver_eof(s);
        return;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      fail(s, errno);
      return;
    }
  }

  int epfd_;
  epoll_event events_[kMaxEvents];
};

std::unique_ptr<EventLoop> make_epoll_loop(const LoopOptions& options, std::string& why) {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    why = std::string("epoll_create1: ") + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<EpollLoop>(options, epfd);
}

}  // namespace ringrpc::transport
