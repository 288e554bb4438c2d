#include "codec/byteswap.h"

#include <cstdlib>
#include <cstring>

#if defined(__clang__)
#define RINGRPC_NO_VECTORIZE
#define RINGRPC_NO_VECTORIZE_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define RINGRPC_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#define RINGRPC_NO_VECTORIZE_LOOP
#endif

namespace ringrpc::xdr {
namespace internal {

// Vectorising these would defeat their purpose as the oracle for the SIMD kernels.
RINGRPC_NO_VECTORIZE void scalar_swap32(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  RINGRPC_NO_VECTORIZE_LOOP
  for (size_t i = 0; i < n; ++i) {
    uint32_t v;
    std::memcpy(&v, s + 4 * i, 4);
    v = __builtin_bswap32(v);
    std::memcpy(d + 4 * i, &v, 4);
  }
}

RINGRPC_NO_VECTORIZE void scalar_swap64(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  RINGRPC_NO_VECTORIZE_LOOP
  for (size_t i = 0; i < n; ++i) {
    uint64_t v;
    std::memcpy(&v, s + 8 * i, 8);
    v = __builtin_bswap64(v);
    std::memcpy(d + 8 * i, &v, 8);
  }
}

}  // namespace internal

namespace {

constexpr SwapKernelImpl kScalarKernels{SwapKernel::kScalar, "scalar", internal::scalar_swap32,
                                        internal::scalar_swap64};

struct KernelTable {
  SwapKernelImpl impls[4];
  size_t count = 0;
};

KernelTable detect() noexcept {
  KernelTable t;
  t.impls[t.count++] = kScalarKernels;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("ssse3")) t.impls[t.count++] = internal::kSsse3Kernels;
  if (__builtin_cpu_supports("avx2")) t.impls[t.count++] = internal::kAvx2Kernels;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    t.impls[t.count++] = internal::kAvx512Kernels;
  }
#endif
  return t;
}

const KernelTable& table() noexcept {
  static const KernelTable t = detect();
  return t;
}

const SwapKernelImpl& choose() noexcept {
  const KernelTable& t = table();
  if (const char* want = std::getenv("RINGRPC_SWAP_KERNEL")) {
    for (size_t i = 0; i < t.count; ++i) {
      if (std::strcmp(want, t.impls[i].name) == 0) return t.impls[i];
    }
    // An unknown or unsupported name falls back to the best kernel: a tuning knob must never
    // turn into a crash on a CPU without the named instructions.
  }
  return t.impls[t.count - 1];
}

}  // namespace

std::span<const SwapKernelImpl> available_swap_kernels() noexcept {
  const KernelTable& t = table();
  return {t.impls, t.count};
}

const SwapKernelImpl& active_swap_kernel() noexcept {
  static const SwapKernelImpl& k = choose();
  return k;
}

const SwapKernelImpl* internal::g_active_kernel = &active_swap_kernel();

}  // namespace ringrpc::xdr
