#include "tests/support/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "codec/memory.h"

namespace {
std::atomic<uint64_t> g_news{0};

void* counted(size_t n) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace ringrpc::testing {

uint64_t allocation_count() noexcept {
  return g_news.load(std::memory_order_relaxed) + internal::cold_alloc_count();
}

}  // namespace ringrpc::testing
