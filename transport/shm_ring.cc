#include "transport/shm_ring.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringrpc::transport::shm {
namespace {

// [header, padded][control to server][control to client] in the first page, then the two data
// areas, page-aligned.
constexpr size_t kControlOffset = 256;
constexpr size_t kDataOffset = 4096;
static_assert(sizeof(SegmentHeader) <= kControlOffset);
static_assert(kControlOffset + 2 * sizeof(RingControl) <= kDataOffset);

constexpr char kHello[] = "RINGRPC-SHM 1\n";
constexpr size_t kHelloLen = sizeof kHello - 1;
constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool set_error(std::string* error, std::string text) {
  if (error != nullptr) *error = std::move(text);
  return false;
}

// An eventfd, as the peer claims: anything else (a pipe that fills, a socket) could block or
// mislead the loop that signals it.
bool is_eventfd(int fd) {
  char link[64];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  link[n] = '\0';
  return std::strcmp(link, "anon_inode:[eventfd]") == 0;
}

}  // namespace

const char* to_string(RingError e) noexcept {
  switch (e) {
    case RingError::kNone:
      return "no error";
    case RingError::kHeadOutOfRange:
      return "the peer's write index is more than a ring ahead of what was read";
    case RingError::kTailOutOfRange:
      return "the peer's read index is ahead of what was written, or a ring behind";
  }
  return "?";
}

size_t Segment::segment_bytes(size_t ring_bytes) noexcept { return kDataOffset + 2 * ring_bytes; }

std::unique_ptr<Segment> Segment::create(size_t ring_bytes, std::string* error) {
  size_t cap = kMinRingBytes;
  while (cap < ring_bytes && cap < kMaxRingBytes) cap <<= 1;
  const int fd = ::memfd_create("ringrpc-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    set_error(error, errno_text("memfd_create"));
    return nullptr;
  }
  const size_t size = segment_bytes(cap);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fcntl(fd, F_ADD_SEALS, kSeals) != 0) {
    set_error(error, errno_text("sizing and sealing the memfd"));
    ::close(fd);
    return nullptr;
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    set_error(error, errno_text("mmap"));
    ::close(fd);
    return nullptr;
  }
  auto* base = static_cast<uint8_t*>(p);
  // A fresh memfd reads as zeros: the indices and words start at 0 without being written.
  auto* h = reinterpret_cast<SegmentHeader*>(base);
  h->magic = kMagic;
  h->version = kVersion;
  h->ring_bytes = cap;
  return std::unique_ptr<Segment>(new Segment(fd, base, size, cap));
}

std::unique_ptr<Segment> Segment::attach(int fd, size_t max_ring_bytes, std::string* error) {
  auto refuse = [&](std::string why) -> std::unique_ptr<Segment> {
    set_error(error, "shared-memory segment refused: " + why);
    ::close(fd);
    return nullptr;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return refuse(errno_text("fstat"));
  if (!S_ISREG(st.st_mode)) return refuse("not a memory file");
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return refuse("not a sealable memfd");
  if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    return refuse("not sealed against resizing (a peer could truncate it under us)");
  }
  SegmentHeader h{};
  if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    return refuse("shorter than its header");
  }
  if (h.magic != kMagic) return refuse("bad magic");
  if (h.version != kVersion) return refuse("version " + std::to_string(h.version));
  if (!is_pow2(h.ring_bytes) || h.ring_bytes < kMinRingBytes ||
      h.ring_bytes > std::min(max_ring_bytes, kMaxRingBytes)) {
    return refuse("ring size " + std::to_string(h.ring_bytes) + " (at most " +
                  std::to_string(std::min(max_ring_bytes, kMaxRingBytes)) + ", a power of two)");
  }
  const size_t size = segment_bytes(static_cast<size_t>(h.ring_bytes));
  if (static_cast<uint64_t>(st.st_size) != size) {
    return refuse("size " + std::to_string(st.st_size) + " where its header implies " +
                  std::to_string(size));
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return refuse(errno_text("mmap"));
  // The ring size is taken now and never read from shared memory again.
  return std::unique_ptr<Segment>(
      new Segment(fd, static_cast<uint8_t*>(p), size, static_cast<size_t>(h.ring_bytes)));
}

Segment::~Segment() {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

RingControl* Segment::control(Direction d) const noexcept {
  return reinterpret_cast<RingControl*>(base_ + kControlOffset +
                                        static_cast<size_t>(d) * sizeof(RingControl));
}
uint8_t* Segment::data(Direction d) const noexcept {
  return base_ + kDataOffset + static_cast<size_t>(d) * ring_bytes_;
}
// Both ends start at 0, as a fresh segment does: our own index is never taken from shared memory,
// even at the start (a peer that moved it before we attached is caught at the first check).
Producer Segment::producer(Direction d) noexcept { return {control(d), data(d), ring_bytes_}; }
Consumer Segment::consumer(Direction d) noexcept { return {control(d), data(d), ring_bytes_}; }

// --- Producer ---------------------------------------------------------------------------------

size_t Producer::used() noexcept {
  if (error_ != RingError::kNone) return cap_;
  const uint64_t t = c_->tail.load(std::memory_order_acquire);
  const uint64_t u = head_ - t;  // wraps to a huge value when the tail is ahead of the head
  if (u > cap_) {
    error_ = RingError::kTailOutOfRange;
    return cap_;
  }
  return static_cast<size_t>(u);
}

size_t Producer::space() noexcept { return cap_ - used(); }

size_t Producer::write(std::span<const iovec> iov) noexcept {
  size_t room = space();
  if (room == 0) return 0;
  const size_t mask = cap_ - 1;
  size_t total = 0;
  for (const iovec& v : iov) {
    auto* src = static_cast<const uint8_t*>(v.iov_base);
    size_t n = std::min(v.iov_len, room);
    room -= n;
    while (n > 0) {
      const size_t at = static_cast<size_t>((head_ + total) & mask);
      const size_t k = std::min(n, cap_ - at);
      std::memcpy(data_ + at, src, k);
      src += k;
      n -= k;
      total += k;
    }
    if (room == 0) break;
  }
  head_ += total;
  c_->head.store(head_, std::memory_order_release);
  return total;
}

// The waker's half of the Dekker protocol on one `waiting` word, after publishing an index: the
// fence pairs with the one in the sleeper's prepare_*(), so either the sleeper sees the new
// index or we see its word. Clearing the word makes one signal per sleep.
static bool claim_waiter(std::atomic<uint32_t>& waiting) noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiting.load(std::memory_order_relaxed) == 0) return false;
  return waiting.exchange(0, std::memory_order_relaxed) != 0;
}

bool Producer::consumer_needs_wake() noexcept { return claim_waiter(c_->consumer_waiting); }

bool Producer::prepare_wait_for_space(size_t need) noexcept {
  c_->producer_waiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (space() >= std::min(need, cap_) || error_ != RingError::kNone) {
    c_->producer_waiting.store(0, std::memory_order_relaxed);
    return true;
  }
  return false;
}

// --- Consumer ---------------------------------------------------------------------------------

size_t Consumer::available() noexcept {
  if (error_ != RingError::kNone) return 0;
  const uint64_t h = c_->head.load(std::memory_order_acquire);
  const uint64_t a = h - tail_;
  if (a > cap_) {
    error_ = RingError::kHeadOutOfRange;
    return 0;
  }
  return static_cast<size_t>(a);
}

size_t Consumer::read(std::span<uint8_t> out) noexcept {
  const size_t n = std::min(available(), out.size());
  if (n == 0) return 0;
  const size_t mask = cap_ - 1;
  const size_t at = static_cast<size_t>(tail_ & mask);
  const size_t first = std::min(n, cap_ - at);
  std::memcpy(out.data(), data_ + at, first);
  if (first < n) std::memcpy(out.data() + first, data_, n - first);
  tail_ += n;
  c_->tail.store(tail_, std::memory_order_release);
  return n;
}

bool Consumer::producer_needs_wake() noexcept { return claim_waiter(c_->producer_waiting); }

bool Consumer::prepare_sleep() noexcept {
  c_->consumer_waiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (available() != 0 || error_ != RingError::kNone) {
    c_->consumer_waiting.store(0, std::memory_order_relaxed);
    return true;
  }
  return false;
}

// --- Handoff ----------------------------------------------------------------------------------

bool send_handoff(int sock, const Handoff& h, std::string* error) {
  const int fds[3] = {h.memfd, h.client_wake, h.server_wake};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  iovec iov{const_cast<char*>(kHello), kHelloLen};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t n;
  do {
    n = ::sendmsg(sock, &m, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(kHelloLen)) {
    return set_error(error, n < 0 ? errno_text("sendmsg") : "sendmsg: short write");
  }
  return true;
}

bool receive_handoff(int sock, Handoff& h, std::string* error) {
  // Room for more descriptors than we want, so that extra ones arrive (and are closed) instead
  // of being dropped with MSG_CTRUNC.
  constexpr int kRoom = 16;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kRoom)] = {};
  char buf[kHelloLen + 1];
  iovec iov{buf, sizeof buf};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return set_error(error, errno_text("recvmsg"));
  int got[kRoom];
  int count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && count < kRoom; ++i) {
      std::memcpy(&got[count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  auto refuse = [&](const std::string& why) {
    for (int i = 0; i < count; ++i) ::close(got[i]);
    return set_error(error, "shared-memory handoff refused: " + why);
  };
  if (n == 0) return refuse("the peer closed the socket");
  if ((m.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) return refuse("message truncated");
  if (static_cast<size_t>(n) != kHelloLen || std::memcmp(buf, kHello, kHelloLen) != 0) {
    return refuse("not a ringrpc shared-memory hello");
  }
  if (count != 3) return refuse(std::to_string(count) + " descriptors instead of 3");
  if (!is_eventfd(got[1]) || !is_eventfd(got[2])) return refuse("wake-ups that are not eventfds");
  // Signalling must never block the loop.
  for (int i = 1; i < 3; ++i) {
    const int fl = ::fcntl(got[i], F_GETFL);
    if (fl < 0 || ::fcntl(got[i], F_SETFL, fl | O_NONBLOCK) != 0)
      return refuse(errno_text("fcntl"));
  }
  h.memfd = got[0];
  h.client_wake = got[1];
  h.server_wake = got[2];
  return true;
}

}  // namespace ringrpc::transport::shm
