// A bump allocator for the parts of a decoded message that cannot be views into the receive
// buffer: arrays of numbers in host byte order and the nodes of optional-data lists.
//
// Decoding into an Arena costs a pointer bump per object and nothing to free: reset() drops
// everything at once and keeps the memory, so a connection that decodes messages of similar
// shape allocates nothing in the steady state. Everything the arena hands out must be trivially
// destructible; destructors never run. Growth is bounded by max_bytes (a decoder that hits it
// fails with XdrErrc::kNoSpace), and the bytes asked for are always bounded by bytes received,
// because decoders check counts against the input before allocating.
//
// Threading: one thread at a time; intended to be owned by one connection or one shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace ringrpc {

class Arena {
 public:
  struct Options {
    size_t first_block = 4096;
    size_t max_bytes = 64 << 20;  // hard cap on the memory one arena may hold
  };

  Arena() : Arena(Options{}) {}
  explicit Arena(Options options) noexcept : options_(options) {}
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Memory for `bytes` bytes aligned to `align` (a power of two, at most 64), or nullptr when
  // max_bytes would be exceeded or the system is out of memory.
  void* allocate(size_t bytes, size_t align) noexcept {
    const uintptr_t p = (reinterpret_cast<uintptr_t>(cur_) + (align - 1)) & ~uintptr_t(align - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(end_);
    if (cur_ != nullptr && p <= end && bytes <= end - p) [[likely]] {
      cur_ = reinterpret_cast<char*>(p) + bytes;
      return reinterpret_cast<void*>(p);
    }
    return allocate_slow(bytes, align);
  }

  template <typename T>
  T* allocate_array(size_t n) noexcept {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    if (n > (~size_t{0}) / sizeof(T)) return nullptr;
    return static_cast<T*>(allocate(n * sizeof(T), alignof(T)));
  }

  template <typename T, typename... Args>
  T* make(Args&&... args) noexcept {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    void* p = allocate(sizeof(T), alignof(T));
    return p ? new (p) T(static_cast<Args&&>(args)...) : nullptr;
  }

  // Forgets every allocation. Keeps one block, sized to what the last message used in total, so
  // that the next message of the same shape fits without allocating.
  void reset() noexcept;

  size_t bytes_reserved() const noexcept { return reserved_; }

 private:
  struct Block {
    Block* next;
    size_t size;  // usable bytes after the header
  };
  void* allocate_slow(size_t bytes, size_t align) noexcept;
  Block* new_block(size_t usable) noexcept;

  Options options_;
  Block* head_ = nullptr;  // newest block first
  char* cur_ = nullptr;
  char* end_ = nullptr;
  size_t reserved_ = 0;  // bytes held in blocks
};

}  // namespace ringrpc
