// Every SIMD byte-swap kernel against the scalar reference: all lengths 0..1024, source and
// destination misalignments 0..63, in place and out of place, and no byte written outside the
// destination range (the AVX-512 kernel's masked tail stores are the risk).
#include "codec/byteswap.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace ringrpc::xdr {
namespace {

constexpr size_t kMaxItems = 1024;
constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xA5;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void check_kernel(const SwapKernelImpl& k, size_t item) {
  auto swap = item == 4 ? k.swap32 : k.swap64;
  auto ref = item == 4 ? internal::scalar_swap32 : internal::scalar_swap64;
  const std::vector<uint8_t> input = random_bytes(kMaxItems * item + 128, 42);
  std::vector<uint8_t> expect(kMaxItems * item);
  std::vector<uint8_t> out(kMaxItems * item + 2 * kGuard + 64);
  std::vector<uint8_t> inplace(kMaxItems * item + 64);
  const std::vector<uint8_t> guard(2 * kGuard, kGuardByte);
  for (size_t n = 0; n <= kMaxItems; ++n) {
    for (size_t mis = 0; mis < 64; ++mis) {
      const size_t src_off = mis;
      const size_t dst_off = (mis * 7) % 64;  // independent of the source misalignment
      ref(input.data() + src_off, expect.data(), n);

      const size_t used = kGuard + dst_off + n * item + kGuard;
      std::memset(out.data(), kGuardByte, used);
      uint8_t* dst = out.data() + kGuard + dst_off;
      swap(input.data() + src_off, dst, n);
      ASSERT_EQ(0, std::memcmp(dst, expect.data(), n * item))
          << k.name << " item=" << item << " n=" << n << " src+" << src_off << " dst+" << dst_off;
      ASSERT_EQ(0, std::memcmp(out.data(), guard.data(), kGuard + dst_off))
          << k.name << " wrote before the start, n=" << n;
      ASSERT_EQ(0, std::memcmp(dst + n * item, guard.data(), kGuard))
          << k.name << " wrote past the end, n=" << n;

      if (mis % 8 == 0 || n < 80) {  // in place: same kernel, src == dst
        std::memcpy(inplace.data() + mis, input.data() + src_off, n * item);
        swap(inplace.data() + mis, inplace.data() + mis, n);
        ASSERT_EQ(0, std::memcmp(inplace.data() + mis, expect.data(), n * item))
            << k.name << " in place, item=" << item << " n=" << n << " +" << mis;
      }
    }
  }
}

TEST(ByteswapTest, ScalarReferenceSwaps) {
  const uint8_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t out[8];
  internal::scalar_swap32(in, out, 2);
  EXPECT_EQ(0, std::memcmp(out, "\x04\x03\x02\x01\x08\x07\x06\x05", 8));
  internal::scalar_swap64(in, out, 1);
  EXPECT_EQ(0, std::memcmp(out, "\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(ByteswapTest, EveryKernelMatchesScalar32) {
  for (const SwapKernelImpl& k : available_swap_kernels()) check_kernel(k, 4);
}

TEST(ByteswapTest, EveryKernelMatchesScalar64) {
  for (const SwapKernelImpl& k : available_swap_kernels()) check_kernel(k, 8);
}

TEST(ByteswapTest, DispatchPicksAnAvailableKernel) {
  const SwapKernelImpl& active = active_swap_kernel();
  bool found = false;
  for (const SwapKernelImpl& k : available_swap_kernels()) found |= (k.kind == active.kind);
  EXPECT_TRUE(found);
  // Without an override the widest kernel wins.
  if (std::getenv("RINGRPC_SWAP_KERNEL") == nullptr) {
    EXPECT_EQ(active.kind, available_swap_kernels().back().kind);
  }
  std::printf("kernels:");
  for (const SwapKernelImpl& k : available_swap_kernels()) std::printf(" %s", k.name);
  std::printf("; active: %s\n", active.name);
}

// swap32_n/swap64_n swap short arrays inline (SSE2 plus 64-bit bswap) instead of calling a
// kernel; that path must agree with the reference too, around every size boundary it has.
TEST(ByteswapTest, InlineShortPathMatchesScalar) {
  const std::vector<uint8_t> input = random_bytes(40 * 8 + 16, 9);
  for (size_t item : {4u, 8u}) {
    for (size_t n = 0; n <= 40; ++n) {
      for (size_t mis = 0; mis < 16; ++mis) {
        std::vector<uint8_t> expect(n * item), got(n * item + 16, kGuardByte);
        if (item == 4) {
          internal::scalar_swap32(input.data() + mis, expect.data(), n);
          swap32_n(input.data() + mis, got.data() + 8, n);
        } else {
          internal::scalar_swap64(input.data() + mis, expect.data(), n);
          swap64_n(input.data() + mis, got.data() + 8, n);
        }
        ASSERT_TRUE(std::equal(expect.begin(), expect.end(), got.begin() + 8))
            << "item " << item << " n " << n << " +" << mis;
        for (size_t g = 0; g < 8; ++g) {
          ASSERT_EQ(got[g], kGuardByte);
          ASSERT_EQ(got[8 + n * item + g], kGuardByte);
        }
        std::vector<uint8_t> inplace(input.begin() + static_cast<ptrdiff_t>(mis),
                                     input.begin() + static_cast<ptrdiff_t>(mis + n * item));
        if (item == 4) {
          swap32_n(inplace.data(), inplace.data(), n);
        } else {
          swap64_n(inplace.data(), inplace.data(), n);
        }
        ASSERT_EQ(inplace, expect) << "in place, item " << item << " n " << n;
      }
    }
  }
}

TEST(ByteswapTest, HasZeroByteFindsEveryPosition) {
  for (size_t n = 0; n <= 100; ++n) {
    std::vector<uint8_t> v(n + 16, 0);  // zeros around the range must not count
    for (size_t i = 0; i < n; ++i) v[8 + i] = static_cast<uint8_t>(1 + (i * 37) % 255);
    EXPECT_FALSE(has_zero_byte(v.data() + 8, n)) << n;
    for (size_t z = 0; z < n; ++z) {
      v[8 + z] = 0;
      EXPECT_TRUE(has_zero_byte(v.data() + 8, n)) << n << " at " << z;
      v[8 + z] = 0x80;  // high bit set: the classic false positive of sloppy SWAR tricks
      EXPECT_FALSE(has_zero_byte(v.data() + 8, n)) << n << " at " << z;
      v[8 + z] = static_cast<uint8_t>(1 + (z * 37) % 255);
    }
  }
}

TEST(ByteswapTest, LoadStoreBigEndian) {
  uint8_t b[8];
  store_be32(b, 0x01020304u);
  EXPECT_EQ(0, std::memcmp(b, "\x01\x02\x03\x04", 4));
  EXPECT_EQ(load_be32(b), 0x01020304u);
  store_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(0, std::memcmp(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(load_be64(b), 0x0102030405060708ull);
}

}  // namespace
}  // namespace ringrpc::xdr
