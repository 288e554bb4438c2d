#include "codec/buffer_pool.h"

#include "codec/check.h"
#include "codec/memory.h"

#if defined(RINGRPC_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace ringrpc {

struct BufferPool::Slab {
  uint8_t* memory = nullptr;
  size_t count = 0;  // may be less than buffers_per_slab when max_buffers clamps the last slab
  std::unique_ptr<internal::BufferSlot[]> slots;
  ~Slab() { internal::cold_free(memory); }
};

BufferPool::BufferPool(Options options) : options_(options) {
  RINGRPC_CHECK(options_.buffer_size >= 64 && options_.buffer_size % 64 == 0,
                "buffer_size must be a positive multiple of 64");
  RINGRPC_CHECK(options_.buffers_per_slab > 0, "buffers_per_slab must be positive");
}

BufferPool::~BufferPool() {
  RINGRPC_CHECK(in_use_ == 0, "BufferPool destroyed while buffers are still in use");
  for (auto& slab : slabs_) {
    for (size_t i = 0; i < slab->count; ++i) unpoison(&slab->slots[i]);
  }
}

internal::BufferSlot* BufferPool::grow() noexcept {
  size_t n = options_.buffers_per_slab;
  if (options_.max_buffers != 0) {
    if (allocated_ >= options_.max_buffers) return nullptr;
    n = std::min(n, options_.max_buffers - allocated_);
  }
  auto slab = std::unique_ptr<Slab>(new (std::nothrow) Slab);
  if (!slab) return nullptr;
  // Page alignment lets the transport register slabs with the kernel (fixed buffers) later.
  slab->memory = static_cast<uint8_t*>(internal::cold_alloc(n * options_.buffer_size, 4096));
  slab->slots.reset(new (std::nothrow) internal::BufferSlot[n]);
  if (slab->memory == nullptr || !slab->slots) return nullptr;
  slab->count = n;
  for (size_t i = 0; i < n; ++i) {
    internal::BufferSlot& s = slab->slots[i];
    s.data = slab->memory + i * options_.buffer_size;
    s.pool = this;
    s.refs = 0;
    s.id = static_cast<uint32_t>(allocated_ + i);
    s.next_free = (i + 1 < n) ? &slab->slots[i + 1] : free_;
    poison(&s);
  }
  allocated_ += n;
  internal::BufferSlot* first = &slab->slots[0];
  slabs_.push_back(std::move(slab));
  return first;
}

#if defined(RINGRPC_ASAN)
void BufferPool::poison(internal::BufferSlot* s) noexcept {
  ASAN_POISON_MEMORY_REGION(s->data, options_.buffer_size);
}
void BufferPool::unpoison(internal::BufferSlot* s) noexcept {
  ASAN_UNPOISON_MEMORY_REGION(s->data, options_.buffer_size);
}
#endif

}  // namespace ringrpc
