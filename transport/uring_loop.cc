// The io_uring backend (liburing 2.3 API, features probed at run time):
// - ring flags SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN | TASKRUN_FLAG, else none;
// - multishot accept; multishot recv into one provided-buffer ring per loop, refilled from the
//   loop's receive pool at the end of each iteration (an exhausted ring ends a multishot recv with
//   ENOBUFS: the stream waits on the starved list, which is the back-pressure we want);
// - one SENDMSG per stream at a time (a second one could overtake the first), carrying every
//   message queued this iteration; all of them submitted by the next io_uring_enter, which also
//   waits;
// - multishot poll for datagram sockets and the wake-up eventfd (recvmsg is then called directly:
//   simpler than multishot recvmsg, and a poll carries many datagrams).
// Every operation is tagged with (op, generation, index); a stream is freed only when no operation
// that references it is in flight (STYLE rules 28, 29).
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "codec/check.h"
#include "transport/loop_backends.h"
#include "transport/user_data.h"

namespace ringrpc::transport {
namespace {

constexpr uint16_t kBufferGroup = 0;

bool kernel_at_least(int major, int minor) {
  utsname u{};
  if (uname(&u) != 0) return false;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

uint32_t round_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < 32768) p <<= 1;
  return p;
}

}  // namespace

class UringLoop final : public EventLoop {
 public:
  explicit UringLoop(const LoopOptions& options) : EventLoop(options) {}

  // Second phase of construction; false with `why` when io_uring cannot be used.
  bool init(std::string& why) {
    if (!kernel_at_least(6, 0)) {
      why = "kernel older than 6.0 (multishot recv)";
      return false;
    }
    const unsigned entries = options_.ring_entries;
    static constexpr unsigned kFlagSets[] = {
        // TASKRUN_FLAG: the kernel tells us in the SQ ring's flags that deferred work waits, so
        // an idle poll need not enter the kernel to find out.
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    int rc = -EINVAL;
    for (unsigned flags : kFlagSets) {
      io_uring_params p{};
      p.flags = flags | IORING_SETUP_CQSIZE;
      p.cq_entries = entries * 4;
      rc = io_uring_queue_init_params(entries, &ring_, &p);
      if (rc == 0) {
        flags_ = flags;
        break;
      }
      if (rc != -EINVAL) break;
    }
    if (rc != 0) {
      why = std::string("io_uring_setup: ") + std::strerror(-rc);
      return false;
    }
    ring_ok_ = true;
    (void)io_uring_register_ring_fd(&ring_);

    buf_entries_ = round_pow2(options_.recv_buffers);
    buf_ring_bytes_ = buf_entries_ * sizeof(io_uring_buf);
    void* mem =
        mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      why = std::string("mmap: ") + std::strerror(errno);
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(buf_ring_);
    reg.ring_entries = buf_entries_;
    reg.bgid = kBufferGroup;
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (rc != 0) {
      why = std::string("io_uring_register_buf_ring: ") + std::strerror(-rc);
      return false;
    }
    buf_registered_ = true;
    if (options_.send_zc_threshold != 0) {
      io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
      zc_ok_ = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
      if (probe != nullptr) io_uring_free_probe(probe);
      if (!zc_ok_) std::fprintf(stderr, "ringrpc: SENDMSG_ZC unsupported; sending with copies\n");
    }
    provided_.resize(buf_entries_);
    for (uint32_t i = buf_entries_; i > 0; --i) free_bids_.push_back(static_cast<uint16_t>(i - 1));
    refill();
    arm_wake();
    return true;
  }

  ~UringLoop() override {
    if (ring_ok_) {
      if (buf_registered_) io_uring_unregister_buf_ring(&ring_, kBufferGroup);
      io_uring_queue_exit(&ring_);
    }
    if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
    provided_.clear();
  }

  Backend backend() const noexcept override { return Backend::kIoUring; }
  size_t recv_buffers_in_kernel() const noexcept override {
    return buf_entries_ - free_bids_.size();
  }
  std::string describe() const override {
    std::string s = "io_uring";
    if (flags_ & IORING_SETUP_DEFER_TASKRUN) {
      s += (flags_ & IORING_SETUP_TASKRUN_FLAG) ? " (single_issuer, defer_taskrun, taskrun_flag)"
                                                : " (single_issuer, defer_taskrun)";
    } else if (flags_ & IORING_SETUP_COOP_TASKRUN) {
      s += " (coop_taskrun)";
    }
    return s;
  }

 protected:
  void start_stream(Stream& s) override {
    if (s.connecting_) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_poll_add(sqe, s.fd_, POLLOUT);
      io_uring_sqe_set_data64(sqe, pack(Op::kConnect, s.gen_, s.index_));
      ++s.ops_;
      return;
    }
    if (reading() && !s.paused_) arm_recv(s);
  }
  void start_listener(Listener& l) override { arm_accept(l); }
  void start_datagram(Datagram& d) override { arm_datagram(d); }

  void stop_reading(Stream& s) override {
    if (s.recv_armed_) cancel(pack(Op::kRecv, s.gen_, s.index_));
  }
  void restart_reading(Stream& s) override {
    // A recv still armed (its cancel not yet completed) is re-armed when its last CQE arrives.
    if (!s.recv_armed_ && !s.eof_) arm_recv(s);
  }

  void flush(Stream& s) override {
    if (s.send_inflight_) return;
    const size_t n = s.build_iov();
    if (n == 0) return;
    s.msg_ = msghdr{};
    s.msg_.msg_iov = s.iov_.data();
    s.msg_.msg_iovlen = n;
    io_uring_sqe* sqe = get_sqe();
    s.zc_inflight_ = zc_ok_ && s.queued_bytes_ >= options_.send_zc_threshold;
    if (s.zc_inflight_) {
      io_uring_prep_sendmsg_zc(sqe, s.fd_, &s.msg_, MSG_NOSIGNAL);
      ++stats_.zc_sends;
    } else {
      io_uring_prep_sendmsg(sqe, s.fd_, &s.msg_, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, pack(Op::kSend, s.gen_, s.index_));
    s.send_inflight_ = true;
    ++s.ops_;
  }

  void watch_shm(Stream& s) override {
    if (!s.shm_wake_armed_ && s.shm_wake_fd() >= 0) arm_shm(s, Op::kShmWake);
    if (!s.shm_control_armed_) arm_shm(s, Op::kShmControl);
  }
  void unwatch_shm(Stream& s) override {
    if (s.shm_wake_armed_) cancel(pack(Op::kShmWake, s.gen_, s.index_));
    if (s.shm_control_armed_) cancel(pack(Op::kShmControl, s.gen_, s.index_));
  }

  void begin_close(Stream& s) override {
    // shutdown() ends a pending recv (0) and a send stuck on a peer that does not read (EPIPE);
    // the cancels cover operations the kernel has not started.
    ::shutdown(s.fd_, SHUT_RDWR);
    if (s.recv_armed_) cancel(pack(Op::kRecv, s.gen_, s.index_));
    if (s.connecting_) cancel(pack(Op::kConnect, s.gen_, s.index_));
  }
  void begin_close(Listener& l) override {
    if (l.armed_) {
      cancel(pack(Op::kAccept, 0, l.index_));
    } else {
      finish_close(l);
    }
  }
  void begin_close(Datagram& d) override {
    if (d.armed_) {
      cancel(pack(Op::kDatagram, 0, d.index_));
    } else {
      finish_close(d);
    }
  }

  void wake_backend() override {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  void refill() override {
    if (!reading()) return;
    const int mask = io_uring_buf_ring_mask(buf_entries_);
    int added = 0;
    while (!free_bids_.empty()) {
      Buffer b = acquire_recv();
      if (!b) break;
      const uint16_t bid = free_bids_.back();
      free_bids_.pop_back();
      io_uring_buf_ring_add(buf_ring_, b.data(), static_cast<unsigned>(b.capacity()), bid, mask,
                            added++);
      provided_[bid] = std::move(b);
    }
    if (added != 0) io_uring_buf_ring_advance(buf_ring_, added);
  }

  bool poll_ready() override {
    if (kernel_has_work()) io_uring_submit_and_get_events(&ring_);
    return io_uring_cq_ready(&ring_) != 0;
  }

  void wait(Duration timeout) override {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    __kernel_timespec ts{};
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    io_uring_cqe* cqe = nullptr;
    // Nothing to wait for: submit and collect without a timeout, whose timer (even at zero)
    // cost tens of microseconds per iteration on a VM.
    // And when there is nothing to submit or collect either (a loop busy with shared-memory
    // rings alone), no system call at all.
    int rc = 0;
    if (ns != 0) {
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    } else if (kernel_has_work()) {
      rc = io_uring_submit_and_get_events(&ring_);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      std::fprintf(stderr, "ringrpc: io_uring_submit_and_wait: %s\n", std::strerror(-rc));
    }
    woke();
    unsigned head;
    unsigned count = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++count;
      complete(*cqe);
    }
    io_uring_cq_advance(&ring_, count);
  }

 private:
  // Something only a system call does: submissions queued, or completions the kernel holds
  // back. With DEFER_TASKRUN the kernel posts completions only when asked; with TASKRUN_FLAG it
  // flags the SQ ring when there are some, so a look that finds neither costs no system call.
  bool kernel_has_work() const noexcept {
    return (flags_ & IORING_SETUP_TASKRUN_FLAG) == 0 ||
           (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0 ||
           io_uring_sq_ready(&ring_) != 0;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) [[unlikely]] {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      RINGRPC_CHECK(sqe != nullptr, "io_uring submission queue stays full after submit");
    }
    return sqe;
  }

  void cancel(uint64_t target) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, pack(Op::kIgnore, 0, 0));
  }

  void arm_recv(Stream& s) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd_, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, pack(Op::kRecv, s.gen_, s.index_));
    s.recv_armed_ = true;
    ++s.ops_;
  }

  // The eventfd: the peer wrote or made room; the control socket: readable only when the peer
  // goes (or misbehaves). Both stay armed until the stream closes.
  void arm_shm(Stream& s, Op op) {
    io_uring_sqe* sqe = get_sqe();
    const bool wake = op == Op::kShmWake;
    io_uring_prep_poll_multishot(sqe, wake ? s.shm_wake_fd() : s.fd_,
                                 wake ? POLLIN : (POLLIN | POLLRDHUP));
    io_uring_sqe_set_data64(sqe, pack(op, s.gen_, s.index_));
    (wake ? s.shm_wake_armed_ : s.shm_control_armed_) = true;
    ++s.ops_;
  }

  void on_shm(uint64_t ud, int res, bool more) {
    Stream* s = stream_at(index_of(ud), gen_of(ud));
    RINGRPC_CHECK(s != nullptr, "shared-memory poll completion for a freed stream");
    const bool wake = op_of(ud) == Op::kShmWake;
    if (!more) {
      (wake ? s->shm_wake_armed_ : s->shm_control_armed_) = false;
      --s->ops_;
    }
    if (res > 0 && !s->closing_) {
      if (wake) {
        shm_wake(*s);
      } else {
        shm_control(*s);
      }
    }
    // A control socket at its end stays readable: watching it again would spin.
    if (!more && !s->closing_ && (wake || !s->eof_)) arm_shm(*s, op_of(ud));
  }

  void arm_accept(Listener& l) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, l.fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(Op::kAccept, 0, l.index_));
    l.armed_ = true;
  }

  void arm_datagram(Datagram& d) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_multishot(sqe, d.fd_, POLLIN);
    io_uring_sqe_set_data64(sqe, pack(Op::kDatagram, 0, d.index_));
    d.armed_ = true;
  }

  void arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_multishot(sqe, wake_fd_, POLLIN);
    io_uring_sqe_set_data64(sqe, pack(Op::kWake, 0, 0));
  }

  void complete(const io_uring_cqe& cqe) {
    const uint64_t ud = cqe.user_data;
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    switch (op_of(ud)) {
      case Op::kRecv:
        on_recv(ud, cqe.res, cqe.flags, more);
        break;
      case Op::kSend:
        on_send(ud, cqe.res, cqe.flags);
        break;
      case Op::kConnect:
        if (Stream* s = stream_at(index_of(ud), gen_of(ud))) {
          --s->ops_;
          if (!s->closing_) connected(*s, connect_result(s->fd_));
        }
        break;
      case Op::kAccept:
        on_accept(ud, cqe.res, more);
        break;
      case Op::kShmWake:
      case Op::kShmControl:
        on_shm(ud, cqe.res, more);
        break;
      case Op::kDatagram:
        if (Datagram* d = datagram_at(index_of(ud))) {
          if (!d->closing_ && cqe.res >= 0) read_datagrams(*d);
          if (!more) {
            d->armed_ = false;
            if (d->closing_) {
              finish_close(*d);
            } else {
              arm_datagram(*d);
            }
          }
        }
        break;
      case Op::kWake:
        drain_wakeups();
        if (!more) arm_wake();
        break;
      default:
        break;
    }
  }

  void on_recv(uint64_t ud, int res, uint32_t flags, bool more) {
    Stream* s = stream_at(index_of(ud), gen_of(ud));
    Buffer b;
    if (res > 0 && (flags & IORING_CQE_F_BUFFER) != 0) {
      const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      b = std::move(provided_[bid]);
      free_bids_.push_back(bid);
    }
    RINGRPC_CHECK(s != nullptr, "recv completion for a freed stream");
    if (!more) {
      s->recv_armed_ = false;
      --s->ops_;
    }
    if (res > 0) {
      deliver(*s, {b.data(), static_cast<size_t>(res)}, b);
    } else if (res == 0) {
      deliver_eof(*s);
    } else if (res == -ENOBUFS) {
      starve(*s);
    } else if (res != -ECANCELED) {
      fail(*s, -res);
    }
    if (!s->recv_armed_ && !s->closing_ && !s->paused_ && !s->starved_ && !s->eof_ && reading()) {
      arm_recv(*s);
    }
  }

  void on_send(uint64_t ud, int res, uint32_t flags) {
    Stream* s = stream_at(index_of(ud), gen_of(ud));
    RINGRPC_CHECK(s != nullptr, "send completion for a freed stream");
    if (s->zc_inflight_) {
      // Zero copy: the first CQE says how much was sent; with F_MORE a notification follows
      // when the kernel is done with our buffers, and until then they stay pinned.
      if ((flags & IORING_CQE_F_NOTIF) == 0) {
        if (res >= 0) {
          sent(*s, static_cast<size_t>(res), &s->zc_hold_);
        } else if (res != -EAGAIN && res != -EINTR) {
          fail(*s, -res);
        }
        if ((flags & IORING_CQE_F_MORE) != 0) return;
      }
      s->zc_hold_.clear();
      s->zc_inflight_ = false;
      s->send_inflight_ = false;
      --s->ops_;
      send_done(*s);
      return;
    }
    --s->ops_;
    s->send_inflight_ = false;
    if (res >= 0) {
      sent(*s, static_cast<size_t>(res));
    } else if (res == -EAGAIN || res == -EINTR) {
      if (!s->closing_) mark_dirty(*s);
    } else {
      fail(*s, -res);
    }
  }

  void on_accept(uint64_t ud, int res, bool more) {
    Listener* l = listener_at(index_of(ud));
    if (l == nullptr) {
      if (res >= 0) ::close(res);
      return;
    }
    if (res >= 0) {
      if (l->closing_) {
        ::close(res);
      } else {
        SockAddr peer;
        socklen_t len = SockAddr::capacity();
        if (getpeername(res, peer.get_mut(), &len) == 0) peer.set_len(len);
        l->handler_->on_accept(res, peer);
      }
    } else if (res != -ECANCELED) {
      l->handler_->on_accept_error(-res);
    }
    if (!more) {
      l->armed_ = false;
      if (l->closing_) {
        finish_close(*l);
      } else {
        arm_accept(*l);
      }
    }
  }

  io_uring ring_{};
  bool ring_ok_ = false;
  unsigned flags_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  uint32_t buf_entries_ = 0;
  bool buf_registered_ = false;
  bool zc_ok_ = false;
  std::vector<Buffer> provided_;  // indexed by buffer id: the pooled buffer the kernel may fill
  std::vector<uint16_t> free_bids_;
};

std::unique_ptr<EventLoop> make_uring_loop(const LoopOptions& options, std::string& why) {
  auto loop = std::make_unique<UringLoop>(options);
  if (!loop->init(why)) return nullptr;
  return loop;
}

}  // namespace ringrpc::transport
