// The shared-memory rings: bytes in order across every wrap, one thread and two; the wake-up
// words; and a hostile peer, played here through a second mapping of the same memfd: indices
// no honest peer can write are caught and break only that ring, segments that are unsealed,
// mislabelled or mis-sized are refused at attach, and a handoff that is not exactly ours is
// refused with every descriptor it brought closed.
#include "transport/shm_ring.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace ringrpc::transport::shm {
namespace {

uint8_t pattern(uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 8)); }

// A second, independent mapping of a segment: the peer's view.
std::unique_ptr<Segment> peer_of(const Segment& s) {
  std::string err;
  auto p = Segment::attach(::dup(s.fd()), kMaxRingBytes, &err);
  EXPECT_TRUE(p) << err;
  return p;
}

// The peer's view of a segment's first page, where a hostile peer would write: the header, then
// one 256-byte control block per direction from offset 256 (the layout is private to
// shm_ring.cc, and a peer reads it off the wire format, as the test does).
class PeerPage {
 public:
  explicit PeerPage(const Segment& s)
      : p_(static_cast<uint8_t*>(
            ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd(), 0))) {
    EXPECT_NE(p_, MAP_FAILED);
  }
  ~PeerPage() { ::munmap(p_, 4096); }
  RingControl* control(Direction d) {
    return reinterpret_cast<RingControl*>(p_ + 256 + static_cast<size_t>(d) * sizeof(RingControl));
  }

 private:
  uint8_t* p_;
};

int open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

TEST(ShmRing, BytesArriveInOrderAcrossEveryWrap) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  EXPECT_EQ(seg->ring_bytes(), 4096u);
  auto peer = peer_of(*seg);
  Producer p = seg->producer(Direction::kToServer);
  Consumer c = peer->consumer(Direction::kToServer);
  std::mt19937 rng(7);
  uint64_t wrote = 0, read = 0;
  std::vector<uint8_t> in(3000), out(5000);
  while (read < (1u << 20)) {
    const size_t n = rng() % in.size();
    for (size_t i = 0; i < n; ++i) in[i] = pattern(wrote + i);
    const size_t w = p.write(std::span<const uint8_t>(in.data(), n));
    EXPECT_LE(w, n);
    wrote += w;
    const size_t r = c.read(std::span<uint8_t>(out.data(), rng() % out.size()));
    for (size_t i = 0; i < r; ++i) ASSERT_EQ(out[i], pattern(read + i)) << "at " << read + i;
    read += r;
    ASSERT_LE(wrote - read, 4096u);
  }
  EXPECT_EQ(p.error(), RingError::kNone);
  EXPECT_EQ(c.error(), RingError::kNone);
}

TEST(ShmRing, AFullRingTakesNothingAndAGatheredWriteStopsAtTheEdge) {
  std::string err;
  auto seg = Segment::create(1, &err);  // rounded up to the minimum
  ASSERT_TRUE(seg) << err;
  const size_t cap = seg->ring_bytes();
  Producer p = seg->producer(Direction::kToClient);
  Consumer c = seg->consumer(Direction::kToClient);
  std::vector<uint8_t> a(cap - 10, 1), b(100, 2);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(p.write(iov), cap);
  EXPECT_EQ(p.space(), 0u);
  EXPECT_EQ(p.write(std::span<const uint8_t>(b)), 0u);
  std::vector<uint8_t> out(cap);
  EXPECT_EQ(c.read(out), cap);
  EXPECT_EQ(out[cap - 11], 1);
  EXPECT_EQ(out[cap - 10], 2);
  EXPECT_EQ(p.space(), cap);
}

TEST(ShmRing, TwoThreadsMoveSixteenMebibytesIntact) {
  std::string err;
  auto seg = Segment::create(64 * 1024, &err);
  ASSERT_TRUE(seg) << err;
  auto peer = peer_of(*seg);
  constexpr uint64_t kTotal = 16u << 20;
  std::thread writer([&] {
    Producer p = seg->producer(Direction::kToServer);
    std::vector<uint8_t> chunk(1500);
    uint64_t wrote = 0;
    while (wrote < kTotal) {
      const size_t n = std::min<uint64_t>(chunk.size(), kTotal - wrote);
      for (size_t i = 0; i < n; ++i) chunk[i] = pattern(wrote + i);
      size_t off = 0;
      while (off < n) {
        const size_t w = p.write(std::span<const uint8_t>(chunk.data() + off, n - off));
        if (w == 0) std::this_thread::yield();
        off += w;
      }
      wrote += n;
    }
  });
  Consumer c = peer->consumer(Direction::kToServer);
  std::vector<uint8_t> out(4096);
  uint64_t read = 0;
  bool intact = true;
  while (read < kTotal) {
    const size_t r = c.read(out);
    if (r == 0) std::this_thread::yield();
    for (size_t i = 0; i < r; ++i) intact = intact && out[i] == pattern(read + i);
    read += r;
  }
  writer.join();
  EXPECT_TRUE(intact);
  EXPECT_EQ(c.error(), RingError::kNone);
}

TEST(ShmRing, WakeWordsAskOnceAndNeverLoseAWakeUp) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  auto peer = peer_of(*seg);
  Producer p = seg->producer(Direction::kToServer);
  Consumer c = peer->consumer(Direction::kToServer);
  EXPECT_FALSE(p.consumer_needs_wake());  // nobody sleeps yet
  EXPECT_FALSE(c.prepare_sleep());        // empty: go to sleep, word set
  const uint8_t x[1] = {42};
  EXPECT_EQ(p.write(x), 1u);
  EXPECT_TRUE(p.consumer_needs_wake());   // signal once
  EXPECT_FALSE(p.consumer_needs_wake());  // and not again for the same sleep
  EXPECT_TRUE(c.prepare_sleep());         // bytes are there: do not sleep
  std::vector<uint8_t> fill(4096, 0);
  EXPECT_EQ(p.write(fill), 4095u);
  EXPECT_FALSE(p.prepare_wait_for_space(100));  // full: producer sleeps, word set
  uint8_t out[200];
  EXPECT_EQ(c.read(out), 200u);
  EXPECT_TRUE(c.producer_needs_wake());
  EXPECT_FALSE(c.producer_needs_wake());
  EXPECT_TRUE(p.prepare_wait_for_space(100));
}

TEST(ShmRing, AHeadNoHonestPeerCanWriteBreaksTheRing) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  PeerPage page(*seg);
  RingControl* ctl = page.control(Direction::kToServer);
  Consumer c = seg->consumer(Direction::kToServer);
  uint8_t out[64];
  ctl->head.store(4097);  // more than a ring ahead of what was read
  EXPECT_EQ(c.read(out), 0u);
  EXPECT_EQ(c.error(), RingError::kHeadOutOfRange);
  ctl->head.store(10);  // even once it looks sane again, the ring stays broken
  EXPECT_EQ(c.read(out), 0u);
  EXPECT_EQ(c.available(), 0u);
  EXPECT_TRUE(c.prepare_sleep());  // a broken ring is not slept on: the caller sees the error

  // Behind the tail (a head that went backwards) wraps to a huge distance: caught the same way.
  Consumer c2 = seg->consumer(Direction::kToClient);
  RingControl* ctl2 = page.control(Direction::kToClient);
  ctl2->head.store(100);
  EXPECT_EQ(c2.read(out), 64u);
  ctl2->head.store(10);
  EXPECT_EQ(c2.read(out), 0u);
  EXPECT_EQ(c2.error(), RingError::kHeadOutOfRange);
  EXPECT_STRNE(to_string(c2.error()), to_string(RingError::kNone));
}

TEST(ShmRing, ATailNoHonestPeerCanWriteBreaksTheRing) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  PeerPage page(*seg);
  RingControl* ctl = page.control(Direction::kToClient);
  Producer p = seg->producer(Direction::kToClient);
  const uint8_t x[16] = {};
  EXPECT_EQ(p.write(x), 16u);
  ctl->tail.store(17);  // read more than was written
  EXPECT_EQ(p.write(x), 0u);
  EXPECT_EQ(p.error(), RingError::kTailOutOfRange);
  EXPECT_EQ(p.space(), 0u);
  EXPECT_TRUE(p.prepare_wait_for_space(1));  // not slept on either
}

TEST(ShmRing, BytesAreCopiedOutSoALaterScribbleChangesNothingRead) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  auto peer = peer_of(*seg);
  Producer p = peer->producer(Direction::kToServer);
  Consumer c = seg->consumer(Direction::kToServer);
  const uint8_t msg[4] = {1, 2, 3, 4};
  p.write(msg);
  uint8_t out[4];
  ASSERT_EQ(c.read(out), 4u);
  auto* page = static_cast<uint8_t*>(
      ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, seg->fd(), 0));
  ASSERT_NE(page, MAP_FAILED);
  std::memset(page + 4096, 0xEE, 4);  // the peer rewrites the bytes after we took them
  EXPECT_EQ(std::memcmp(out, msg, 4), 0);
  ::munmap(page, 8192);
}

TEST(ShmRing, TheSegmentCannotBeResized) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  EXPECT_NE(::ftruncate(seg->fd(), 4096), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(seg->fd(), 1 << 20), 0);
}

// A memfd laid out like a segment but with whatever the test wants in it.
int fake_segment(uint32_t magic, uint32_t version, uint64_t ring, size_t size, bool seal) {
  const int fd = ::memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_GE(fd, 0);
  SegmentHeader h{magic, version, ring};
  EXPECT_EQ(::pwrite(fd, &h, sizeof h, 0), static_cast<ssize_t>(sizeof h));
  EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);  // may cut the header short
  if (seal) {
    EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  }
  return fd;
}

TEST(ShmRing, AttachRefusesWhatIsNotOurSealedSegment) {
  const size_t good = Segment::segment_bytes(4096);
  struct Case {
    const char* what;
    int fd;
    const char* says;
  } cases[] = {
      {"unsealed", fake_segment(kMagic, kVersion, 4096, good, false), "not sealed"},
      {"bad magic", fake_segment(0x12345678, kVersion, 4096, good, true), "bad magic"},
      {"version", fake_segment(kMagic, 99, 4096, good, true), "version 99"},
      {"not a power of two", fake_segment(kMagic, kVersion, 5000, good, true), "ring size 5000"},
      {"over the limit",
       fake_segment(kMagic, kVersion, 1 << 21, Segment::segment_bytes(1 << 21), true),
       "at most 1048576"},
      {"size mismatch", fake_segment(kMagic, kVersion, 4096, good + 4096, true), "header implies"},
      {"too short", fake_segment(kMagic, kVersion, 4096, 8, true), "shorter than its header"},
  };
  for (const Case& c : cases) {
    std::string err;
    EXPECT_FALSE(Segment::attach(c.fd, 1 << 20, &err)) << c.what;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.what << ": " << err;
  }
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  std::string err;
  EXPECT_FALSE(Segment::attach(sv[0], 1 << 20, &err));
  EXPECT_NE(err.find("not a memory file"), std::string::npos) << err;
  ::close(sv[1]);
}

TEST(ShmRing, HandoffCarriesTheSegmentAndBothWakeUps) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const int cw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int sw = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ASSERT_TRUE(send_handoff(sv[0], {seg->fd(), cw, sw}, &err)) << err;
  Handoff h;
  ASSERT_TRUE(receive_handoff(sv[1], h, &err)) << err;
  auto mine = Segment::attach(h.memfd, 1 << 20, &err);
  ASSERT_TRUE(mine) << err;
  // The wake-ups are the same eventfds: a signal on the received one reads on the original.
  const uint64_t one = 1;
  ASSERT_EQ(::write(h.client_wake, &one, sizeof one), 8);
  uint64_t v = 0;
  EXPECT_EQ(::read(cw, &v, sizeof v), 8);
  EXPECT_EQ(v, 1u);
  // And the rings are shared.
  Producer p = seg->producer(Direction::kToServer);
  Consumer c = mine->consumer(Direction::kToServer);
  const uint8_t m[3] = {7, 8, 9};
  p.write(m);
  uint8_t out[3];
  EXPECT_EQ(c.read(out), 3u);
  EXPECT_EQ(out[2], 9);
  for (int fd : {sv[0], sv[1], cw, sw, h.client_wake, h.server_wake}) ::close(fd);
}

TEST(ShmRing, AHandoffThatIsNotOursIsRefusedAndLeaksNothing) {
  std::string err;
  auto seg = Segment::create(4096, &err);
  ASSERT_TRUE(seg) << err;
  const int before = open_fds();
  auto attempt = [&](const char* hello, std::vector<int> fds) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    iovec iov{const_cast<char*>(hello), std::strlen(hello)};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (!fds.empty()) {
      m.msg_control = control;
      m.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    EXPECT_EQ(::sendmsg(sv[0], &m, 0), static_cast<ssize_t>(std::strlen(hello)));
    Handoff h;
    std::string why;
    const bool ok = receive_handoff(sv[1], h, &why);
    ::close(sv[0]);
    ::close(sv[1]);
    return ok ? std::string("accepted") : why;
  };
  const int e1 = ::eventfd(0, EFD_CLOEXEC), e2 = ::eventfd(0, EFD_CLOEXEC);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const int fd = seg->fd();
  EXPECT_NE(attempt("HELLO\n", {fd, e1, e2}).find("not a ringrpc"), std::string::npos);
  EXPECT_NE(attempt("RINGRPC-SHM 1\n", {fd, e1}).find("2 descriptors"), std::string::npos);
  EXPECT_NE(attempt("RINGRPC-SHM 1\n", {fd, e1, e2, e1}).find("4 descriptors"), std::string::npos);
  EXPECT_NE(attempt("RINGRPC-SHM 1\n", {fd, p[0], e2}).find("not eventfds"), std::string::npos);
  EXPECT_NE(attempt("RINGRPC-SHM 1\n", {}).find("0 descriptors"), std::string::npos);
  for (int x : {e1, e2, p[0], p[1]}) ::close(x);
  EXPECT_EQ(open_fds(), before);  // every descriptor a refused handoff brought was closed
}

}  // namespace
}  // namespace ringrpc::transport::shm
