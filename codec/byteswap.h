// Big-endian loads and stores for single XDR items, and byte-swapping kernels for arrays.
//
// Single items are written as an unaligned load plus __builtin_bswap: gcc and clang turn that into
// one movbe/bswap, while the classic `p[0] << 24 | ...` idiom is not recognised inside loops
// (reference/performance.md section 3). Arrays of 32- and 64-bit items go through swap32_n /
// swap64_n, which dispatch once per process to the widest kernel the CPU supports (AVX-512BW,
// AVX2, SSSE3; scalar elsewhere). The scalar kernel stays forever as the reference the SIMD ones
// are tested and fuzzed against.
//
// Threading: every function is thread-safe; the kernel choice is made once, on first use.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringrpc::xdr {

static_assert(std::endian::native == std::endian::little,
              "ringrpc's codec swaps unconditionally; a big-endian port needs a no-swap policy");

inline uint32_t load_be32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t load_be64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void store_be32(uint8_t* p, uint32_t v) noexcept {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void store_be64(uint8_t* p, uint64_t v) noexcept {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

// True when any of the n bytes at p is zero. Word at a time: most strings in RPC messages are
// short names, where a call to memchr costs more than the scan.
inline bool has_zero_byte(const void* p, size_t n) noexcept {
  const auto* b = static_cast<const uint8_t*>(p);
  if (n > 64) return std::memchr(b, 0, n) != nullptr;
  constexpr uint64_t kLow = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto zero_in = [](uint64_t v) { return ((v - kLow) & ~v & kHigh) != 0; };
  if (n >= 8) {
    uint64_t v;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&v, b + i, 8);
      if (zero_in(v)) return true;
    }
    std::memcpy(&v, b + n - 8, 8);  // the tail, overlapping bytes already checked
    return zero_in(v);
  }
  if (n >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, b, 4);
    std::memcpy(&hi, b + n - 4, 4);
    return zero_in((uint64_t{hi} << 32 | lo) | 0);
  }
  for (size_t i = 0; i < n; ++i) {
    if (b[i] == 0) return true;
  }
  return false;
}

enum class SwapKernel : uint8_t { kScalar, kSsse3, kAvx2, kAvx512 };

// A set of kernels for one instruction set. Each copies n items from src to dst reversing the
// byte order of every item. src and dst need no alignment. They may be the same pointer (swap in
// place, e.g. in a receive buffer) but must not otherwise overlap.
struct SwapKernelImpl {
  SwapKernel kind;
  const char* name;  // "scalar", "ssse3", "avx2", "avx512"
  void (*swap32)(const void* src, void* dst, size_t n) noexcept;
  void (*swap64)(const void* src, void* dst, size_t n) noexcept;
};

// The kernels this CPU can run, scalar first. For tests and benchmarks.
std::span<const SwapKernelImpl> available_swap_kernels() noexcept;

// The kernel set swap32_n/swap64_n use: the widest available, unless the environment variable
// RINGRPC_SWAP_KERNEL names another available one (scalar, ssse3, avx2, avx512).
const SwapKernelImpl& active_swap_kernel() noexcept;

namespace internal {
// Set during static initialisation; null only for code that runs before it (other static
// initialisers), which then takes the slow lookup.
extern const SwapKernelImpl* g_active_kernel;
inline const SwapKernelImpl& kernel() noexcept {
  const SwapKernelImpl* k = g_active_kernel;
  return k != nullptr ? *k : active_swap_kernel();
}
// Up to this many bytes an inline swap beats the call into a dispatched SIMD kernel.
inline constexpr size_t kInlineSwapBytes = 64;

// Inline swap for short arrays. On x86-64, SSE2 (always present) swaps 16 bytes at a time: bytes
// within 16-bit lanes by shifts, then 16-bit halves by pshuflw/pshufhw (and 32-bit halves for
// 8-byte items); the few bytes left go through 64-bit bswap. Elsewhere, 64-bit bswap only.
template <size_t kItem>
inline void swap_short(const uint8_t* s, uint8_t* d, size_t n) noexcept {
  const size_t bytes = n * kItem;
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= bytes; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
    v = _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xB1), 0xB1);
    if constexpr (kItem == 8) v = _mm_shuffle_epi32(v, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), v);
  }
#endif
  for (; i + 8 <= bytes; i += 8) {
    uint64_t v;
    std::memcpy(&v, s + i, 8);
    v = __builtin_bswap64(v);
    if constexpr (kItem == 4) v = std::rotl(v, 32);  // bswap64 also swapped the pair
    std::memcpy(d + i, &v, 8);
  }
  if constexpr (kItem == 4) {
    if (i < bytes) {
      uint32_t v;
      std::memcpy(&v, s + i, 4);
      v = __builtin_bswap32(v);
      std::memcpy(d + i, &v, 4);
    }
  }
}
}  // namespace internal

inline void swap32_n(const void* src, void* dst, size_t n) noexcept {
  if (n * 4 <= internal::kInlineSwapBytes) {
    internal::swap_short<4>(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), n);
    return;
  }
  internal::kernel().swap32(src, dst, n);
}
inline void swap64_n(const void* src, void* dst, size_t n) noexcept {
  if (n * 8 <= internal::kInlineSwapBytes) {
    internal::swap_short<8>(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), n);
    return;
  }
  internal::kernel().swap64(src, dst, n);
}

namespace internal {
// The reference kernels, kept out of line and unvectorised so they stay an independent oracle.
void scalar_swap32(const void* src, void* dst, size_t n) noexcept;
void scalar_swap64(const void* src, void* dst, size_t n) noexcept;
// Defined in byteswap_x86.cc; nullptr entries where the target is not x86-64.
extern const SwapKernelImpl kSsse3Kernels;
extern const SwapKernelImpl kAvx2Kernels;
extern const SwapKernelImpl kAvx512Kernels;
}  // namespace internal

}  // namespace ringrpc::xdr
