// A message's bytes gathered by reference: the pieces of the receive buffers a large record
// arrived in, each with a reference that keeps its buffer alive, in order. A reader that would
// otherwise copy a record spanning several receive buffers into one contiguous block hands out
// the pieces instead (RecordReader with an owner, legato::MessageReader likewise), and a
// forwarder that sends the bytes on as they are (the Legato proxy) appends them to its output
// by reference: a 1 MiB call crosses the proxy without being copied in user space at all.
//
// Threading: that of the buffers' pool (one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "codec/buffer_pool.h"

namespace ringrpc {

struct BufferPiece {
  std::span<const uint8_t> bytes;
  // The pooled buffer `bytes` lie in; empty when they lie in storage the holder owns (a reader's
  // own buffer for the start of a record it had begun to copy before it switched to pieces).
  Buffer owner;
};

// True when all of `bytes` lie inside `owner` (a held buffer): only such bytes may be kept by
// holding a reference to it.
inline bool lies_in(std::span<const uint8_t> bytes, const Buffer* owner) noexcept {
  return owner != nullptr && *owner && bytes.data() >= owner->data() &&
         bytes.data() + bytes.size() <= owner->data() + owner->capacity();
}

inline size_t total_size(std::span<const BufferPiece> pieces) noexcept {
  size_t n = 0;
  for (const BufferPiece& p : pieces) n += p.bytes.size();
  return n;
}

// Copies the first `n` bytes of `pieces` to `out`; false (nothing meaningful copied) when they
// hold fewer.
inline bool copy_front(std::span<const BufferPiece> pieces, uint8_t* out, size_t n) noexcept {
  for (const BufferPiece& p : pieces) {
    if (n == 0) return true;
    const size_t k = p.bytes.size() < n ? p.bytes.size() : n;
    std::memcpy(out, p.bytes.data(), k);
    out += k;
    n -= k;
  }
  return n == 0;
}

// Drops the first `n` bytes (at most all of them): `pieces` then starts after them.
inline void drop_front(std::span<BufferPiece>& pieces, size_t n) noexcept {
  while (n != 0 && !pieces.empty()) {
    BufferPiece& p = pieces.front();
    if (p.bytes.size() > n) {
      p.bytes = p.bytes.subspan(n);
      return;
    }
    n -= p.bytes.size();
    pieces = pieces.subspan(1);
  }
}

}  // namespace ringrpc
