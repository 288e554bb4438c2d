// Pooled, fixed-size message buffers: where encoded messages are written and (from the transport
// layer on) where received bytes land.
//
// A BufferPool hands out Buffers of one size from slabs it allocates on the cold path and never
// returns to the system until it is destroyed, so the steady state allocates nothing. A Buffer is
// a reference-counted handle: a record decoded in place can keep its receive buffer alive while a
// handler runs, without copying. Counts are not atomic (KJ: refcounts inside an event loop need
// not be); a buffer that must cross to another shard is transferred, never shared.
//
// In builds with AddressSanitizer a free buffer is poisoned, so any use after release fails in our
// code instead of silently corrupting the next message (STYLE rule 38).
//
// Threading: a pool and all its Buffers belong to one thread (one shard).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringrpc {

class BufferPool;

namespace internal {
struct BufferSlot {
  uint8_t* data;
  BufferPool* pool;
  BufferSlot* next_free;
  uint32_t refs;
  uint32_t id;  // dense index, usable as an io_uring provided-buffer id
};
}  // namespace internal

// A shared reference to one pooled buffer; the buffer goes back to its pool when the last
// reference is dropped. Value type, but see the pool's threading rule.
class Buffer {
 public:
  Buffer() noexcept = default;
  Buffer(const Buffer& o) noexcept : slot_(o.slot_) {
    if (slot_) ++slot_->refs;
  }
  Buffer(Buffer&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  Buffer& operator=(Buffer o) noexcept {
    std::swap(slot_, o.slot_);
    return *this;
  }
  ~Buffer() { reset(); }

  explicit operator bool() const noexcept { return slot_ != nullptr; }
  uint8_t* data() const noexcept { return slot_->data; }
  size_t capacity() const noexcept;
  uint32_t id() const noexcept { return slot_->id; }
  uint32_t use_count() const noexcept { return slot_ ? slot_->refs : 0; }
  void reset() noexcept;

 private:
  friend class BufferPool;
  explicit Buffer(internal::BufferSlot* s) noexcept : slot_(s) {}
  internal::BufferSlot* slot_ = nullptr;
};

class BufferPool {
 public:
  struct Options {
    size_t buffer_size = 64 * 1024;  // 64 KiB: 4 KiB buffers halve loopback throughput (perf 2.2)
    size_t buffers_per_slab = 16;
    size_t max_buffers = 0;  // 0: grow without limit; else acquire() fails beyond this many
  };

  BufferPool() : BufferPool(Options{}) {}
  explicit BufferPool(Options options);
  // Every Buffer must have been released: destroying a pool with buffers in use is a bug.
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer with one reference, or an empty Buffer when max_buffers are in use or memory for a
  // new slab cannot be had. The contents are whatever the last user left.
  Buffer acquire() noexcept {
    internal::BufferSlot* s = free_;
    if (s == nullptr) [[unlikely]] {
      s = grow();
      if (s == nullptr) return Buffer();
    }
    free_ = s->next_free;
    s->refs = 1;
    ++in_use_;
    unpoison(s);
    return Buffer(s);
  }

  size_t buffer_size() const noexcept { return options_.buffer_size; }
  size_t buffers_allocated() const noexcept { return allocated_; }
  size_t buffers_in_use() const noexcept { return in_use_; }

 private:
  friend class Buffer;
  struct Slab;

  void release(internal::BufferSlot* s) noexcept {
    poison(s);
    s->next_free = free_;
    free_ = s;
    --in_use_;
  }
  internal::BufferSlot* grow() noexcept;
#if defined(RINGRPC_ASAN)
  void poison(internal::BufferSlot* s) noexcept;
  void unpoison(internal::BufferSlot* s) noexcept;
#else
  void poison(internal::BufferSlot*) noexcept {}
  void unpoison(internal::BufferSlot*) noexcept {}
#endif

  Options options_;
  internal::BufferSlot* free_ = nullptr;
  size_t allocated_ = 0;
  size_t in_use_ = 0;
  std::vector<std::unique_ptr<Slab>> slabs_;
};

inline size_t Buffer::capacity() const noexcept { return slot_->pool->buffer_size(); }

inline void Buffer::reset() noexcept {
  if (slot_ != nullptr && --slot_->refs == 0) slot_->pool->release(slot_);
  slot_ = nullptr;
}

}  // namespace ringrpc
