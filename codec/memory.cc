#include "codec/memory.h"

#include <atomic>
#include <cstdlib>

#if defined(RINGRPC_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

namespace ringrpc::internal {
namespace {
std::atomic<uint64_t> g_cold_allocs{0};
}

void* cold_alloc(size_t size, size_t align) noexcept {
  g_cold_allocs.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = align;
#if defined(RINGRPC_WITH_MIMALLOC)
  return mi_malloc_aligned(size, align);
#else
  // aligned_alloc wants a size that is a multiple of the alignment.
  size = (size + align - 1) & ~(align - 1);
  return std::aligned_alloc(align, size);
#endif
}

void cold_free(void* p) noexcept {
#if defined(RINGRPC_WITH_MIMALLOC)
  mi_free(p);
#else
  std::free(p);
#endif
}

uint64_t cold_alloc_count() noexcept { return g_cold_allocs.load(std::memory_order_relaxed); }

}  // namespace ringrpc::internal
