#include "codec/buffer_pool.h"

#include <gtest/gtest.h>

#include "codec/arena.h"

namespace ringrpc {
namespace {

TEST(BufferPoolTest, BuffersAreReusedAndRefCounted) {
  BufferPool pool(BufferPool::Options{256, 2, 0});
  Buffer a = pool.acquire();
  ASSERT_TRUE(a);
  EXPECT_EQ(a.capacity(), 256u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
  uint8_t* first = a.data();
  {
    Buffer shared = a;
    EXPECT_EQ(a.use_count(), 2u);
  }
  EXPECT_EQ(a.use_count(), 1u);
  a.reset();
  EXPECT_EQ(pool.buffers_in_use(), 0u);
  Buffer b = pool.acquire();
  EXPECT_EQ(b.data(), first);  // LIFO: the warmest buffer comes back first
  Buffer c = pool.acquire();
  Buffer d = pool.acquire();  // a second slab
  EXPECT_EQ(pool.buffers_allocated(), 4u);
  EXPECT_NE(c.id(), d.id());
}

TEST(BufferPoolTest, MaxBuffersIsAHardLimit) {
  BufferPool pool(BufferPool::Options{64, 4, 3});
  Buffer a = pool.acquire(), b = pool.acquire(), c = pool.acquire();
  EXPECT_TRUE(a && b && c);
  EXPECT_FALSE(pool.acquire());
  b.reset();
  EXPECT_TRUE(pool.acquire());
}

TEST(ArenaTest, BumpsAlignsAndResets) {
  Arena arena(Arena::Options{128, 1 << 20});
  auto* a = arena.allocate_array<uint8_t>(3);
  auto* b = arena.allocate_array<uint64_t>(2);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 8, 0u);
  // Spill into more blocks, then reset: one block big enough for all of it remains.
  for (int i = 0; i < 100; ++i) ASSERT_NE(arena.allocate_array<uint32_t>(50), nullptr);
  arena.reset();
  const size_t reserved = arena.bytes_reserved();
  EXPECT_GE(reserved, 100u * 200u);
  for (int i = 0; i < 100; ++i) ASSERT_NE(arena.allocate_array<uint32_t>(50), nullptr);
  EXPECT_EQ(arena.bytes_reserved(), reserved);  // no new block needed the second time
}

TEST(ArenaTest, MaxBytesIsAHardLimit) {
  Arena arena(Arena::Options{64, 1024});
  EXPECT_EQ(arena.allocate(2048, 8), nullptr);
  EXPECT_NE(arena.allocate(512, 8), nullptr);
  EXPECT_EQ(arena.allocate_array<uint64_t>(SIZE_MAX / 4), nullptr);  // overflow-safe
}

}  // namespace
}  // namespace ringrpc
