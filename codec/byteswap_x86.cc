// SIMD byte-swap kernels. Each function carries its own target attribute, so this file builds
// with the baseline x86-64 flags and the instructions are only executed after byteswap.cc has
// checked the CPU. Loads and stores are unaligned: XDR arrays sit at any 4-byte offset of a
// receive buffer, and vmovdqu on aligned data costs the same as vmovdqa on current cores.
//
// Every kernel processes 4 vectors per iteration (enough independent loads to keep the load
// ports busy; the shuffle itself is free at L2 bandwidth, reference/performance.md section 3),
// then single vectors, then a tail. In-place use (src == dst) is safe: each iteration loads a
// region before storing to the same region.
#include "codec/byteswap.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ringrpc::xdr::internal {

#if defined(__x86_64__)
namespace {

// Per-128-bit-lane shuffle masks: reverse each 4-byte (resp. 8-byte) group.
#define RINGRPC_MASK32 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12
#define RINGRPC_MASK64 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8

// The AVX-512 masks as memory: gcc 12 warns (falsely) inside _mm512_broadcast_i32x4.
alignas(64) constexpr uint8_t kMask32x4[64] = {RINGRPC_MASK32, RINGRPC_MASK32, RINGRPC_MASK32,
                                               RINGRPC_MASK32};
alignas(64) constexpr uint8_t kMask64x4[64] = {RINGRPC_MASK64, RINGRPC_MASK64, RINGRPC_MASK64,
                                               RINGRPC_MASK64};

__attribute__((target("ssse3"))) void ssse3_swap(const uint8_t* s, uint8_t* d, size_t bytes,
                                                 __m128i mask) noexcept {
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm_shuffle_epi8(a, mask));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 16), _mm_shuffle_epi8(b, mask));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 32), _mm_shuffle_epi8(c, mask));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i + 48), _mm_shuffle_epi8(e, mask));
  }
  for (; i + 16 <= bytes; i += 16) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm_shuffle_epi8(a, mask));
  }
}

__attribute__((target("ssse3"))) void ssse3_swap32(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const size_t vec_bytes = (n * 4) & ~size_t{15};
  ssse3_swap(s, d, vec_bytes, _mm_setr_epi8(RINGRPC_MASK32));
  if (vec_bytes != n * 4) scalar_swap32(s + vec_bytes, d + vec_bytes, n - vec_bytes / 4);
}

__attribute__((target("ssse3"))) void ssse3_swap64(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const size_t vec_bytes = (n * 8) & ~size_t{15};
  ssse3_swap(s, d, vec_bytes, _mm_setr_epi8(RINGRPC_MASK64));
  if (vec_bytes != n * 8) scalar_swap64(s + vec_bytes, d + vec_bytes, n - vec_bytes / 8);
}

__attribute__((target("avx2"))) void avx2_swap(const uint8_t* s, uint8_t* d, size_t bytes,
                                               __m256i mask) noexcept {
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 32));
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 64));
    __m256i e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 96));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_shuffle_epi8(a, mask));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i + 32), _mm256_shuffle_epi8(b, mask));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i + 64), _mm256_shuffle_epi8(c, mask));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i + 96), _mm256_shuffle_epi8(e, mask));
  }
  for (; i + 32 <= bytes; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_shuffle_epi8(a, mask));
  }
  if (i + 16 <= bytes) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm_shuffle_epi8(a, _mm256_castsi256_si128(mask)));
  }
}

__attribute__((target("avx2"))) void avx2_swap32(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const size_t vec_bytes = (n * 4) & ~size_t{15};
  avx2_swap(s, d, vec_bytes, _mm256_setr_epi8(RINGRPC_MASK32, RINGRPC_MASK32));
  if (vec_bytes != n * 4) scalar_swap32(s + vec_bytes, d + vec_bytes, n - vec_bytes / 4);
}

__attribute__((target("avx2"))) void avx2_swap64(const void* src, void* dst, size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const size_t vec_bytes = (n * 8) & ~size_t{15};
  avx2_swap(s, d, vec_bytes, _mm256_setr_epi8(RINGRPC_MASK64, RINGRPC_MASK64));
  if (vec_bytes != n * 8) scalar_swap64(s + vec_bytes, d + vec_bytes, n - vec_bytes / 8);
}

// AVX-512 handles the tail with a masked load and store, so no scalar loop runs at all; the
// mask is in units of the item size, which keeps partial items impossible.
template <size_t kItem>
__attribute__((target("avx512f,avx512bw"))) inline void avx512_swap(const void* src, void* dst,
                                                                    size_t n) noexcept {
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const __m512i mask = _mm512_load_si512(kItem == 4 ? kMask32x4 : kMask64x4);
  const size_t bytes = n * kItem;
  size_t i = 0;
  for (; i + 256 <= bytes; i += 256) {
    __m512i a = _mm512_loadu_si512(s + i);
    __m512i b = _mm512_loadu_si512(s + i + 64);
    __m512i c = _mm512_loadu_si512(s + i + 128);
    __m512i e = _mm512_loadu_si512(s + i + 192);
    _mm512_storeu_si512(d + i, _mm512_shuffle_epi8(a, mask));
    _mm512_storeu_si512(d + i + 64, _mm512_shuffle_epi8(b, mask));
    _mm512_storeu_si512(d + i + 128, _mm512_shuffle_epi8(c, mask));
    _mm512_storeu_si512(d + i + 192, _mm512_shuffle_epi8(e, mask));
  }
  for (; i + 64 <= bytes; i += 64) {
    _mm512_storeu_si512(d + i, _mm512_shuffle_epi8(_mm512_loadu_si512(s + i), mask));
  }
  if (i < bytes) {
    const unsigned items = static_cast<unsigned>((bytes - i) / kItem);
    if constexpr (kItem == 4) {
      const __mmask16 k = static_cast<__mmask16>((1u << items) - 1);
      _mm512_mask_storeu_epi32(d + i, k,
                               _mm512_shuffle_epi8(_mm512_maskz_loadu_epi32(k, s + i), mask));
    } else {
      const __mmask8 k = static_cast<__mmask8>((1u << items) - 1);
      _mm512_mask_storeu_epi64(d + i, k,
                               _mm512_shuffle_epi8(_mm512_maskz_loadu_epi64(k, s + i), mask));
    }
  }
}

__attribute__((target("avx512f,avx512bw"))) void avx512_swap32(const void* src, void* dst,
                                                               size_t n) noexcept {
  avx512_swap<4>(src, dst, n);
}

__attribute__((target("avx512f,avx512bw"))) void avx512_swap64(const void* src, void* dst,
                                                               size_t n) noexcept {
  avx512_swap<8>(src, dst, n);
}

}  // namespace

const SwapKernelImpl kSsse3Kernels{SwapKernel::kSsse3, "ssse3", ssse3_swap32, ssse3_swap64};
const SwapKernelImpl kAvx2Kernels{SwapKernel::kAvx2, "avx2", avx2_swap32, avx2_swap64};
const SwapKernelImpl kAvx512Kernels{SwapKernel::kAvx512, "avx512", avx512_swap32, avx512_swap64};

#else

const SwapKernelImpl kSsse3Kernels{SwapKernel::kSsse3, "ssse3", scalar_swap32, scalar_swap64};
const SwapKernelImpl kAvx2Kernels{SwapKernel::kAvx2, "avx2", scalar_swap32, scalar_swap64};
const SwapKernelImpl kAvx512Kernels{SwapKernel::kAvx512, "avx512", scalar_swap32, scalar_swap64};

#endif

}  // namespace ringrpc::xdr::internal
