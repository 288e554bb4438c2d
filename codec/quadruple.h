// The XDR quadruple: a 16-byte IEEE 754 binary128 value (RFC 4506 section 4.8).
//
// Few peers implement it (libtirpc and rpcgen do not), so ringrpc carries it as its exact bit
// pattern, with conversions to the compiler's __float128 where the target has one. Value type.
#pragma once

#include <cstdint>
#include <cstring>

namespace ringrpc::xdr {

struct Quadruple {
  uint64_t hi = 0;  // sign, 15-bit exponent, top 48 fraction bits
  uint64_t lo = 0;  // low 64 fraction bits

  friend bool operator==(const Quadruple&, const Quadruple&) = default;

#if defined(__SIZEOF_FLOAT128__)
  static Quadruple from_float128(__float128 v) noexcept {
    uint64_t w[2];
    std::memcpy(w, &v, 16);  // little-endian targets store the low word first
    return {w[1], w[0]};
  }
  __float128 to_float128() const noexcept {
    uint64_t w[2] = {lo, hi};
    __float128 v;
    std::memcpy(&v, w, 16);
    return v;
  }
  // Exact: every double is representable.
  static Quadruple from_double(double d) noexcept { return from_float128(d); }
  // Rounds to nearest, ties to even.
  double to_double() const noexcept { return static_cast<double>(to_float128()); }
#endif
};

}  // namespace ringrpc::xdr
