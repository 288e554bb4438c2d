// Unchecked XDR stores for encoders that have already reserved the exact space.
//
// The pattern (rpcgen's XDR_INLINE, taken to whole messages): compute the encoded size of a value
// (xdr_size_* below; cheap, the lengths are known), XdrWriter::reserve() it once, then write every
// item through a local pointer with these helpers: no bounds check per item, and the cursor stays
// in a register instead of being reloaded from the writer after every byte store. When reserve()
// fails (the message crosses a buffer or fragment boundary), fall back to the checked put_* calls.
// ringrpc-gen emits this for every type; hand-written codecs should do the same.
//
// Callers guarantee the space and the declared maxima; these functions check nothing.
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "codec/byteswap.h"

namespace ringrpc::xdr {

// Padding after n bytes of opaque or string data (RFC 4506: items are multiples of 4 bytes).
constexpr size_t pad4(size_t n) noexcept { return (4 - (n & 3)) & 3; }

}  // namespace ringrpc::xdr

namespace ringrpc::xdr::raw {
// Encoded size of opaque<>/string<> data of n bytes, length word included.
constexpr size_t opaque_size(size_t n) noexcept { return 4 + n + pad4(n); }

inline uint8_t* put_u32(uint8_t* p, uint32_t v) noexcept {
  store_be32(p, v);
  return p + 4;
}
inline uint8_t* put_u64(uint8_t* p, uint64_t v) noexcept {
  store_be64(p, v);
  return p + 8;
}
inline uint8_t* put_f32(uint8_t* p, float v) noexcept {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return put_u32(p, u);
}
inline uint8_t* put_f64(uint8_t* p, double v) noexcept {
  uint64_t u;
  std::memcpy(&u, &v, 8);
  return put_u64(p, u);
}
// Length, bytes and zero padding.
inline uint8_t* put_opaque(uint8_t* p, const void* data, size_t n) noexcept {
  const size_t padded = opaque_size(n);
  store_be32(p + padded - 4, 0);  // the padding, before the data overwrites the rest of the word
  store_be32(p, static_cast<uint32_t>(n));
  if (n != 0) std::memcpy(p + 4, data, n);
  return p + padded;
}
inline uint8_t* put_string(uint8_t* p, std::string_view s) noexcept {
  return put_opaque(p, s.data(), s.size());
}
// n numbers of 4 or 8 bytes.
template <typename T>
inline uint8_t* put_array(uint8_t* p, const T* v, size_t n) noexcept {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  if constexpr (sizeof(T) == 4) {
    swap32_n(v, p, n);
  } else {
    swap64_n(v, p, n);
  }
  return p + n * sizeof(T);
}

}  // namespace ringrpc::xdr::raw
