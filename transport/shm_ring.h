// Shared-memory byte rings between two processes on one host: the data path of the
// shared-memory transport (issue 8). One segment (a sealed memfd) holds two single-producer
// single-consumer byte rings, one per direction; RPC records travel through them as they would
// through a TCP stream, record marking and all, so the codec and dispatch above do not change.
//
// The peer is not trusted. Each side keeps its own index (the producer's head, the consumer's
// tail) in private memory and only publishes it; the peer's index is read once per operation
// and checked (a head more than a ring ahead of our tail, or a tail behind our head by more
// than a ring or ahead of it, is corruption: the ring is dead from then on and says so). Bytes are
// copied out of the segment before anyone parses them, so a peer that rewrites them under our
// feet changes nothing we have checked. The memfd is sealed against shrinking and growing before
// it is shared, and attach() refuses one that is not, so neither side can be made to fault on a
// truncated mapping (SIGBUS). Sizes are bounded by the attacher's limit.
//
// Waking: a consumer about to sleep sets its ring's `waiting` word and looks once more; a
// producer that publishes bytes and sees the word set signals the consumer's eventfd (the
// consumer's event loop watches it). The same in the other direction for a producer waiting for
// space. Spinning before sleeping is the caller's choice (transport/DESIGN.md).
//
// Threading: a Producer and a Consumer are each used by one thread; the two ends of a ring are
// in different processes (or threads). A Segment is a value owned by one thread.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace ringrpc::transport::shm {

// What lies at the start of a segment. Written by the creator before it shares the memfd; the
// attacher validates every field before it believes any.
struct SegmentHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t ring_bytes;  // capacity of each ring's data area, a power of two
};
inline constexpr uint32_t kMagic = 0x52524d31;  // "RRM1"
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kMinRingBytes = 4096;
inline constexpr size_t kMaxRingBytes = size_t{1} << 30;

// The control words of one ring, each on its own cache line so that the two sides do not
// false-share. In shared memory: every value read from it is untrusted.
struct RingControl {
  alignas(64) std::atomic<uint64_t> head;  // bytes ever written (the producer's)
  alignas(64) std::atomic<uint64_t> tail;  // bytes ever read (the consumer's)
  alignas(64) std::atomic<uint32_t> consumer_waiting;
  alignas(64) std::atomic<uint32_t> producer_waiting;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "ring indices must be lock-free");

enum class Direction : uint8_t {
  kToServer = 0,  // written by the client
  kToClient = 1,
};

class Producer;
class Consumer;

// A mapped segment: two rings. Move-only; unmaps on destruction.
class Segment {
 public:
  // Creates, sizes, seals and maps a memfd with two rings of `ring_bytes` each (rounded up to a
  // power of two, at least kMinRingBytes). nullptr and `error` on failure.
  static std::unique_ptr<Segment> create(size_t ring_bytes, std::string* error);
  // Maps a memfd received from a peer, after checking that it is sealed against resizing, that
  // its header is ours and that its size matches what the header claims, at most `max_ring_bytes`
  // per ring. Takes ownership of `fd` in every case. nullptr and `error` when anything is off.
  static std::unique_ptr<Segment> attach(int fd, size_t max_ring_bytes, std::string* error);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  int fd() const noexcept { return fd_; }  // to send to the peer (SCM_RIGHTS)
  size_t ring_bytes() const noexcept { return ring_bytes_; }
  size_t mapped_bytes() const noexcept { return size_; }

  Producer producer(Direction d) noexcept;
  Consumer consumer(Direction d) noexcept;

  // The size of a segment with rings of `ring_bytes` (a power of two).
  static size_t segment_bytes(size_t ring_bytes) noexcept;

 private:
  Segment(int fd, uint8_t* base, size_t size, size_t ring_bytes) noexcept
      : fd_(fd), base_(base), size_(size), ring_bytes_(ring_bytes) {}
  RingControl* control(Direction d) const noexcept;
  uint8_t* data(Direction d) const noexcept;

  int fd_ = -1;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t ring_bytes_ = 0;
};

// Why a ring stopped working: the peer wrote an index no honest peer can have written.
enum class RingError : uint8_t { kNone, kHeadOutOfRange, kTailOutOfRange };
const char* to_string(RingError e) noexcept;

// The writing end of one ring.
class Producer {
 public:
  Producer() = default;
  // Copies as much of `iov` as fits (in order) and publishes it; returns the bytes written, 0
  // when the ring is full or broken.
  size_t write(std::span<const iovec> iov) noexcept;
  size_t write(std::span<const uint8_t> bytes) noexcept {
    iovec v{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    return write(std::span<const iovec>(&v, 1));
  }
  // Room for this many bytes now (0 when broken).
  size_t space() noexcept;
  // After a write: true when the consumer is asleep and must be woken (clears its word, so one
  // write of many signals once).
  bool consumer_needs_wake() noexcept;
  // Before sleeping for want of space: sets the word the consumer checks, then looks again; true
  // when space appeared meanwhile (do not sleep).
  bool prepare_wait_for_space(size_t need) noexcept;
  RingError error() const noexcept { return error_; }
  uint64_t written() const noexcept { return head_; }

 private:
  friend class Segment;
  Producer(RingControl* c, uint8_t* data, size_t cap) noexcept : c_(c), data_(data), cap_(cap) {}
  size_t used() noexcept;  // validated head - tail, or cap_ and error_ set

  RingControl* c_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t cap_ = 0;
  uint64_t head_ = 0;  // ours: never read back from shared memory
  RingError error_ = RingError::kNone;
};

// The reading end of one ring.
class Consumer {
 public:
  Consumer() = default;
  // Copies up to out.size() readable bytes into `out` (private memory) and releases them to the
  // producer; returns how many (0 when empty or broken).
  size_t read(std::span<uint8_t> out) noexcept;
  // Bytes readable now (0 when broken).
  size_t available() noexcept;
  // After a read: true when the producer waits for space (clears its word).
  bool producer_needs_wake() noexcept;
  // Before sleeping: sets the word the producer checks, then looks again; true when bytes
  // arrived meanwhile (do not sleep).
  bool prepare_sleep() noexcept;
  RingError error() const noexcept { return error_; }
  uint64_t consumed() const noexcept { return tail_; }

 private:
  friend class Segment;
  Consumer(RingControl* c, const uint8_t* data, size_t cap) noexcept
      : c_(c), data_(data), cap_(cap) {}

  RingControl* c_ = nullptr;
  const uint8_t* data_ = nullptr;
  size_t cap_ = 0;
  uint64_t tail_ = 0;  // ours: never read back from shared memory
  RingError error_ = RingError::kNone;
};

// Passes a segment and the two wake-up eventfds over a connected Unix stream socket
// (SCM_RIGHTS), with a one-line hello naming the protocol, and receives them on the other side.
// Blocking calls with the socket's own timeouts; for connection setup, not the data path.
struct Handoff {
  int memfd = -1;
  int client_wake = -1;  // the client sleeps on it; the server signals it
  int server_wake = -1;  // the server sleeps on it; the client signals it
};
// Sends the three descriptors (they stay open here). False with `error`.
bool send_handoff(int sock, const Handoff& h, std::string* error);
// Receives them; the caller owns them. Refuses a message that is not exactly our hello with
// three descriptors (any it did receive are closed). False with `error`.
bool receive_handoff(int sock, Handoff& h, std::string* error);

}  // namespace ringrpc::transport::shm
